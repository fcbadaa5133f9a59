#!/bin/sh
# tests/ctl/import.sh PATROND PATRONCTL -- `patronctl import`: CSV column mapping (Online
# Retail names and our own), multi-line orders grouped by order id, decimal prices to minor
# units by the currency's exponent, bad rows reported with line and field without stopping,
# --max-errors, NDJSON, --json summary, and resuming (a re-run stores nothing twice).
set -u
patrond=$1
ctl=$2
tmp=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
start "$tmp/data"

cat >"$tmp/orders.csv" <<'CSV'
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,"WHITE HANGING HEART, T-LIGHT HOLDER",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom
536367,84879,"ASSORTED ""BIRD"" ORNAMENT",32,2010-12-01 08:34:00,1.69,13047.0,United Kingdom
536368,22960,JAM MAKING SET,6,not a date,4.25,13047.0,United Kingdom
536369,21756,BATH BUILDING BLOCK WORD,3,2010-12-01 08:35:00,5.950,13047.0,United Kingdom
536370,22728,ALARM CLOCK,24,2010-12-01 08:45:00,0.001,12583.0,France
CSV
out=$("$ctl" -s "$tmp/s.sock" import orders "$tmp/orders.csv" --currency GBP --json 2>"$tmp/err")
rc=$?
[ $rc -eq 1 ] && ok "bad rows give exit 1" || fail "exit $rc (want 1)"
echo "$out" | grep -q '"sent":3,' && echo "$out" | grep -q '"created":3,' &&
    echo "$out" | grep -q '"bad_rows":4,' && ok "3 orders stored, 4 bad rows: $out" ||
    fail "summary: $out"
for want in "orders.csv:4: customer_id: empty" "orders.csv:5: quantity: '-1'" \
            "orders.csv:7: ts: 'not a date'" "orders.csv:9: unit_price: '0.001': more decimals"; do
    grep -qF "$want" "$tmp/err" && ok "reported: $want" || fail "not reported: $want"
done
got=$("$ctl" -s "$tmp/s.sock" -c call order.get '{"order_id":"536365"}')
echo "$got" | grep -q '"customer_id":"17850"' && echo "$got" | grep -q '"unit_price":255' &&
    echo "$got" | grep -q '"unit_price":339' && echo "$got" | grep -q '"ts":1291191960' &&
    ok "two rows became one order, 2.55 GBP = 255, 17850.0 = 17850, UTC time" ||
    fail "order 536365: $got"
"$ctl" -s "$tmp/s.sock" -c call order.get '{"order_id":"536369"}' | grep -q '"unit_price":595' &&
    ok "5.950 = 595 (trailing zero beyond the exponent)" || fail "536369 price"

# Resume: the same command again changes nothing (every row idempotent on its key).
out=$("$ctl" --json import orders "$tmp/orders.csv" -s "$tmp/s.sock" --currency GBP 2>/dev/null)
echo "$out" | grep -q '"created":0,' && echo "$out" | grep -q '"unchanged":3,' &&
    ok "re-run: 0 created, 3 unchanged (options after the command too)" || fail "re-run: $out"
"$ctl" -s "$tmp/s.sock" -c stats | grep -q '"orders":3,' && ok "still 3 orders" || fail "count"

# --max-errors stops early.
"$ctl" -s "$tmp/s.sock" import orders "$tmp/orders.csv" --currency GBP --max-errors 1 \
    >/dev/null 2>"$tmp/err2"
grep -q "after more than 1 errors" "$tmp/err2" && ok "--max-errors 1 stops" || fail "max-errors"

# Our own column names, JPY (exponent 0), products and customers, NDJSON.
printf 'order_id,customer_id,ts,currency,product_id,quantity,unit_price,shipping\n' >"$tmp/o2.csv"
printf 'J1,c9,1700000000,JPY,p1,2,1200,500\n' >>"$tmp/o2.csv"
"$ctl" -s "$tmp/s.sock" import orders "$tmp/o2.csv" >/dev/null 2>&1 &&
    "$ctl" -s "$tmp/s.sock" -c call order.get '{"order_id":"J1"}' | grep -q '"unit_price":1200' &&
    ok "JPY 1200 = 1200 minor units, shipping 500" || fail "JPY order"
