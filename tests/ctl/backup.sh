#!/bin/sh
# tests/ctl/backup.sh PATROND PATRONCTL -- `patronctl backup` while patrond serves a write
# load, then `patronctl restore` into a fresh directory and a patrond started on it: every
# order acknowledged before the backup started is there, the manifest verifies with
# sha256sum, a damaged backup and a running daemon on the target are refused.
set -u
patrond=$1
ctl=$2
tmp=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
trap 'kill $writer $bulk 2>/dev/null; cleanup' EXIT
writer= bulk=
start "$tmp/live"
# Orders and models first (so there are model files to copy), then a pipelined bulk import of
# 8,000 more orders keeps the writer busy while the backup runs.
awk 'BEGIN { for (i = 0; i < 8500; i++)
  printf "{\"order_id\":\"bulk-%d\",\"customer_id\":\"b%d\",\"ts\":%d,\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"p%d\",\"quantity\":1,\"unit_price\":100},{\"product_id\":\"p%d\",\"quantity\":2,\"unit_price\":250}]}\n", i, i % 97, 1690000000 + i * 600, i % 13, (i * 7) % 31 }' >"$tmp/all.ndjson"
head -n 500 "$tmp/all.ndjson" >"$tmp/first.ndjson"
tail -n +501 "$tmp/all.ndjson" >"$tmp/bulk.ndjson"
"$ctl" -s "$tmp/s.sock" import orders "$tmp/first.ndjson" --no-progress >/dev/null 2>&1
"$ctl" -s "$tmp/a.sock" -t 30000 call model.refit '{}' >/dev/null 2>&1
"$ctl" -s "$tmp/s.sock" import orders "$tmp/bulk.ndjson" --no-progress >/dev/null 2>&1 &
bulk=$!
# A sequential writer that logs each order once acknowledged.
( n=0; while :; do
    n=$((n + 1))
    "$ctl" -s "$tmp/s.sock" call order.record "{\"order_id\":\"seq-$n\",\"customer_id\":\"c1\",\"ts\":1700000000,\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"p1\",\"quantity\":1,\"unit_price\":100}]}" \
        >/dev/null 2>&1 && echo "seq-$n" >>"$tmp/acked"
  done ) &
writer=$!
while [ "$(cat "$tmp/acked" 2>/dev/null | wc -l)" -lt 20 ]; do sleep 0.05; done
acked_before=$(wc -l <"$tmp/acked")
"$ctl" backup "$tmp/bk" --data-dir "$tmp/live" >"$tmp/bkout" 2>&1 && ok "backup while writing: $(cat "$tmp/bkout")" ||
    fail "backup: $(cat "$tmp/bkout")"
kill $writer; wait $writer 2>/dev/null; writer=
kill -0 $bulk 2>/dev/null && ok "the bulk import was still running when the backup ended" ||
    echo "note: the bulk import finished before the backup ended"
kill -INT $bulk 2>/dev/null; wait $bulk; bulk=   # it has done its job: stop it (resumable)
(cd "$tmp/bk" && sha256sum --quiet -c SHA256SUMS) && ok "SHA256SUMS verifies with sha256sum -c" ||
    fail "sha256sum -c"
ls "$tmp/bk/models/"* >/dev/null 2>&1 && ok "model files copied: $(ls "$tmp/bk/models" | tr '\n' ' ')" ||
    fail "no model files in the backup"

"$ctl" restore "$tmp/bk" --data-dir "$tmp/live" >"$tmp/out" 2>&1
[ $? -ne 0 ] && grep -q "stop patrond first" "$tmp/out" && ok "restore refuses a running daemon's store" ||
    fail "restore onto a live store: $(cat "$tmp/out")"
stop

cp -r "$tmp/bk" "$tmp/bad" && printf 'x' >>"$tmp/bad/data.mdb"
"$ctl" restore "$tmp/bad" --data-dir "$tmp/r0" >"$tmp/out" 2>&1
[ $? -ne 0 ] && grep -q "checksum mismatch" "$tmp/out" && [ ! -e "$tmp/r0/data.mdb" ] &&
    ok "damaged backup refused, nothing written" || fail "damaged: $(cat "$tmp/out")"

"$ctl" restore "$tmp/bk" --data-dir "$tmp/restored" >"$tmp/out" 2>&1 && ok "restore: $(cat "$tmp/out")" ||
    fail "restore: $(cat "$tmp/out")"
start "$tmp/restored"
missing=0
n=1
while [ $n -le "$acked_before" ]; do
    "$ctl" -s "$tmp/s.sock" call order.get "{\"order_id\":\"seq-$n\"}" >/dev/null 2>&1 || missing=$((missing + 1))
    n=$((n + 1))
done
[ $missing -eq 0 ] && ok "all $acked_before orders acknowledged before the backup are restored" ||
    fail "$missing of $acked_before acknowledged orders missing"
"$ctl" -s "$tmp/a.sock" -c call model.status | grep -q '"status":"ready"' &&
    ok "restored models are served" || fail "model.status after restore"
"$ctl" -s "$tmp/s.sock" call order.record '{"order_id":"after","customer_id":"c1","ts":1700000000,"currency":"EUR","lines":[{"product_id":"p1","quantity":1,"unit_price":100}]}' \
    >/dev/null 2>&1 && ok "restored store accepts writes" || fail "write after restore"
stop
finish
