#!/bin/sh
# tests/packaging/unit_verify.sh SYSTEMD_ANALYZE UNIT -- "systemd-analyze verify" on the
# rendered patrond.service (ExecStart= is the built binary). verify exits 0 on unknown keys
# and bad values and only warns on stderr, so ANY stderr output is a failure. A deliberately
# broken copy must produce stderr, proving the check can fail on this machine.
set -u
sa=$1
unit=$2
[ -s "$unit" ] || { echo "FAIL: rendered unit $unit missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$sa" verify "$unit" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
    echo "FAIL: systemd-analyze verify $unit: rc=$rc, stderr above"
    exit 1
fi

# The same unit with one misspelt key and one bad value must be reported.
mkdir "$tmp/bad"
sed -e 's/^ProtectHome=yes/ProtectHomme=yes/' -e 's/^ProtectSystem=strict/ProtectSystem=bogus/' \
    "$unit" >"$tmp/bad/patrond.service"
"$sa" verify "$tmp/bad/patrond.service" >/dev/null 2>"$tmp/bad.err"
grep -q ProtectHomme "$tmp/bad.err" && grep -q bogus "$tmp/bad.err" || {
    echo "FAIL: verify did not report a misspelt key / bad value:"; cat "$tmp/bad.err"; exit 1; }

# Key settings the docs rely on are present (a verify-clean unit could still lack them).
for line in Type=notify NotifyAccess=main Restart=on-failure User=patron Group=patron \
            RuntimeDirectory=patron StateDirectory=patron StateDirectoryMode=0700 \
            ConfigurationDirectory=patron UMask=0007 RestrictAddressFamilies=AF_UNIX \
            'ExecReload=/bin/kill -HUP $MAINPID'; do
    grep -qxF "$line" "$unit" || { echo "FAIL: $unit lacks '$line'"; exit 1; }
done
grep -q '^ExecStartPre=.*patrond --check-config$' "$unit" &&
grep -q '^ExecReload=.*patrond --check-config$' "$unit" || {
    echo "FAIL: ExecStartPre/ExecReload do not validate with --check-config"; exit 1; }
echo "OK: $unit verifies cleanly"
