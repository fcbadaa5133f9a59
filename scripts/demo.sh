#!/usr/bin/env bash
# demo.sh -- README command (1): install dependencies, build, start patrond on an embedded
# LMDB data directory, load a demo shop through the client library and print real answers.
# The daemon is stopped at the end unless PATRON_DEMO_KEEP=1 (then it keeps serving on the
# printed socket: try `build/adapters/c/patronctl -s SOCKET stats`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATRON_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

DEMO=${PATRON_DEMO_DIR:-$(mktemp -d /tmp/patron-demo.XXXXXX)}
mkdir -p "$DEMO"
SOCK=$DEMO/patron.sock
rm -rf "$DEMO/data"
build/daemon/patrond --socket "$SOCK" --data-dir "$DEMO/data" --foreground \
  --set log.level=notice >"$DEMO/patrond.log" 2>&1 &
PID=$!
trap '[ "${PATRON_DEMO_KEEP:-0}" = 1 ] || { kill $PID 2>/dev/null; wait $PID 2>/dev/null; }' EXIT
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$DEMO/patrond.log"; exit 1; }
echo "patrond $(build/daemon/patrond --version | cut -d' ' -f2) is serving $SOCK (data: $DEMO/data)"
export PATRON_CLIENT_LIB=$PWD/build/adapters/c/libpatronclient.so
/usr/bin/python3 scripts/demo_shop.py "$SOCK"
echo
echo "$ patronctl report --from 2024-11-23 --to 2025-11-23"
build/adapters/c/patronctl -s "$SOCK" report --from 2024-11-23 --to 2025-11-23
echo
echo "$ patronctl ping"
build/adapters/c/patronctl -s "$SOCK" ping
if [ "${PATRON_DEMO_KEEP:-0}" = 1 ]; then
  echo "patrond keeps running (pid $PID): build/adapters/c/patronctl -s $SOCK stats"
fi
