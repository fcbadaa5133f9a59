#!/usr/bin/env bash
# test.sh -- README command (2): install dependencies, build everything with warnings as
# errors, run every test (ctest), then build again with ASan + UBSan and run the suite there,
# then run each libFuzzer target for a bounded time and cppcheck (scripts/fuzz.sh, cppcheck.sh).
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
fi
# --- fuzzing and static analysis (issue 12): each libFuzzer target for a bounded time (a
# crash, leak or sanitizer report fails), then cppcheck over the C sources.
if [ "${PATRON_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz (libFuzzer, ${PATRON_FUZZ_SECONDS:-15} s a target) =="
  scripts/fuzz.sh -t "${PATRON_FUZZ_SECONDS:-15}"
fi
echo "== static analysis (cppcheck) =="
scripts/cppcheck.sh
echo "test.sh: all tests passed"
