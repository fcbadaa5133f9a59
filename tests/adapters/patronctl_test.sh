#!/usr/bin/env bash
# patronctl_test.sh -- patronctl against the real patrond (run by run.sh, which exports
# PATRON_SOCKET and PATRON_TEST_PID). Owns: output and exit-code checks of patronctl
# (0 ok, 1 remote error with the error JSON on stderr, 2 unavailable, 64 usage).
set -u
ctl=$1
p=0; f=0
check() { # name expected-rc actual-rc
  if [ "$2" = "$3" ]; then p=$((p+1)); echo "ok   patronctl: $1"; else f=$((f+1)); echo "FAIL patronctl: $1 (rc $3, want $2)"; fi
}
out=$("$ctl" ping); check ping 0 $?
echo "$out" | grep -q '"pong": true' ; check "ping prints pretty JSON" 0 $?
"$ctl" --version >/dev/null; check --version 0 $?
"$ctl" --help | grep -q 'Usage'; check --help 0 $?
"$ctl" >/dev/null 2>&1; check "no command is usage" 64 $?
"$ctl" call >/dev/null 2>&1; check "call without method is usage" 64 $?
"$ctl" call ping '{bad' >/dev/null 2>&1; check "bad params JSON is usage" 64 $?
"$ctl" -c call product.upsert '{"product_id":"ctl-mug","name":"Mug","price":1299,"currency":"EUR"}' >/dev/null
check product.upsert 0 $?
echo '{"product_id":"ctl-mug"}' | "$ctl" -c call product.get - | grep -q '"price":1299'
check "product.get with params from stdin" 0 $?
"$ctl" stats >/dev/null; check stats 0 $?
err=$("$ctl" call product.upsert '{"product_id":5}' 2>&1 >/dev/null); rc=$?
check "invalid_params is exit 1" 1 $rc
echo "$err" | grep -q '"field": "product_id"'; check "error JSON on stderr" 0 $?
"$ctl" -s "$PATRON_SOCKET.nope" ping >/dev/null 2>&1; check "absent socket is exit 2" 2 $?
kill -STOP "$PATRON_TEST_PID"
start=$(date +%s%N)
"$ctl" -t 300 ping >/dev/null 2>&1; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -KILL "$PATRON_TEST_PID"; kill -CONT "$PATRON_TEST_PID" 2>/dev/null
check "hung daemon is exit 2" 2 $rc
[ $ms -lt 1000 ]; check "within the timeout (${ms} ms)" 0 $?
# wait for the death (gone or a zombie), not for a fixed time
dead() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
for _ in $(seq 1000); do dead "$PATRON_TEST_PID" && break; sleep 0.005; done
dead "$PATRON_TEST_PID"; check "patrond died after SIGKILL" 0 $?
PATRON_SOCKET=$PATRON_SOCKET "$ctl" ping >/dev/null 2>&1; check "dead daemon is exit 2" 2 $?
echo "patronctl: $p passed, $f failed"
[ $f -eq 0 ]
