#!/usr/bin/env bash
# rpc_vs_redis.sh -- patrond read throughput stated as a ratio to redis-server GET, measured
# with the SAME client (the reference rpcbench from ../shared/bench, built in a temp dir) in
# the same run: per method (ping, customer.get) and pipelining depth (1, 16), 50 connections,
# A B A B ... (redis GET, then patrond), PAIRS pairs, median of the per-pair ratios. Reports
# req/s, p50/p99/p99.9, server CPU us per request (/proc/PID/stat utime+stime deltas) and,
# under valgrind --tool=callgrind, server instructions per request ((Ir(N2)-Ir(N1))/(N2-N1)).
# Servers listen on Unix sockets only, are started here and stopped by PID; every client run
# is bounded by timeout(1).
#
# usage: bench/rpc_vs_redis.sh            (env: DUR=5 WARM=1 PAIRS=3 CONNS=50 DEPTHS="1 16"
#        METHODS="ping customer.get" NCUST=3000 ORDERS_PER_CUST=5 CALLGRIND=1
#        CG_DEPTHS="16 1" CG_N1=10000 CG_N2=30000 BUILD=<repo>/build-bench KEEP=0
#        PATROND_ARGS="--set section.key=value ..." PRELOAD_HOOK=file)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
SHARED=${SHARED:-$ROOT/../shared/bench}
DUR=${DUR:-5}
WARM=${WARM:-1}
PAIRS=${PAIRS:-3}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"1 16"}
METHODS=${METHODS:-"ping customer.get"}
NCUST=${NCUST:-3000}
ORDERS_PER_CUST=${ORDERS_PER_CUST:-5}
CALLGRIND=${CALLGRIND:-1}
CG_DEPTHS=${CG_DEPTHS:-"16 1"}
CG_N1=${CG_N1:-10000}
CG_N2=${CG_N2:-30000}
KEEP=${KEEP:-0}
QUIET_WAIT=${QUIET_WAIT:-10}
CLK_TCK=$(getconf CLK_TCK)
RUN_LIMIT=$((DUR + WARM + 30))

W=$(mktemp -d /tmp/patron-rvr.XXXXXX)
PIDS=()
log() { printf '%s\n' "$*" >&2; }
stop_pid() { # PID: SIGTERM, wait up to 60 s, then SIGKILL
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
}
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  [ "$KEEP" = 1 ] && log "work dir kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_sock() { # PATH PID [tries of 0.1 s]
  for _ in $(seq "${3:-200}"); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; } # utime+stime
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; } # all cores, not idle/iowait
quiet_wait() { # wait up to QUIET_WAIT s until foreign load (all cores busy, 0.5 s sample) < 0.25 cores
  local end=$(( $(date +%s) + QUIET_WAIT )) a b
  while :; do
    a=$(busy_ticks); sleep 0.5; b=$(busy_ticks)
    awk -v d=$((b - a)) -v hz="$CLK_TCK" 'BEGIN {exit !(d / hz / 0.5 < 0.25)}' && return 0
    [ "$(date +%s)" -ge "$end" ] && { log "foreign load still present after ${QUIET_WAIT}s; measuring anyway"; return 0; }
  done
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null ||
    { log "$tool not found: install the benches' packages with scripts/setup-deps.sh --bench"; exit 1; }
done

# ---- build: the daemon + ingest_bench, and the reference rpcbench in a temp dir ----
if [ ! -x "$BUILD/daemon/patrond" ] || [ ! -x "$BUILD/bench/ingest_bench" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$BUILD" -j2 >/dev/null || { log "build failed"; exit 1; }
fi
PATROND=$BUILD/daemon/patrond
INGEST=$BUILD/bench/ingest_bench
mkdir -p "$W/rpcbench"
cp "$SHARED/rpcbench.c" "$SHARED/Makefile" "$W/rpcbench/" || exit 1
make -s -C "$W/rpcbench" rpcbench >/dev/null || { log "rpcbench build failed"; exit 1; }
RPCBENCH=$W/rpcbench/rpcbench

# ---- params files: one msgpack object each, sent as-is ----
printf '\x90' > "$W/ping.mp"                                   # []
CUST=$(printf 'c-%06d' $((NCUST / 2)))
printf '\x91\x81\xabcustomer_id\xa8%s' "$CUST" > "$W/customer_get.mp" # [{customer_id: CUST}]
params_for() { # other methods: $W/<method with dots as underscores>.mp, written by PRELOAD_HOOK
  case $1 in ping) echo "$W/ping.mp" ;; customer.get) echo "$W/customer_get.mp" ;; *) echo "$W/${1//./_}.mp" ;; esac; }

