#!/usr/bin/env bash
# ingest.sh -- durable order.record ingest (store.sync=true, the default): runs ingest_bench
# against a fresh patrond for each (connections x window) configuration, RUNS times, and
# prints the medians of acknowledged orders/s, p50/p99/p99.9 acknowledgement latency and
# group commits (write batches = durable syncs) per second, plus the server CPU per order.
# patrond is started here on a Unix socket in a temp dir and stopped by PID; every run is
# bounded by timeout(1) and ingest_bench's own hard limit.
#
# usage: bench/ingest.sh        (env: CONFIGS="16x64 50x16 4x256" RUNS=3 DUR=5 WARM=1 LINES=3
#        CUSTOMERS=10000 BUILD=<repo>/build-bench KEEP=0 STRACE=0)
# STRACE=1 adds one extra run under strace -f -c to count the fsync/fdatasync/msync calls
# behind each group commit (slows the daemon; its throughput is not reported).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
CONFIGS=${CONFIGS:-"16x64 50x16 4x256"}
RUNS=${RUNS:-3}
DUR=${DUR:-5}
WARM=${WARM:-1}
LINES=${LINES:-3}
CUSTOMERS=${CUSTOMERS:-10000}
KEEP=${KEEP:-0}
STRACE=${STRACE:-0}
CLK_TCK=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/patron-ingest.XXXXXX)
PID=
log() { printf '%s\n' "$*" >&2; }
stop_pid() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
}
cleanup() { [ -n "$PID" ] && stop_pid "$PID"; [ "$KEEP" = 1 ] && log "kept $W" || rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

if [ ! -x "$BUILD/daemon/patrond" ] || [ ! -x "$BUILD/bench/ingest_bench" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$BUILD" -j2 >/dev/null || { log "build failed"; exit 1; }
fi
INGEST=$BUILD/bench/ingest_bench

start_patrond() { # fresh data dir each time: every run starts from the same state
  rm -rf "$W/data" "$W/p.sock"; mkdir -p "$W/data"
  "$@" "$BUILD/daemon/patrond" --no-config --socket "$W/p.sock" --admin-socket none --data-dir "$W/data" \
    --foreground --set log.level=notice >>"$W/patrond.out" 2>&1 &
  PID=$!
  for _ in $(seq 300); do [ -S "$W/p.sock" ] && return 0; kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  log "patrond did not start: $(tail -3 "$W/patrond.out")"; exit 1
}

echo "# ingest.sh  date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
echo "# data dir on: $(df -T "$W" | awk 'NR == 2 {print $1, $2}'); store.sync=true (default); $LINES lines/order; $CUSTOMERS customers"
RES=$W/results.tsv
printf 'config\trun\torders_per_s\tp50_us\tp99_us\tp999_us\tcommits_per_s\torders_per_commit\tserver_cpu_us_per_order\terrors\n' > "$RES"
for cfg in $CONFIGS; do
  c=${cfg%x*}; win=${cfg#*x}
  for k in $(seq "$RUNS"); do
    start_patrond
    c0=$(cpu_ticks "$PID")
    out=$(timeout $((DUR + WARM + 60)) "$INGEST" -s "$W/p.sock" -c "$c" -W "$win" -d "$DUR" -w "$WARM" \
          -L "$LINES" -C "$CUSTOMERS" -T $((DUR + WARM + 50)) 2>&1)
    c1=$(cpu_ticks "$PID")
    printf '%s\n' "$out" >> "$W/ingest.log"
    acked=$(printf '%s\n' "$out" | sed -n 's/^acked=\([0-9]*\).*/\1/p')
    printf '%s\n' "$out" | tail -1 | awk -v cfg="$cfg" -v k="$k" -v dt=$((c1 - c0)) -v hz="$CLK_TCK" -v n="${acked:-0}" '
      { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\n", cfg, k, v["orders_per_s"], v["p50_us"], v["p99_us"],
            v["p999_us"], v["fsyncs_per_s"], v["writes_per_batch"], (n > 0 ? dt * 1e6 / hz / n : 0), v["errors"] }' >> "$RES"
    tail -1 "$RES" >&2
    stop_pid "$PID"; PID=
  done
done

echo
echo "## durable order.record ingest ($LINES lines/order), median of $RUNS runs of ${DUR} s (+${WARM} s warm-up)"
printf '| conns x window | orders/s | p50 us | p99 us | p99.9 us | commits (fsync batches)/s | orders/commit | server CPU us/order | errors |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for cfg in $CONFIGS; do
  col() { awk -F'\t' -v c="$cfg" -v i="$1" 'NR > 1 && $1 == c {print $i}' "$RES" | median; }
  errs=$(awk -F'\t' -v c="$cfg" 'NR > 1 && $1 == c {e += $10} END {print e + 0}' "$RES")
  printf '| %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s |\n' "$cfg" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" \
    "$(col 7)" "$(col 8)" "$(col 9)" "$errs"
done
echo
column -t -s $'\t' "$RES"

if [ "$STRACE" = 1 ]; then
  cfg=${CONFIGS%% *}; c=${cfg%x*}; win=${cfg#*x}
  start_patrond strace -f -c -e trace=fsync,fdatasync,msync,pwrite64,pwritev,write -o "$W/strace.txt"
  out=$(timeout 120 "$INGEST" -s "$W/p.sock" -c "$c" -W "$win" -d 3 -w 0 -L "$LINES" -C "$CUSTOMERS" -T 100 2>&1)
  # stop patrond (strace's child) so strace prints its summary, then strace itself
  for child in $(cat "/proc/$PID/task/$PID/children" 2>/dev/null); do kill -TERM "$child"; done
  for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$PID"; PID=
  echo
  echo "## sync calls per group commit under strace ($cfg, 3 s; throughput under strace not comparable)"
  printf '%s\n' "$out" | grep '^daemon:'
  sed -n '1,20p' "$W/strace.txt"
fi
echo
echo "# command: CONFIGS=\"$CONFIGS\" RUNS=$RUNS DUR=$DUR WARM=$WARM LINES=$LINES bench/ingest.sh"
