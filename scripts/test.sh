#!/usr/bin/env bash
# test.sh -- README command (2): install dependencies, build everything with warnings as
# errors, run every test (ctest), then build again with ASan + UBSan and run the suite there,
# once more with TSan for the integration and store tests, then each libFuzzer target for a
# bounded time and cppcheck (scripts/fuzz.sh, scripts/cppcheck.sh).
# Exits non-zero on any failure. CI runs exactly this (.ci/run).
# Tests labelled `shared-data` read ../shared/data and exit 77 (ctest: skipped) without it;
# with CI=true a skipped shared-data test fails the run (CI must have the data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
# The Node adapter's packages (koffi; typescript for the types check), from its lockfile,
# once, before any test uses them (tests running in parallel must not race on npm ci).
if [ ! -x adapters/node/node_modules/.bin/tsc ] || [ ! -d adapters/node/node_modules/koffi ]; then
  (cd adapters/node && npm ci --no-audit --no-fund)
fi
JOBS=${JOBS:-$(nproc)}

echo "== build (-Wall -Wextra -Werror) =="
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATRON_WERROR=ON >/dev/null
cmake --build build-ci -j"$JOBS"
# run_ctest BUILD_DIR CTEST_ARGS...: ctest, then (CI=true) fail if a shared-data test skipped.
run_ctest() {
  local dir=$1 log rc=0
  shift
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 | tee "$log" || rc=$?
  [ "$rc" -eq 0 ] || { rm -f "$log"; return "$rc"; }
  local shared skipped missing
  shared=$(ctest --test-dir "$dir" -N -L shared-data | sed -n 's/^ *Test *#[0-9]*: //p')
  skipped=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
  rm -f "$log"
  missing=$(comm -12 <(printf '%s\n' "$shared" | sort) <(printf '%s\n' "$skipped" | sort) | sed '/^$/d')
  if [ -n "$missing" ]; then
    echo "test.sh: shared-data tests skipped (reference data absent: PATRON_SHARED_DATA):" >&2
    printf '  %s\n' $missing >&2
    if [ "${CI:-}" = "true" ]; then
      echo "test.sh: CI=true needs ../shared/data: a skipped shared-data test is a failure" >&2
      return 1
    fi
  fi
}

echo "== tests =="
run_ctest build-ci -j"$JOBS" --timeout 600

if [ "${PATRON_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (ASan + UBSan) =="
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPATRON_WERROR=ON -DPATRON_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$JOBS"
  echo "== tests under ASan + UBSan =="
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest build-asan -j"$JOBS" --timeout 900 -LE no-sanitizer

  # ThreadSanitizer over what runs several threads: the integration tests (the real patrond:
  # loop, writer, worker, SIGHUP reloads) and the store tests (read-txn pool across threads,
  # savepoint batches). The FFI adapter tests are excepted as with ASan (no-sanitizer).
  # Reports go to files (patrond's stderr is a test's temp log), and any report fails.
  echo "== build (TSan) =="
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DPATRON_WERROR=ON -DPATRON_TSAN=ON >/dev/null
  cmake --build build-tsan -j"$JOBS"
  echo "== integration and store tests under TSan =="
  TSAN_LOGS=$(mktemp -d)
  PATRON_TEST_SLOWDOWN=5 TSAN_OPTIONS="log_path=$TSAN_LOGS/tsan second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp" \
    run_ctest build-tsan -j"$JOBS" --timeout 900 -LE no-sanitizer \
      -R '^(integration_|test_store)'
  if compgen -G "$TSAN_LOGS/tsan*" >/dev/null; then
    cat "$TSAN_LOGS"/tsan*
    echo "test.sh: ThreadSanitizer reported data races (above)" >&2
    exit 1
  fi
  rm -rf "$TSAN_LOGS"
fi
# --- fuzzing and static analysis (issue 12): each libFuzzer target for a bounded time (a
# crash, leak or sanitizer report fails), then cppcheck over the C sources.
if [ "${PATRON_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz (libFuzzer, ${PATRON_FUZZ_SECONDS:-10} s a target) =="
  JOBS=$JOBS scripts/fuzz.sh -t "${PATRON_FUZZ_SECONDS:-10}"
fi
echo "== static analysis (cppcheck) =="
JOBS=$JOBS scripts/cppcheck.sh
echo "test.sh: all tests passed"
