#!/usr/bin/env bash
# test.sh -- README command (2): install dependencies, build everything with warnings as
# errors, run every test (ctest), then build again with ASan + UBSan and run the suite there,
# and once more with TSan for the integration and store tests.
# Exits non-zero on any failure. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
JOBS=$(nproc)

echo "== build (-Wall -Wextra -Werror) =="
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATRON_WERROR=ON >/dev/null
cmake --build build-ci -j"$JOBS"
echo "== tests =="
ctest --test-dir build-ci --output-on-failure -j"$JOBS" --timeout 600

if [ "${PATRON_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (ASan + UBSan) =="
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPATRON_WERROR=ON -DPATRON_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$JOBS"
  echo "== tests under ASan + UBSan =="
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" --timeout 900 -LE no-sanitizer

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
    ctest --test-dir build-tsan --output-on-failure -j"$JOBS" --timeout 900 -LE no-sanitizer \
      -R '^(integration_|test_store)'
  if compgen -G "$TSAN_LOGS/tsan*" >/dev/null; then
    cat "$TSAN_LOGS"/tsan*
    echo "test.sh: ThreadSanitizer reported data races (above)" >&2
    exit 1
  fi
  rm -rf "$TSAN_LOGS"
fi
echo "test.sh: all tests passed"
