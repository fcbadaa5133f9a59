#!/bin/sh
# check_daemon_deps.sh -- fails if the daemon's source files call each other in a cycle.
# Arguments: patrond's object files (one per daemon/*.c). An edge a -> b means a.o uses a
# symbol that b.o defines; the edges must form a DAG (tsort finds no loop). Prints the cycle.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 OBJECT..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "$@"; do
  b=$(basename "$o"); b=${b%%.*}
  nm --defined-only -g "$o" | awk -v f="$b" 'NF == 3 { print $3, f }' >>"$tmp/defs"
  nm -u "$o" | awk -v f="$b" '{ print $NF, f }' >>"$tmp/uses"
done
sort -k1,1 "$tmp/defs" >"$tmp/defs.s"
sort -k1,1 "$tmp/uses" >"$tmp/uses.s"
# symbol user definer -> "user definer" edges between different files
join "$tmp/uses.s" "$tmp/defs.s" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/err"; then
  echo "daemon files call each other in a cycle:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
echo "daemon dependency graph: $(wc -l <"$tmp/edges") edges, no cycle"
