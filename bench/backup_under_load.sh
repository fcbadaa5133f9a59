#!/usr/bin/env bash
# backup_under_load.sh -- `patronctl backup DIR` of a NCUST-customer store while patrond serves
# it, and the backup's effect on a reading client's latency (issue 11, Figures: "backup time of
# a 1M-customer store under load and its effect on p99").
# 1. Builds the store once, as bench/startup_ready.sh does (bench/bench_store.inc) (a patrond with store.sync=false:
#    NCUST customer.upsert, ORDERS order.record of LINES lines over PRODUCTS products through
#    bench/ingest_bench, then model.refit of every model), or reuses DATA=<data dir>.
# 2. Starts patrond on it (--no-config, durable store.sync=true, cache.read_cache_mb=0 so every
#    customer.get reads LMDB; models' periodic refits off) and runs one unmeasured backup, whose
#    time sets the window DUR (backup time + 2 * LEAD s) unless DUR is given.
# 3. RUNS times: phase "quiet": the reference rpcbench (../shared/bench) doing customer.get at
#    pipelining 1 over CONNS connections for DUR s, plus the write load (WRITERS connections of
#    ingest_bench order.record, window WINDOW, durable: a light trickle of new orders);
#    phase "backup": the same, with `patronctl backup` started LEAD s into the window.
# 4. Prints one line per run and phase, then medians: backup wall time (fork to exit, and the
#    time patronctl reports), backup bytes, reader p50/p99/p99.9 and req/s per phase, writes/s.
# Every process is bounded by timeout(1) and stopped by PID.
# usage: bench/backup_under_load.sh   (env: NCUST=1000000 ORDERS=2000000 LINES=3 PRODUCTS=100000
#        RUNS=3 CONNS=1 WRITERS=1 WINDOW=4 LEAD=1 DUR=<auto> BUILD=<repo>/build-bench
#        SHARED=<repo>/../shared/bench KEEP=0 DATA=<existing data dir: skip step 1>
#        PATROND_ARGS="--set section.key=value ...")
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
SHARED=${SHARED:-$ROOT/../shared/bench}
NCUST=${NCUST:-1000000}
ORDERS=${ORDERS:-2000000}
LINES=${LINES:-3}
PRODUCTS=${PRODUCTS:-100000}
RUNS=${RUNS:-3}
CONNS=${CONNS:-1}
WRITERS=${WRITERS:-1}
WINDOW=${WINDOW:-4}
LEAD=${LEAD:-1}
DUR=${DUR:-}
KEEP=${KEEP:-0}
WORK_PREFIX=patron-backup
. "$HERE/bench_store.inc"   # binaries, work dir, stop_pid, cleanup, load_bench_store
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
start_patrond() { # ARGS... -> PID; waits for the shop socket
  rm -f "$W/p.sock" "$W/a.sock"
  "$PATROND" --no-config -s "$W/p.sock" -a "$W/a.sock" -d "$DATA" --foreground \
    --set models.clv_refit_interval_s=0 --set models.recs_rebuild_interval_s=0 \
    --set log.level=notice "$@" >>"$W/patrond.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    [ -S "$W/p.sock" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  log "patrond did not start (see $W/patrond.log)"; tail -5 "$W/patrond.log" >&2; exit 1
}

# ---- the reference client, built in the work dir ----
mkdir -p "$W/rpcbench"
cp "$SHARED/rpcbench.c" "$SHARED/Makefile" "$W/rpcbench/" || exit 1
make -s -C "$W/rpcbench" rpcbench >/dev/null || { log "rpcbench build failed"; exit 1; }
RPCBENCH=$W/rpcbench/rpcbench

# ---- 1. the store ----
if [ -z "$DATA" ]; then
  DATA=$W/data
  start_patrond --set store.sync=false
  load_bench_store "$W/p.sock" "$W/a.sock" || exit 1
  stop_pid "$PID"
  PID=
fi
echo "# backup_under_load.sh date=$(date -u +%Y-%m-%dT%H:%M:%SZ) git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "# data: $(du -sh "$DATA/data.mdb" | cut -f1) data.mdb; models: $(ls -l "$DATA/models" 2>/dev/null | awk 'NR > 1 {printf "%s %s, ", $9, $5}')"

# ---- 2. serve it (durable, as shipped), one unmeasured backup: warms the page cache, sets DUR ----
start_patrond --set cache.read_cache_mb=0 ${PATROND_ARGS:-}
CUST=$(printf 'c-%06d' $((NCUST / 2)))
printf '\x91\x81\xabcustomer_id\xa8%s' "$CUST" >"$W/customer_get.mp" # [{customer_id: CUST}]
timeout 10 "$CTL" -s "$W/p.sock" call customer.get "{\"customer_id\":\"$CUST\"}" >/dev/null \
  || { log "customer.get $CUST failed: is the store built with NCUST=$NCUST?"; exit 1; }
