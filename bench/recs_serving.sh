#!/usr/bin/env bash
# recs_serving.sh -- recs.cart (a 5-item cart, top 10) throughput and latency as a ratio to
# redis-server GET, measured by bench/rpc_vs_redis.sh (same client, rpcbench from
# ../shared/bench, same run, A B A B, PAIRS pairs, median ratio, 50 connections) on a model
# built from RECS_LINES (default 1,000,000) synthetic order lines loaded through order.record
# (bench/recs_preload.hook), plus server instructions per request under callgrind.
# usage: bench/recs_serving.sh     (env as rpc_vs_redis.sh, plus RECS_LINES; defaults here:
#        METHODS=recs.cart DEPTHS="1 16" NCUST=100 ORDERS_PER_CUST=1 REFIT=0)
HERE=$(cd "$(dirname "$0")" && pwd)
export METHODS=${METHODS:-recs.cart} DEPTHS=${DEPTHS:-"1 16"} NCUST=${NCUST:-100}
export ORDERS_PER_CUST=${ORDERS_PER_CUST:-1} REFIT=${REFIT:-0} RECS_LINES=${RECS_LINES:-1000000}
export PRELOAD_HOOK=$HERE/recs_preload.hook
exec "$HERE/rpc_vs_redis.sh"
