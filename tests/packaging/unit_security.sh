#!/bin/sh
# tests/packaging/unit_security.sh SYSTEMD_ANALYZE UNIT THRESHOLD -- "systemd-analyze
# security --offline=true" must rate the unit's exposure at or below THRESHOLD tenths
# (3 = 0.3 on systemd's 0-10 scale), and the only failed checks may be the ones
# docs/OPERATIONS.md explains (no chroot image, AF_UNIX allowed, /dev/rtc for ProtectClock=,
# UMask=0007 group-writable).
set -u
sa=$1
unit=$2
threshold=$3
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$sa" security --offline=true --no-pager --threshold="$threshold" "$unit" >"$out" 2>&1
rc=$?
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$out")
echo "exposure: $score (threshold $threshold/10)"
if [ -z "$score" ]; then cat "$out"; echo "FAIL: no exposure score"; exit 1; fi
if [ $rc -ne 0 ]; then grep '✗' "$out"; echo "FAIL: exposure $score above $threshold/10"; exit 1; fi

allowed='RootDirectory=/RootImage=
RestrictAddressFamilies=~AF_UNIX
DeviceAllow=
UMask='
bad=0
for name in $(sed -n 's/^✗ \([^ ]*\) .*/\1/p' "$out"); do
    if ! printf '%s\n' "$allowed" | grep -qxF "$name"; then
        echo "FAIL: unexpected failed check: $(grep -F "✗ $name " "$out")"
        bad=1
    fi
done
[ $bad -eq 0 ] || exit 1
echo "OK: exposure $score"
