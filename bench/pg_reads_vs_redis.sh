#!/usr/bin/env bash
# pg_reads_vs_redis.sh -- reads on a PostgreSQL-backed node ([store] backend = postgresql,
# docs/SCALEOUT.md) against redis-server GET: initdb's a throw-away PostgreSQL 15 cluster in a
# temp directory (Unix socket only, no TCP; as user postgres when run as root, since initdb
# refuses root), then runs bench/rpc_vs_redis.sh with patrond pointed at it (--no-config, its
# own data dir: hermetic). Every preloaded write (customers, orders, the recs order lines)
# goes through PostgreSQL as the system of record and reaches the node's local LMDB copy;
# the reads measured are served from that copy. The cluster runs with fsync off (only the
# preload writes; the reads never touch it) and is stopped and removed at exit.
# usage: bench/pg_reads_vs_redis.sh   (env as rpc_vs_redis.sh; defaults here:
#        METHODS="customer.get recs.cart" DEPTHS=1 CALLGRIND=0 RECS_LINES=1000000 (as
#        recs_serving.sh) PRELOAD_HOOK=bench/pg_reads_preload.hook; PG_BIN=/usr/lib/postgresql/15/bin)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "needs postgresql-15 ($PG_BIN/initdb)" >&2; exit 1; }
PGW=$(mktemp -d /tmp/patron-pgr.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); chmod 711 "$PGW"; fi
mkdir -m 700 "$PGW/data" && mkdir "$PGW/sock" && touch "$PGW/pg.log"
[ ${#AS[@]} -gt 0 ] && chown postgres: "$PGW/data" "$PGW/sock" "$PGW/pg.log"
stop_pg() {
  "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGW/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$PGW"
}
trap stop_pg EXIT
trap 'exit 130' INT TERM
"${AS[@]}" "$PG_BIN/initdb" -D "$PGW/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null ||
  { echo "initdb failed" >&2; exit 1; }
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGW/data" -l "$PGW/pg.log" -w -t 60 \
  -o "-k $PGW/sock -c listen_addresses='' -c fsync=off" start >/dev/null ||
  { echo "PostgreSQL did not start: $(tail -5 "$PGW/pg.log")" >&2; exit 1; }
# a URI without spaces: rpc_vs_redis.sh splits PATROND_ARGS on blanks
CONN="postgresql:///postgres?host=$PGW/sock&user=postgres"
echo "# pg_reads_vs_redis.sh: $("$PG_BIN/postgres" --version), fsync off, socket $PGW/sock"
export METHODS=${METHODS:-"customer.get recs.cart"} DEPTHS=${DEPTHS:-1} CALLGRIND=${CALLGRIND:-0}
export RECS_LINES=${RECS_LINES:-1000000} PRELOAD_HOOK=${PRELOAD_HOOK:-$HERE/pg_reads_preload.hook}
export PG_BIN PGR_SOCK=$PGW/sock
export PATROND_ARGS="--set store.backend=postgresql --set store.postgresql=$CONN ${PATROND_ARGS:-}"
"$HERE/rpc_vs_redis.sh"
rc=$?
echo "# the node's backend: PostgreSQL ($CONN); preload lines: RECS_LINES=$RECS_LINES"
echo "# command: DUR=${DUR:-5} PAIRS=${PAIRS:-3} METHODS=\"$METHODS\" DEPTHS=\"$DEPTHS\" RECS_LINES=$RECS_LINES bench/pg_reads_vs_redis.sh"
exit $rc