start_redis() { # [valgrind args...] -> sets RPID
  printf 'port 0\nunixsocket %s/redis.sock\nunixsocketperm 700\nsave ""\nappendonly no\nio-threads 1\ndir %s\nlogfile %s/redis.log\n' \
    "$W" "$W" "$W" > "$W/redis.conf"
  rm -f "$W/redis.sock"
  "$@" redis-server "$W/redis.conf" >>"$W/redis.out" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  wait_sock "$W/redis.sock" "$RPID" 600 || { log "redis-server did not start"; exit 1; }
  for _ in $(seq 100); do
    [ "$(redis-cli -s "$W/redis.sock" set key:000000000000 xxx 2>/dev/null)" = OK ] && return 0
    sleep 0.2
  done
  log "redis-server not answering"; exit 1
}
start_patrond() { # [valgrind args...] -> sets PPID_
  rm -f "$W/p.sock"
  "$@" "$PATROND" --no-config --socket "$W/p.sock" --admin-socket "$W/a.sock" --data-dir "$W/data" --foreground \
    --set store.sync=false --set log.level=notice ${PATROND_ARGS:-} >>"$W/patrond.out" 2>&1 &
  PPID_=$!
  PIDS+=("$PPID_")
  wait_sock "$W/p.sock" "$PPID_" 600 || { log "patrond did not start"; exit 1; }
  for _ in $(seq 100); do
    timeout 10 "$RPCBENCH" -s "$W/p.sock" -c 1 -n 1 -M ping -p "$W/ping.mp" -q >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "patrond not answering"; exit 1
}
forget_pid() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; PIDS=("${keep[@]}"); }

echo "# rpc_vs_redis.sh  date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) kernel=$(uname -r)"
echo "# redis: $(redis-server --version | cut -d' ' -f1-3) | patrond: $($PATROND --version 2>&1 | head -1) | git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
echo "# rpcbench -c $CONNS -d $DUR -w $WARM -m batch; pairs=$PAIRS; redis: rpcbench -R 'GET key:000000000000' (3-byte value)"

# ---- preload: NCUST customers (upserted) with ORDERS_PER_CUST orders each (3 lines) ----
mkdir -p "$W/data"
start_patrond
timeout 120 "$INGEST" -s "$W/p.sock" -k customer -c 1 -W 256 -n "$NCUST" -C "$NCUST" -q >/dev/null || { log "preload customers failed"; exit 1; }
timeout 300 "$INGEST" -s "$W/p.sock" -k order -c 8 -W 256 -n $((NCUST * ORDERS_PER_CUST)) -C "$NCUST" -x pre -q >/dev/null || { log "preload orders failed"; exit 1; }
# CLV/segments model over the preloaded orders, so customer.get answers with its analytics
# fields (issue 3); REFIT=0 benchmarks the profile alone.
if [ "${REFIT:-1}" = 1 ]; then
  REFIT_OUT=$(timeout 300 "$BUILD/adapters/c/patronctl" -s "$W/a.sock" -c call model.refit '{"models":["clv"]}' 2>&1)
  echo "# model.refit clv: $REFIT_OUT"
fi
# PRELOAD_HOOK: a file sourced here (after the preload, patrond up on $W/p.sock and $W/a.sock)
# that loads more data and writes params files, e.g. bench/recs_preload.hook for recs.cart.
if [ -n "${PRELOAD_HOOK:-}" ]; then . "$PRELOAD_HOOK"; fi
PROFILE=$(timeout 10 "$BUILD/adapters/c/patronctl" -s "$W/p.sock" -c call customer.get "{\"customer_id\":\"$CUST\"}" 2>&1)
echo "# preloaded $NCUST customers x $ORDERS_PER_CUST orders; customer.get $CUST answers $(printf '%s' "$PROFILE" | wc -c) JSON bytes:"
echo "#   $PROFILE"
start_redis

