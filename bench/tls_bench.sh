#!/bin/sh
# tls_bench.sh -- patrond over its TLS listener beside its Unix socket, same client, same run
# (bench/tls_bench.c): makes a throwaway CA, server and client certificates with openssl in a
# temp dir, starts patrond (store.sync=false: reads only) with [tls] on 127.0.0.1, runs
# tls_bench, stops patrond by PID.
#   bench/tls_bench.sh [BUILD_DIR]   THREADS=8 SECONDS_PER_RUN=3 PAIRS=3 METHODS=ping,customer.get,connect
set -eu
build=${1:-build}
patrond=$build/daemon/patrond
bench=$build/bench/tls_bench
[ -x "$patrond" ] && [ -x "$bench" ] || { echo "build $build first" >&2; exit 2; }
tmp=$(mktemp -d /tmp/patron-tlsbench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
cd "$tmp"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.crt -subj "/CN=bench CA" -days 2 2>/dev/null
openssl req $ec -keyout srv.key -out srv.csr -subj "/CN=localhost" 2>/dev/null
echo "subjectAltName=IP:127.0.0.1" >srv.ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 \
  -extfile srv.ext 2>/dev/null
openssl req $ec -keyout cli.key -out cli.csr -subj "/CN=bench" 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 2>/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd - >/dev/null
"$patrond" --no-config -s "$tmp/p.sock" -a "$tmp/a.sock" -d "$tmp/data" --set store.sync=false \
  --set tls.listen=127.0.0.1:$port --set tls.cert="$tmp/srv.crt" --set tls.key="$tmp/srv.key" \
  --set tls.ca="$tmp/ca.crt" >"$tmp/patrond.log" 2>&1 &
pid=$!
i=0
until [ -S "$tmp/p.sock" ]; do i=$((i+1)); [ $i -lt 500 ] || { cat "$tmp/patrond.log"; exit 1; }; sleep 0.02; done
echo "# nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), $(openssl version)"
timeout 300 "$bench" --unix "$tmp/p.sock" --tls "tls://127.0.0.1:$port" --cert "$tmp/cli.crt" \
  --key "$tmp/cli.key" --ca "$tmp/ca.crt" --threads "${THREADS:-8}" \
  --seconds "${SECONDS_PER_RUN:-3}" --pairs "${PAIRS:-3}" --pid "$pid" \
  --methods "${METHODS:-ping,customer.get,connect}"