do_backup() { # DIR -> "wall_s reported_s bytes files" on stdout
  local b0 b1 out
  rm -rf "$1"
  b0=$(now)
  out=$(timeout 1800 "$CTL" --json backup "$1" --data-dir "$DATA" 2>&1) || { log "backup failed: $out"; return 1; }
  b1=$(now)
  printf '%s\n' "$out" | awk -v wall="$(echo "$b1 - $b0" | bc)" '{
    for (i = 1; i <= NF; i++) { gsub(/[{},"]/, "", $i) }
    for (i = 1; i < NF; i++) { if ($i == "seconds:") s = $(i + 1); if ($i == "bytes:") b = $(i + 1); if ($i == "files:") f = $(i + 1) }
    printf "%.3f %s %s %s\n", wall, s, b, f }'
}
WARMB=$(do_backup "$W/bk") || exit 1
rm -rf "$W/bk"
echo "# warm-up backup (unmeasured): wall_s reported_s bytes files = $WARMB"
if [ -z "$DUR" ]; then
  DUR=$(echo "$WARMB" | awk -v lead="$LEAD" '{d = int($1 + 0.999) + 2 * lead; if (d < 5) d = 5; print d}')
fi
LIMIT=$((DUR + 60))
echo "# window: rpcbench -M customer.get -c $CONNS -P 1 -d $DUR (customer $CUST); writers: ingest_bench -k order -c $WRITERS -W $WINDOW -L $LINES (durable); backup starts ${LEAD} s in"

# ---- 3. RUNS x (quiet, backup) ----
RES=$W/results
: >"$RES"
phase() { # RUN PHASE -> appends "run phase rps p50 p99 p999 errors writes_per_s bk_wall bk_reported bk_bytes bk_files load"
  local k=$1 ph=$2 rp wp bk="- - - -" la out wout
  la=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$WRITERS" -gt 0 ]; then
    timeout "$LIMIT" "$INGEST" -s "$W/p.sock" -k order -C "$NCUST" -L "$LINES" -P "$PRODUCTS" -c "$WRITERS" \
      -W "$WINDOW" -d "$DUR" -w 0 -x "bul$k$ph$$-" -T $((LIMIT - 5)) >"$W/writer.out" 2>&1 &
    wp=$!
  fi
  timeout "$LIMIT" "$RPCBENCH" -s "$W/p.sock" -c "$CONNS" -P 1 -d "$DUR" -T $((LIMIT - 5)) \
    -M customer.get -p "$W/customer_get.mp" >"$W/reader.out" 2>&1 &
  rp=$!
  if [ "$ph" = backup ]; then
    sleep "$LEAD"
    bk=$(do_backup "$W/bk") || exit 1
    rm -rf "$W/bk"
  fi
  wait "$rp" || { log "rpcbench failed:"; cat "$W/reader.out" >&2; exit 1; }
  if [ "$WRITERS" -gt 0 ]; then
    wait "$wp" || { log "ingest_bench failed:"; cat "$W/writer.out" >&2; exit 1; }
    wout=$(sed -n 's/^orders_per_s=\([0-9.]*\).*/\1/p' "$W/writer.out" | tail -1)
  fi
  cat "$W/reader.out" "$W/writer.out" >>"$W/raw.log" 2>/dev/null
  out=$(tail -1 "$W/reader.out")
  printf '%s\n' "$out" | awk -v k="$k" -v ph="$ph" -v w="${wout:--}" -v bk="$bk" -v la="$la" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { printf "%s %s %s %s %s %s %s %s %s %s\n", k, ph, v["rps"], v["p50_us"], v["p99_us"], v["p999_us"], v["errors"], w, bk, la }' >>"$RES"
  tail -1 "$RES" | awk '{printf "run=%s phase=%s rps=%s p50_us=%s p99_us=%s p999_us=%s errors=%s writes_per_s=%s backup_wall_s=%s backup_reported_s=%s backup_bytes=%s backup_files=%s load1=%s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13}'
}
for k in $(seq "$RUNS"); do
  phase "$k" quiet
  phase "$k" backup
done

# ---- 4. medians ----
col() { awk -v ph="$1" -v c="$2" '$2 == ph && $c != "-" {print $c}' "$RES" | median; }
for ph in quiet backup; do
  printf 'median phase=%s rps=%s p50_us=%s p99_us=%s p999_us=%s writes_per_s=%s' "$ph" "$(col $ph 3)" "$(col $ph 4)" \
    "$(col $ph 5)" "$(col $ph 6)" "$(col $ph 8)"
  [ "$ph" = backup ] && printf ' backup_wall_s=%s backup_reported_s=%s backup_bytes=%s' "$(col $ph 9)" "$(col $ph 10)" "$(col $ph 11)"
  printf ' runs=%s\n' "$RUNS"
done
echo "result ncust=$NCUST orders=$ORDERS conns=$CONNS writers=$WRITERS window=$WINDOW dur_s=$DUR nproc=$(nproc)" \
  "backup_wall_s=$(col backup 9) backup_bytes=$(col backup 11)" \
  "p50_us_quiet=$(col quiet 4) p50_us_backup=$(col backup 4) p99_us_quiet=$(col quiet 5) p99_us_backup=$(col backup 5)" \
  "p99_ratio=$(awk -v a="$(col backup 5)" -v b="$(col quiet 5)" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