# ---- throughput / latency / CPU: A B A B ... ----
RES=$W/results.tsv
printf 'method\tdepth\tpair\tserver\trps\tp50_us\tp99_us\tp999_us\tcpu_us_per_req\tserver_cores\tclient_cores\terrors\tloadavg\tother_cores\n' > "$RES"
one_run() { # METHOD DEPTH PAIR SERVER
  local m=$1 d=$2 k=$3 s=$4 pid sock args out t0 t1 c0 c1
  if [ "$s" = redis ]; then pid=$RPID; sock=$W/redis.sock; args=(-R "GET key:000000000000")
  else pid=$PPID_; sock=$W/p.sock; args=(-M "$m" -p "$(params_for "$m")"); fi
  quiet_wait
  local la; la=$(cut -d' ' -f1 /proc/loadavg)
  local b0 b1; b0=$(busy_ticks)
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  out=$(timeout "$RUN_LIMIT" "$RPCBENCH" -s "$sock" -c "$CONNS" -P "$d" -d "$DUR" -w "$WARM" -T $((RUN_LIMIT - 5)) "${args[@]}" 2>&1)
  if ! c1=$(cpu_ticks "$pid" 2>/dev/null); then # the server went away: say how, restart, redo once
    wait "$pid"; log "$s (pid $pid) exited with status $? during $m P=$d pair $k; restarting it (see $W/$s.out)"
    forget_pid "$pid"
    [ "${RETRIED:-0}" = 1 ] && { log "second failure: giving up"; exit 1; }
    if [ "$s" = redis ]; then start_redis; else start_patrond; fi
    RETRIED=1 one_run "$m" "$d" "$k" "$s"; return
  fi
  t1=$(date +%s.%N); b1=$(busy_ticks)
  printf '%s\n' "$out" >> "$W/rpcbench.log"
  local total; total=$(printf '%s\n' "$out" | sed -n 's/^replies=\([0-9]*\).*/\1/p')
  local ccores; ccores=$(printf '%s\n' "$out" | sed -n 's/^client_cpu=\([0-9.]*\).*/\1/p')
  printf '%s\n' "$out" | tail -1 | awk -v m="$m" -v d="$d" -v k="$k" -v s="$s" -v dt=$((c1 - c0)) \
    -v hz="$CLK_TCK" -v n="${total:-0}" -v wall="$(echo "$t1 - $t0" | bc)" -v cc="${ccores:-0}" -v la="$la" -v bd=$((b1 - b0)) '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { other = (wall > 0 ? (bd - dt) / hz / wall - cc : 0); if (other < 0) other = 0
          printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.2f\t%s\t%s\t%s\t%.2f\n", m, d, k, s, v["rps"], v["p50_us"],
          v["p99_us"], v["p999_us"], (n > 0 ? dt * 1e6 / hz / n : 0), (wall > 0 ? dt / hz / wall : 0), cc, v["errors"], la, other }' >> "$RES"
  tail -1 "$RES" >&2
}
for m in $METHODS; do
  for d in $DEPTHS; do
    for k in $(seq "$PAIRS"); do
      one_run "$m" "$d" "$k" redis
      one_run "$m" "$d" "$k" patrond
    done
  done
done

