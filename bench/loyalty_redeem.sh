#!/usr/bin/env bash
# loyalty_redeem.sh -- durable loyalty.redeem throughput and acknowledgement latency through
# patrond (store.sync=true: every group commit is fsynced before any answer): sets a program,
# gives NCUST customers points with ORDERS orders each, then ingest_bench -k redeem (1 point,
# unique redemption ids, CONNS connections x WINDOW in flight) for DUR s; prints its report
# (acked/s, p50/p99 ack latency, commits/s) and nproc / load. Stops what it started by PID.
# usage: bench/loyalty_redeem.sh   (env: BUILD=<repo>/build-bench DUR=5 CONNS=16 WINDOW=64 NCUST=3000 ORDERS=3)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
DUR=${DUR:-5} CONNS=${CONNS:-16} WINDOW=${WINDOW:-64} NCUST=${NCUST:-3000} ORDERS=${ORDERS:-3}
LOG_LEVEL=warning . "$HERE/loyalty_daemon.inc"
timeout 30 "$CTL" -s "$W/a.sock" -c call loyalty.program.set \
  '{"earn":[{"currency":"EUR","points":1,"per_minor":100}],"redeem":[{"currency":"EUR","points":100,"per_minor":500}]}' >/dev/null ||
  { echo "loyalty.program.set failed" >&2; exit 1; }
timeout 300 "$BUILD/bench/ingest_bench" -s "$W/p.sock" -k order -c 8 -W 256 -n $((NCUST * ORDERS)) -C "$NCUST" -x loy -q ||
  { echo "preload failed" >&2; exit 1; }
echo "# loyalty_redeem.sh date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) loadavg=$(cut -d' ' -f1-3 /proc/loadavg) git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
timeout $((DUR + 60)) "$BUILD/bench/ingest_bench" -s "$W/p.sock" -k redeem -c "$CONNS" -W "$WINDOW" -d "$DUR" -C "$NCUST" -x bench
echo "# loyalty.check: $(timeout 60 "$CTL" -s "$W/a.sock" -c call loyalty.check '{}' 2>&1 | head -c 200)"
echo "# command: DUR=$DUR CONNS=$CONNS WINDOW=$WINDOW NCUST=$NCUST ORDERS=$ORDERS bench/loyalty_redeem.sh"
