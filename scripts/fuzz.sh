#!/usr/bin/env bash
# fuzz.sh -- build the libFuzzer targets (tests/fuzz) with clang and run each one for a
# bounded time or number of runs; exits non-zero if any target finds a crash, a leak, a
# sanitizer report or a timeout (the reproducer is left in build-fuzz/crashes/<target>/).
#   scripts/fuzz.sh                      every target for 10 s (scripts/test.sh, CI)
#   scripts/fuzz.sh -t 60 fuzz_stream    one target for 60 s
#   scripts/fuzz.sh -r 10000000          every target for 10 M executions (docs/BENCHMARKS.md)
#   scripts/fuzz.sh -r 10000000 -t 2700  whichever comes first
# The checked-in seeds (tests/fuzz/corpus/<target>) are read only; what the fuzzer learns
# goes to build-fuzz/corpus/<target>, kept between runs on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=""
RUNS=""
while getopts "t:r:" o; do
  case $o in
    t) SECONDS_EACH=$OPTARG ;;
    r) RUNS=$OPTARG ;;
    *) echo "usage: $0 [-t seconds] [-r runs] [target...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_stream fuzz_decode fuzz_config fuzz_client fuzz_condition)
B=build-fuzz
cmake -S . -B $B -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATRON_FUZZ=ON \
  -DPATRON_TESTS=OFF -DPATRON_WERROR=ON >/dev/null
cmake --build $B -j"${JOBS:-$(nproc)}" --target fuzz_targets >/dev/null
[ -n "$RUNS$SECONDS_EACH" ] || SECONDS_EACH=10
limit=()
[ -z "$RUNS" ] || limit+=(-runs="$RUNS")
[ -z "$SECONDS_EACH" ] || limit+=(-max_total_time="$SECONDS_EACH")
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p $B/corpus/$t $B/crashes/$t
  log=$B/crashes/$t/last.log
  start=$(date +%s)
  if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $B/tests/fuzz/$t "${limit[@]}" \
       -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix=$B/crashes/$t/ $B/corpus/$t tests/fuzz/corpus/$t >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t ok: ${runs:-?} executions in $(( $(date +%s) - start )) s"
  else
    echo "fuzz: $t FAILED (reproducer and log in $B/crashes/$t/):" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$log" >&2 || tail -20 "$log" >&2
    failed=1
  fi
done
exit $failed
