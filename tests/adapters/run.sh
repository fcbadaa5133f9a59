#!/usr/bin/env bash
# run.sh -- integration tests of the client adapters against the REAL patrond.
#
# Usage: tests/adapters/run.sh PATROND LIBPATRONCLIENT [ADAPTER...]
#   PATROND          path to the patrond binary (e.g. build/daemon/patrond)
#   LIBPATRONCLIENT  path to libpatronclient.so (e.g. build/adapters/c/libpatronclient.so)
#   ADAPTER          any of: patronctl python php php-preload node (default: these five),
#                    python-failopen php-failopen node-failopen php-fpm npm-pack pip-install woocommerce medusa
# Env: PATRONCTL (default: patronctl next to the library), PYTHON (default /usr/bin/python3).
#
# Owns: starting one fresh patrond per adapter on a temporary socket and data directory,
# running that adapter's test (which ends by stopping and killing the daemon to check the
# unavailable path), and cleaning up. Invariants: never touches /run or the user's data,
# never reads the host's /etc/patron/patrond.conf (--no-config);
# every daemon it starts is killed by pid; exit 0 only if every selected adapter passed
# (an adapter whose runtime is missing is reported as skipped; exit 77 if all skipped).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -lt 2 ]; then
  sed -n '4,10p' "$0" >&2
  exit 64
fi
patrond=$(realpath "$1")
lib=$(realpath "$2")
shift 2
adapters=("$@")
[ ${#adapters[@]} -eq 0 ] && adapters=(patronctl python php php-preload node)
patronctl=${PATRONCTL:-$(dirname "$lib")/patronctl}
python=${PYTHON:-/usr/bin/python3}
[ -x "$patrond" ] || { echo "run.sh: no patrond at $patrond" >&2; exit 2; }
[ -f "$lib" ] || { echo "run.sh: no library at $lib" >&2; exit 2; }

tmp=$(mktemp -d /tmp/patron-adapters.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

admin_opt=()
if "$patrond" --help 2>&1 | grep -q -- '--admin-socket'; then
  admin_opt=(--admin-socket "$tmp/admin.sock")  # keep the default /run path out of tests
  export PATRON_ADMIN_SOCKET=$tmp/admin.sock     # tests set loyalty programs and offers there
fi

start_daemon() { # $1 = name
  local dir="$tmp/$1"
  mkdir -p "$dir/data"
  export PATRON_SOCKET="$dir/patron.sock"
  "$patrond" --no-config --socket "$PATRON_SOCKET" --data-dir "$dir/data" --foreground "${admin_opt[@]}" \
    >"$dir/patrond.log" 2>&1 &
  pid=$!
  disown "$pid"  # killed on purpose by the tests: no job-status noise
  export PATRON_TEST_PID=$pid
  for _ in $(seq 1 100); do
    [ -S "$PATRON_SOCKET" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: patrond did not start; its log:" >&2
  cat "$dir/patrond.log" >&2
  return 1
}

stop_daemon() {
  if [ -n "$pid" ]; then
    kill -CONT "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
    pid=
  fi
}

export PATRON_CLIENT_LIB="$lib"
export PATRON_DAEMON="$patrond"  # tests that need a second daemon of their own (medusa's backfill)
npass=0; nfail=0; nskip=0
for a in "${adapters[@]}"; do
  cmd=()
  case "$a" in
    patronctl) cmd=(bash "$here/patronctl_test.sh" "$patronctl") ;;
    python) cmd=("$python" "$here/adapter_test.py") ;;
    python-failopen) cmd=("$python" "$here/failopen_test.py") ;;
    php-fpm) cmd=(bash "$here/fpm_test.sh") ;;
    woocommerce) cmd=(bash "$here/woocommerce_test.sh") ;;
    medusa) cmd=(bash "$here/medusa/medusa_test.sh") ;;
    npm-pack) cmd=(bash "$here/npm_pack_test.sh") ;;
    pip-install) cmd=(bash "$here/pip_install_test.sh") ;;
    php|php-preload|php-failopen)
      if ! command -v php >/dev/null; then echo "skip $a: php not installed"; nskip=$((nskip+1)); continue; fi
      if [ "$a" = php ]; then
        cmd=(php -d ffi.enable=1 "$here/adapter_test.php")
      elif [ "$a" = php-failopen ]; then
        cmd=(php -d ffi.enable=1 "$here/failopen_test.php")
      else
        # The PHP-FPM way with the SHIPPED files: the scope comes from ffi.preload of
        # adapters/php/patron_ffi.h (FFI_LIB is the SONAME, found here through
        # LD_LIBRARY_PATH as the installed one is through the loader's path), the class
        # from opcache.preload, ffi.enable stays at its default "preload".
        cmd=(env "LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
             php -d ffi.enable=preload -d "ffi.preload=$root/adapters/php/patron_ffi.h" -d opcache.enable=1
             -d opcache.enable_cli=1 -d "opcache.preload=$root/adapters/php/preload.php"
             -d "opcache.preload_user=$(id -un)" "$here/adapter_test.php" --expect-preload)
      fi ;;
    node|node-failopen)
      if ! command -v node >/dev/null; then echo "skip node: node not installed"; nskip=$((nskip+1)); continue; fi
      if [ ! -d "$root/adapters/node/node_modules/koffi" ]; then
        (cd "$root/adapters/node" && timeout 300 npm ci --no-audit --no-fund >/dev/null 2>&1) ||
          { echo "skip node: koffi not installed (npm ci failed in adapters/node)"; nskip=$((nskip+1)); continue; }
      fi
      cmd=(node "$here/adapter_test.js")
      [ "$a" = node-failopen ] && cmd=(node "$here/failopen_test.js") ;;
    *) echo "run.sh: unknown adapter '$a'" >&2; exit 64 ;;
  esac
  echo "== $a"
  if ! start_daemon "$a"; then nfail=$((nfail+1)); stop_daemon; continue; fi
  if "${cmd[@]}"; then npass=$((npass+1)); else nfail=$((nfail+1)); echo "FAIL: $a (patrond log: below)"; cat "$tmp/$a/patrond.log"; fi
  stop_daemon
done
echo "adapters: $npass passed, $nfail failed, $nskip skipped"
[ $nfail -gt 0 ] && exit 1
[ $npass -eq 0 ] && exit 77
exit 0