printf 'product_id,name,category,price,currency,stock\np1,Mug,kitchen,12.50,EUR,5\n' >"$tmp/p.csv"
"$ctl" -s "$tmp/s.sock" import products "$tmp/p.csv" >/dev/null 2>&1 &&
    "$ctl" -s "$tmp/s.sock" -c call product.get '{"product_id":"p1"}' | grep -q '"price":1250' &&
    ok "products: 12.50 EUR = 1250" || fail "product import"
printf '{"customer_id":"c9","email":"a@example.org"}\n\n{"customer_id":""}\n' >"$tmp/c.ndjson"
"$ctl" -s "$tmp/s.sock" import customers "$tmp/c.ndjson" >/dev/null 2>"$tmp/err3"
grep -q 'c.ndjson:3: customer_id' "$tmp/err3" && ok "NDJSON: daemon's error keeps line 3 and field" ||
    fail "ndjson error: $(cat "$tmp/err3")"
"$ctl" -s "$tmp/s.sock" -c call customer.get '{"customer_id":"c9"}' | grep -q a@example.org &&
    ok "NDJSON customer stored" || fail "ndjson customer"
grep -q '^import: ' "$tmp/err3" && ok "plain progress lines when stderr is not a tty" ||
    fail "no progress line"
# Interrupted and resumed: SIGINT mid-import stops cleanly (every answered row stored); the
# same command again stores the rest, and nothing twice.
awk 'BEGIN { print "order_id,customer_id,ts,currency,product_id,quantity,unit_price"
  for (i = 0; i < 6000; i++) printf "r%d,c%d,%d,EUR,p%d,1,1.%02d\n", i, i % 700, 1700000000 + i, i % 50, i % 100 }' \
    >"$tmp/big.csv"
"$ctl" -s "$tmp/s.sock" --json import orders "$tmp/big.csv" --no-progress >"$tmp/first" 2>"$tmp/ierr" &
imp=$!
i=0
while [ "$("$ctl" -s "$tmp/s.sock" -c stats | sed -n 's/.*"orders":\([0-9]*\).*/\1/p')" -lt 300 ] && [ $i -lt 1000 ]; do
    sleep 0.02; i=$((i + 1)); done
kill -INT $imp; wait $imp; rc=$?
first_created=$(sed -n 's/.*"created":\([0-9]*\).*/\1/p' "$tmp/first")
if grep -q '"complete":false' "$tmp/first"; then
    [ $rc -eq 1 ] && grep -q "rerun the same command to resume" "$tmp/ierr" &&
        ok "SIGINT after $first_created orders: exit 1, says how to resume" || fail "interrupt: rc $rc $(cat "$tmp/ierr")"
else
    echo "note: the import finished before SIGINT arrived ($(cat "$tmp/first"))"
fi
out=$("$ctl" -s "$tmp/s.sock" --json import orders "$tmp/big.csv" --no-progress 2>/dev/null)
second_created=$(echo "$out" | sed -n 's/.*"created":\([0-9]*\).*/\1/p')
second_unchanged=$(echo "$out" | sed -n 's/.*"unchanged":\([0-9]*\).*/\1/p')
[ $((first_created + second_created)) -eq 6000 ] && [ "$second_unchanged" -eq "$first_created" ] &&
    ok "resumed: $first_created + $second_created created = 6000, $second_unchanged unchanged" ||
    fail "resume: first $first_created, then $out"
"$ctl" -s "$tmp/s.sock" -c stats | grep -q '"orders":6004,' && ok "6000 + 4 orders stored once each" ||
    fail "count after resume: $("$ctl" -s "$tmp/s.sock" -c stats | grep -o '"orders":[0-9]*')"

# On a terminal: a progress bar redrawn in place (script(1) gives a pty).
if command -v script >/dev/null 2>&1; then
    head -n 2001 "$tmp/big.csv" >"$tmp/tty.csv"
    script -qec "\"$ctl\" -s \"$tmp/s.sock\" import orders \"$tmp/tty.csv\"" /dev/null >"$tmp/tty" 2>&1
    grep -q "$(printf '\r')" "$tmp/tty" && grep -q 'rows/s  ETA' "$tmp/tty" && grep -q '\[##' "$tmp/tty" &&
        ok "terminal: progress bar with rows/s and ETA" || fail "no progress bar: $(head -c 300 "$tmp/tty")"
fi
stop
finish
