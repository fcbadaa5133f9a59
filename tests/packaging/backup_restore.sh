#!/bin/sh
# tests/packaging/backup_restore.sh PATROND PATRONCTL -- the backup procedure of
# docs/OPERATIONS.md section 9: "mdb_copy -c" of the data directory while patrond serves and
# writes gives a consistent snapshot; a patrond started on the copy (data.mdb only, no
# lock.mdb) answers with exactly what was committed before the copy. Temp dirs only.
set -u
patrond=$1
ctl=$2
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
: >"$tmp/empty.conf"

start() {  # start DATA_DIR
    "$patrond" -c "$tmp/empty.conf" --socket "$tmp/s.sock" --admin-socket none --data-dir "$1" \
        --foreground 2>>"$tmp/log" &
    pid=$!
    i=0
    while ! "$ctl" -s "$tmp/s.sock" -t 200 ping >/dev/null 2>&1 && [ $i -lt 100 ]; do
        sleep 0.05; i=$((i + 1)); done
}
stop() { kill "$pid"; wait "$pid"; rc=$?; pid=; [ $rc -eq 0 ] || fail "patrond exit $rc"; }
order() {
    "$ctl" -s "$tmp/s.sock" call order.record "{\"order_id\":\"$1\",\"customer_id\":\"c1\",\"ts\":1700000000,\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"p1\",\"quantity\":2,\"unit_price\":1250}]}" >/dev/null 2>&1
}

start "$tmp/live"
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do order "before-$i" && n=$((n + 1)); done
[ $n -eq 10 ] && ok "10 orders acknowledged" || fail "only $n orders acknowledged"
# Keep writing while the copy runs.
( for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do order "during-$i"; done ) &
writer=$!
mkdir "$tmp/backup"
mdb_copy -c "$tmp/live" "$tmp/backup" && ok "mdb_copy -c while serving" || fail "mdb_copy failed"
wait $writer
stop

mkdir "$tmp/restored"
chmod 0700 "$tmp/restored"
cp "$tmp/backup/data.mdb" "$tmp/restored/data.mdb"
start "$tmp/restored"
"$ctl" -s "$tmp/s.sock" call order.get '{"order_id":"before-10"}' 2>&1 | grep -q '"order_id": *"before-10"' &&
    ok "restored store has the orders committed before the copy" || fail "before-10 missing after restore"
got=$("$ctl" -s "$tmp/s.sock" -c stats | sed -n 's/.*"orders":\([0-9]*\).*/\1/p')
[ -n "$got" ] && [ "$got" -ge 10 ] && [ "$got" -le 30 ] && ok "restored order count $got (10 before + part of 20 during)" ||
    fail "restored order count '$got'"
order "after-restore" && ok "restored store accepts writes" || fail "write after restore"
stop

[ $fails -eq 0 ] || { cat "$tmp/log"; echo "$fails failure(s)"; exit 1; }
echo "hot backup and restore work"
