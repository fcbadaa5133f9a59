# tests/ctl/lib.sh -- shared by the patronctl command tests: a patrond in a temp dir.
# Sourced with $patrond, $ctl and $tmp set. start DATA_DIR; stop; ok/fail counters.
fails=0
pid=
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
: >"$tmp/empty.conf"
start() {  # start DATA_DIR [patrond args...]
    dd=$1; shift
    "$patrond" -c "$tmp/empty.conf" --socket "$tmp/s.sock" --admin-socket "$tmp/a.sock" \
        --data-dir "$dd" --foreground "$@" 2>>"$tmp/log" &
    pid=$!
    i=0
    while ! "$ctl" -s "$tmp/s.sock" -t 200 ping >/dev/null 2>&1 && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i + 1)); done
}
stop() { kill "$pid"; wait "$pid"; rc=$?; pid=; [ $rc -eq 0 ] || fail "patrond exit $rc"; }
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
finish() {
    [ $fails -eq 0 ] || { tail -20 "$tmp/log"; echo "$fails failure(s)"; exit 1; }
    echo "all passed"
}
