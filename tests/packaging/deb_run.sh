#!/bin/sh
# tests/packaging/deb_run.sh OUTDIR PYTHON3 -- unpacks the patron and libpatronclient0 .debs
# deb_build.sh made into one tree (dpkg-deb -x, no install) and runs what is inside: the packaged unit verifies cleanly once its
# /usr/sbin/patrond points into the unpacked tree; the packaged patrond accepts the packaged
# config (--check-config); it serves on a temp socket and the packaged patronctl (through
# the packaged libpatronclient.so.0) gets an answer. No /etc, /run or /var/lib is touched.
set -u
out=$1
py=$2
deb=$out/patron.deb
[ -f "$deb" ] || { echo "FAIL: no $deb (run packaging_deb_build first)"; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

x=$tmp/root
dpkg-deb -x "$deb" "$x" && dpkg-deb -x "$out/libpatronclient0.deb" "$x" ||
    { echo "FAIL: dpkg-deb -x"; exit 1; }
unit=$(find "$x" -name patrond.service)
conf=$x/etc/patron/patrond.conf

grep -qx 'ExecStart=/usr/sbin/patrond --foreground' "$unit" && ok "packaged unit runs /usr/sbin/patrond" ||
    fail "packaged unit ExecStart: $(grep ^ExecStart= "$unit")"
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir "$tmp/unit"
    sed "s|/usr/sbin/patrond|$x/usr/sbin/patrond|g" "$unit" >"$tmp/unit/patrond.service"
    err=$(systemd-analyze verify "$tmp/unit/patrond.service" 2>&1 >/dev/null)
    [ $? -eq 0 ] && [ -z "$err" ] && ok "packaged unit verifies" || fail "packaged unit: $err"
fi

# /run/patron exists only where the package is installed (deb_install checks that case): the
# file is checked with its socket moved into $tmp.
"$x/usr/sbin/patrond" --check-config -c "$conf" --socket "$tmp/check.sock" &&
    ok "packaged patrond --check-config packaged config" ||
    fail "--check-config on the packaged config"

"$x/usr/sbin/patrond" -c "$conf" --socket "$tmp/shop.sock" --admin-socket "$tmp/admin.sock" \
    --data-dir "$tmp/data" \
    --set store.sync=false --foreground 2>"$tmp/log" &
pid=$!
i=0
while [ ! -S "$tmp/shop.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
reply=$(env -u LD_LIBRARY_PATH "$x/usr/bin/patronctl" -s "$tmp/shop.sock" ping 2>&1)
echo "$reply" | grep -q '"pong": *true' && ok "packaged patronctl pings the packaged patrond" ||
    { cat "$tmp/log"; fail "ping: $reply"; }
env -u LD_LIBRARY_PATH ldd "$x/usr/bin/patronctl" | grep -q "=> $x/usr/.*libpatronclient.so.0" &&
    ok "patronctl loads the packaged libpatronclient" || fail "patronctl uses another libpatronclient"
[ -d "$tmp/data" ] && [ "$(stat -c %a "$tmp/data")" = 700 ] && ok "data dir created 0700" ||
    fail "data dir mode $(stat -c %a "$tmp/data" 2>&1)"
kill "$pid" 2>/dev/null
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM exit $rc"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "the packaged files work together"
