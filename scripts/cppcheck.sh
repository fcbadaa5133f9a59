#!/usr/bin/env bash
# cppcheck.sh -- static analysis of the C sources (src/ protocol/ daemon/ adapters/c) with
# the checked-in configuration in .cppcheck/ (suppressions list, library macros). Checks
# warning, portability and performance; fails on any finding. A finding is fixed, or
# justified in place with "/* cppcheck-suppress <id> ; reason */" on the line above.
#   scripts/cppcheck.sh            (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null || { echo "cppcheck.sh: install cppcheck (scripts/setup-deps.sh)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cppcheck --enable=warning,portability,performance --std=c11 --inline-suppr --quiet \
  -j"${JOBS:-$(nproc)}" -D_GNU_SOURCE -Isrc -Iprotocol -Idaemon -Iadapters/c \
  --library=.cppcheck/jansson.cfg --suppressions-list=.cppcheck/suppressions.txt \
  --error-exitcode=1 --template='{file}:{line}: {severity}: {id}: {message}' \
  src protocol daemon adapters/c 2>"$out" || { cat "$out" >&2; echo "cppcheck: findings above" >&2; exit 1; }
if grep -q ": " "$out"; then cat "$out" >&2; exit 1; fi
echo "cppcheck: no findings ($(find src protocol daemon adapters/c -name '*.c' | wc -l) files)"
