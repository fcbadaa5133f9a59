#!/usr/bin/env bash
# loyalty_reeval.sh -- a program change re-evaluating N members through patrond (store.sync =
# true): sets a program, makes N members (one order each, ingest_bench), then changes the
# tier thresholds and times loyalty.program.set's answer and the background re-evaluation
# until the log says "loyalty re-evaluation done"; meanwhile a reader asks loyalty.tier in a
# loop, and its slowest answer is reported (reads are not paused). Stops what it started.
# usage: bench/loyalty_reeval.sh   (env: BUILD=<repo>/build-bench N=200000)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
N=${N:-200000}
LOG_LEVEL=notice . "$HERE/loyalty_daemon.inc"
prog() { printf '{"tiers":[{"name":"silver","entry_threshold":%s},{"name":"gold","entry_threshold":%s}],"earn":[{"currency":"EUR","points":1,"per_minor":100}]}' "$1" "$2"; }
timeout 30 "$CTL" -s "$W/a.sock" -c call loyalty.program.set "$(prog 100 300)" >/dev/null || { echo "program.set failed" >&2; exit 1; }
timeout 600 "$BUILD/bench/ingest_bench" -s "$W/p.sock" -k order -c 8 -W 256 -n "$N" -C "$N" -x re -q >/dev/null || { echo "preload failed" >&2; exit 1; }
echo "# loyalty_reeval.sh date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) loadavg=$(cut -d' ' -f1-3 /proc/loadavg) members=$N git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
PYTHONPATH="$ROOT/tests/integration" timeout 900 /usr/bin/python3 - "$W" "$(prog 50 150)" <<'PY'
import json, sys, time
from patrontest import Client
w, prog = sys.argv[1], json.loads(sys.argv[2])
a, r = Client(w + "/a.sock", timeout=600), Client(w + "/p.sock", timeout=60)
log = lambda: open(w + "/patrond.out").read().count("loyalty re-evaluation done")
before = log()
t0 = time.monotonic()
a.call("loyalty.program.set", prog)
t1 = time.monotonic()
worst, reads = 0.0, 0
while log() == before:
    s = time.monotonic()
    r.call("loyalty.tier", {"customer_id": "c-%06d" % (reads * 7919 % 1000)})
    worst = max(worst, time.monotonic() - s)
    reads += 1
t2 = time.monotonic()
print("program.set answered in %.2f s; re-evaluation done %.2f s after it (%.2f s in all); "
      "%d loyalty.tier reads meanwhile, slowest %.1f ms"
      % (t1 - t0, t2 - t1, t2 - t0, reads, worst * 1000))
PY
echo "# command: N=$N bench/loyalty_reeval.sh"
