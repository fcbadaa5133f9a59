#!/usr/bin/env bash
# bench.sh -- figures of docs/BENCHMARKS.md "Adapters": per-call cost of recs.cart through
# each adapter vs the C client (same daemon, same run, sequential calls on one handle), and
# the added latency of one checkout page with 3 Patron calls (recs.cart, recs.upsell, tier;
# timeout 150 ms, page budget 300 ms) when patrond is up, hung (SIGSTOP) and down (socket
# gone; then the circuit is open).
# Usage: tests/adapters/bench/bench.sh BUILD_DIR [N=2000]
# Owns: one temp patrond (seeded with 300 orders over 40 products), killed by pid at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$(realpath "$1")
n=${2:-2000}
tmp=$(mktemp -d /tmp/patron-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -CONT $pid 2>/dev/null; [ -n "$pid" ] && kill $pid; rm -rf "$tmp"' EXIT
lib=$build/adapters/c/libpatronclient.so
export PATRON_CLIENT_LIB=$lib
sock=$tmp/p.sock
"$build/daemon/patrond" --no-config --socket "$sock" --admin-socket none --data-dir "$tmp/data" \
  --set store.sync=false --foreground 2>"$tmp/log" &
pid=$!
while [ ! -S "$sock" ]; do sleep 0.05; done
ROOT=$root /usr/bin/python3 - "$sock" <<'PY'
import os, random, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "adapters", "python"))
import patron
c = patron.Client(sys.argv[1], 5000)
rnd = random.Random(7)
for i in range(40):
    c.call("product.upsert", {"product_id": "p%d" % i, "name": "P%d" % i, "category": "c%d" % (i % 4),
                              "price": 500 + 100 * i, "currency": "EUR", "stock": 10})
for o in range(300):
    items = rnd.sample(range(40), rnd.randint(1, 4))
    c.call("order.record", {"order_id": "o%d" % o, "customer_id": "c%d" % (o % 60), "ts": 1700000000 + o * 600,
                            "currency": "EUR", "lines": [{"product_id": "p%d" % i, "quantity": 1, "unit_price": 500 + 100 * i} for i in items]})
PY
cc -O2 -o "$tmp/bench_c" "$here/bench_c.c" -I"$root/adapters/c" -L"$(dirname "$lib")" -lpatronclient -Wl,-rpath,"$(dirname "$lib")"
echo "# nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), N=$n recs.cart calls after 200 warm-up"
echo "# adapter median_us p99_us"
"$tmp/bench_c" "$sock" "$n"
/usr/bin/python3 "$here/bench.py" overhead "$sock" "$n"
php -d ffi.enable=1 "$here/bench.php" overhead "$sock" "$n"
node "$here/bench.js" overhead "$sock" "$n"
echo "# one page = 3 calls, timeout 150 ms, budget 300 ms"
for m in up hung down; do
  /usr/bin/python3 "$here/bench.py" page "$sock" $m $pid
  php -d ffi.enable=1 "$here/bench.php" page "$sock" $m $pid
  node "$here/bench.js" page "$sock" $m $pid
done
