#!/usr/bin/env bash
# startup_ready.sh -- patrond's start-up to READY with NCUST customers and their models in the
# store (issue 11, Figures: target <= 1 s with 1,000,000 customers).
# 1. Builds a store once (a patrond with store.sync=false): NCUST customer.upsert, then ORDERS
#    order.record of LINES lines spread over all customers and PRODUCTS products
#    (bench/ingest_bench), then model.refit of every
#    model (patronctl on the admin socket), so data.mdb and models/ hold them all; stops it.
# 2. Starts patrond on that data directory RUNS times and takes, from the fork, the time to
#    sd_notify READY=1 (a NOTIFY_SOCKET this script listens on, as systemd's Type=notify
#    does) and to the first answered ping on the shop socket (polled after READY); prints
#    each run and the medians. Every start is stopped with SIGTERM before the next.
# usage: bench/startup_ready.sh   (env: NCUST=1000000 ORDERS=2000000 LINES=3 PRODUCTS=100000
#        RUNS=5 BUILD=<repo>/build
#        KEEP=0 DATA=<existing data dir: skip step 1>)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build}
NCUST=${NCUST:-1000000}
ORDERS=${ORDERS:-2000000}
LINES=${LINES:-3}
PRODUCTS=${PRODUCTS:-100000}
RUNS=${RUNS:-5}
KEEP=${KEEP:-0}
WORK_PREFIX=patron-startup
. "$HERE/bench_store.inc"   # binaries, work dir, stop_pid, cleanup, load_bench_store

if [ -z "$DATA" ]; then
  DATA=$W/data
  "$PATROND" --no-config -s "$W/p.sock" -a "$W/a.sock" -d "$DATA" --set store.sync=false \
    --set models.clv_refit_interval_s=0 --set models.recs_rebuild_interval_s=0 \
    --set log.level=notice 2>"$W/build.log" &
  PID=$!
  for _ in $(seq 100); do [ -S "$W/p.sock" ] && break; sleep 0.1; done
  load_bench_store "$W/p.sock" "$W/a.sock" || exit 1
  stop_pid "$PID"
  PID=
fi
echo "# data: $(du -sh "$DATA/data.mdb" | cut -f1) data.mdb; models: $(ls -l "$DATA/models" | awk 'NR > 1 {printf "%s %s, ", $9, $5}')"
echo "# nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# One start: fork -> READY=1 on NOTIFY_SOCKET -> first ping answered. Prints "ready_ms ping_ms rss_kb".
cat >"$W/measure.py" <<'PY'
import os, socket, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from patrontest import Client
patrond, data, w = sys.argv[2], sys.argv[3], sys.argv[4]
ns_path = os.path.join(w, "notify.sock")
if os.path.exists(ns_path):
    os.unlink(ns_path)
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(ns_path)
ns.settimeout(120)
env = dict(os.environ, NOTIFY_SOCKET=ns_path)
sock = os.path.join(w, "p.sock")
args = [patrond, "--no-config", "-s", sock, "-a", os.path.join(w, "a.sock"), "-d", data,
        "--set", "models.clv_refit_interval_s=0", "--set", "models.recs_rebuild_interval_s=0",
        "--set", "log.level=notice"]
err = open(os.path.join(w, "start.log"), "ab")
t0 = time.monotonic()
p = subprocess.Popen(args, env=env, stdout=err, stderr=err)
ready = None
while ready is None:
    msg = ns.recv(4096).decode()
    if "READY=1" in msg.split("\n"):
        ready = time.monotonic() - t0
while True:
    try:
        c = Client(sock)
        c.call("ping")
        c.close()
        break
    except OSError:
        time.sleep(0.001)
pinged = time.monotonic() - t0
with open("/proc/%d/status" % p.pid) as f:
    rss = [l.split()[1] for l in f if l.startswith("VmRSS:")][0]
p.terminate()
p.wait(timeout=60)
print("%.1f %.1f %s" % (ready * 1000, pinged * 1000, rss))
PY
: >"$W/runs"
for i in $(seq "$RUNS"); do
  r=$(timeout 300 /usr/bin/python3 "$W/measure.py" "$ROOT/tests/integration" "$PATROND" "$DATA" "$W") \
    || { log "start $i failed"; tail -5 "$W/start.log" >&2; exit 1; }
  echo "run $i: ready_ms ping_ms rss_kb = $r"
  echo "$r" >>"$W/runs"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "median_ready_ms=$(cut -d' ' -f1 "$W/runs" | median) median_ping_ms=$(cut -d' ' -f2 "$W/runs" | median) median_rss_kb=$(cut -d' ' -f3 "$W/runs" | median) runs=$RUNS ncust=$NCUST orders=$ORDERS lines=$LINES products=$PRODUCTS nproc=$(nproc)"