echo
echo "## throughput and latency (median of $PAIRS; ratio = median of per-pair patrond/redis req/s)"
printf '| method | depth | server | req/s | p50 us | p99 us | p99.9 us | server CPU us/req | server cores | ratio to redis GET | errors |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for m in $METHODS; do
  for d in $DEPTHS; do
    for s in redis patrond; do
      col() { awk -F'\t' -v m="$m" -v d="$d" -v s="$s" -v c="$1" 'NR > 1 && $1 == m && $2 == d && $4 == s {print $c}' "$RES" | median; }
      ratio=-
      if [ $s = patrond ]; then
        ratio=$(awk -F'\t' -v m="$m" -v d="$d" 'NR > 1 && $1 == m && $2 == d {r[$3, $4] = $5; p[$3] = 1}
               END {for (k in p) if (r[k, "redis"] > 0) printf "%.3f\n", r[k, "patrond"] / r[k, "redis"]}' "$RES" | median)
        ratio=$(printf '%.2fx' "$ratio")
      fi
      errs=$(awk -F'\t' -v m="$m" -v d="$d" -v s="$s" 'NR > 1 && $1 == m && $2 == d && $4 == s {e += $12} END {print e + 0}' "$RES")
      name=$([ $s = redis ] && echo "redis GET" || echo "patrond $m")
      printf '| %s | %s | %s | %.0f | %s | %s | %s | %.2f | %.2f | %s | %s |\n' "$m" "$d" "$name" "$(col 5)" "$(col 6)" \
        "$(col 7)" "$(col 8)" "$(col 9)" "$(col 10)" "$ratio" "$errs"
    done
  done
done
echo
echo "per-run rows (loadavg: 1-min load before the run; other_cores: CPU used by everything but server and client during it):"
column -t -s $'\t' "$RES"

# ---- instructions per request under callgrind ----
if [ "$CALLGRIND" = 1 ]; then
  stop_pid "$PPID_"; forget_pid "$PPID_"
  stop_pid "$RPID"; forget_pid "$RPID"
  cg_total() { # SERVER METHOD DEPTH N -> total Ir of the server process
    local s=$1 m=$2 d=$3 n=$4 out=$W/cg.$1.$2.$3.$4.out pid sock args
    rm -f "$out"*
    # --separate-threads: count the thread serving requests (thread 1: redis' main thread,
    # patrond's event loop); background threads (model rebuilds, writer) run on their own
    # schedule and would not cancel out between the two runs.
    if [ "$s" = redis ]; then
      start_redis valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out"
      pid=$RPID; sock=$W/redis.sock; args=(-R "GET key:000000000000")
    else
      start_patrond valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out"
      pid=$PPID_; sock=$W/p.sock; args=(-M "$m" -p "$(params_for "$m")")
    fi
    timeout 300 "$RPCBENCH" -s "$sock" -c "$CONNS" -P "$d" -n "$n" -T 280 -q "${args[@]}" >/dev/null 2>>"$W/cg.err" ||
      log "callgrind run $s $m P=$d n=$n had errors"
    # dump the counts now (file $out.1-01 = dump 1, thread 1): a daemon that takes longer
    # than stop_pid's 60 s to shut down under valgrind is killed, and would leave no profile
    callgrind_control -d "$pid" >/dev/null 2>&1
    for _ in $(seq 300); do [ -s "$out.1-01" ] && break; sleep 0.2; done
    stop_pid "$pid"; forget_pid "$pid"
    if [ -s "$out.1-01" ]; then awk '/^totals:/ {print $2}' "$out.1-01"; else awk '/^totals:/ {print $2}' "$out-01"; fi
  }
  echo
  echo "## server instructions per request under callgrind (request-serving thread): (Ir(n=$CG_N2) - Ir(n=$CG_N1)) / $((CG_N2 - CG_N1)), -c $CONNS"
  printf '| depth | server | instructions/request | ratio to redis GET |\n|---|---|---|---|\n'
  for d in $CG_DEPTHS; do
    a=$(cg_total redis GET "$d" "$CG_N1"); b=$(cg_total redis GET "$d" "$CG_N2")
    rir=$(awk -v a="$a" -v b="$b" -v n=$((CG_N2 - CG_N1)) 'BEGIN {printf "%.0f", (b - a) / n}')
    printf '| %s | redis GET | %s | 1.00x |\n' "$d" "$rir"
    for m in $METHODS; do
      a=$(cg_total patrond "$m" "$d" "$CG_N1"); b=$(cg_total patrond "$m" "$d" "$CG_N2")
      pir=$(awk -v a="$a" -v b="$b" -v n=$((CG_N2 - CG_N1)) 'BEGIN {printf "%.0f", (b - a) / n}')
      printf '| %s | patrond %s | %s | %.2fx |\n' "$d" "$m" "$pir" "$(awk -v p="$pir" -v r="$rir" 'BEGIN {print p / r}')"
    done
  done
  [ "$KEEP" = 1 ] && log "callgrind profiles: $W/cg.*.out (callgrind_annotate)"
fi
echo
echo "# command: DUR=$DUR WARM=$WARM PAIRS=$PAIRS CONNS=$CONNS DEPTHS=\"$DEPTHS\" METHODS=\"$METHODS\" CALLGRIND=$CALLGRIND bench/rpc_vs_redis.sh"
