#!/bin/sh
# tests/packaging/deb_install.sh OUTDIR -- the .debs as a sysadmin meets them: lintian on the
# three packages deb_build.sh made (any E: or W: fails: each remaining tag is overridden with
# its reason), then, only as root on a machine without systemd as init and without any of
# them already installed (exit 77 otherwise): dpkg -i of all three, start patrond as the patron user WITHOUT systemd (runuser, the way
# the issue reproduced the /run/patron failure), ping it through the packaged patronctl,
# stop it, dpkg -r (config and data kept), dpkg -P (both gone), for all three. This installs into the real
# root: that is the point, so it refuses to run where it could disturb a live install.
set -u
out=$1
deb=$out/patron.deb
debs="$out/libpatronclient0.deb $out/libpatronclient-dev.deb $deb"
pkgs="patron libpatronclient-dev libpatronclient0"
[ -f "$deb" ] || { echo "FAIL: no $deb (run packaging_deb_build first)"; exit 1; }
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

if command -v lintian >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    lintian --tag-display-limit 0 $debs >"$out/lintian.txt" 2>&1
    grep -v 'root privileges' "$out/lintian.txt"
    if grep -q '^E: ' "$out/lintian.txt"; then fail "lintian errors"; else ok "lintian: no errors"; fi
    if grep -q '^W: ' "$out/lintian.txt"; then fail "lintian warnings"; else ok "lintian: no warnings"; fi
else
    echo "skip lintian (apt-get install lintian)"
fi

# One install test per machine at a time (other checkouts may run theirs): a busy lock skips.
if [ "$(id -u)" -eq 0 ] && command -v flock >/dev/null 2>&1; then
    exec 9>/run/lock/patron-deb-install.lock
    flock -n 9 || { echo "skip install test: another one is running"; [ $fails -eq 0 ] || exit 1; exit 77; }
fi
installed=
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 && installed="$installed $p"; done
if [ "$(id -u)" -ne 0 ] || [ -d /run/systemd/system ] || [ -n "$installed" ]; then
    echo "skip install test (needs root, no systemd init, none of the packages installed:$installed)"
    [ $fails -eq 0 ] || exit 1
    exit 77
fi
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 && dpkg -P "$p" >/dev/null 2>&1; done
}
trap cleanup EXIT
# shellcheck disable=SC2086
dpkg -i $debs >"$out/dpkg-i.log" 2>&1 && ok "dpkg -i (patron, libpatronclient0, libpatronclient-dev)" || { cat "$out/dpkg-i.log"; fail "dpkg -i"; }
getent passwd patron >/dev/null && ok "user patron exists" || fail "no user patron"
[ "$(stat -c '%U %a' /run/patron 2>/dev/null)" = "patron 750" ] &&
    ok "/run/patron 0750 patron (tmpfiles.d)" || fail "/run/patron: $(stat -c '%U %a' /run/patron 2>&1)"
runuser -u patron -- /usr/sbin/patrond --check-config >"$out/check.log" 2>&1 &&
    ok "--check-config as patron" || fail "--check-config: $(cat "$out/check.log")"
runuser -u patron -- /usr/sbin/patrond -c /etc/patron/patrond.conf 2>"$out/patrond.log" &
pid=$!
i=0
while ! /usr/bin/patronctl -s /run/patron/patron.sock -t 200 ping >/dev/null 2>&1 && [ $i -lt 200 ]; do
    sleep 0.05; i=$((i + 1)); done
/usr/bin/patronctl -s /run/patron/patron.sock ping | grep -q '"pong": true' &&
    ok "patrond started by runuser answers ping" || fail "no pong: $(tail -3 "$out/patrond.log")"
[ "$(stat -c %U /var/lib/patron/data.mdb 2>/dev/null)" = patron ] && ok "store owned by patron" ||
    fail "store owner"
# SIGTERM to patrond itself (runuser's child); runuser then exits with patrond's status.
child=$(ps -o pid= --ppid "$pid" | tr -d ' ')
kill "${child:-$pid}"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || fail "patrond exit $rc"
man -w patronctl >/dev/null 2>&1 || [ -f /usr/share/man/man1/patronctl.1.gz ] && ok "man page installed" ||
    fail "no man page"
[ -f /usr/include/patronclient.h ] && ok "development files installed" || fail "no /usr/include/patronclient.h"
# shellcheck disable=SC2086
dpkg -r $pkgs >"$out/dpkg-r.log" 2>&1 && ok "dpkg -r" || fail "dpkg -r: $(cat "$out/dpkg-r.log")"
[ -f /etc/patron/patrond.conf ] && [ -d /var/lib/patron ] && [ ! -e /usr/sbin/patrond ] &&
    ok "remove keeps config and data, drops binaries" || fail "after remove"
# shellcheck disable=SC2086
dpkg -P $pkgs >"$out/dpkg-p.log" 2>&1 && ok "dpkg -P" || fail "dpkg -P: $(cat "$out/dpkg-p.log")"
[ ! -e /etc/patron/patrond.conf ] && [ ! -e /var/lib/patron ] && ok "purge removes config and data" ||
    fail "after purge: $(ls -d /etc/patron /var/lib/patron 2>&1)"
! ls /usr/lib/libpatronclient* /usr/lib/*/libpatronclient* >/dev/null 2>&1 && ok "purge removes the library" ||
    fail "library left after purge"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "packages install, serve as patron without systemd, remove and purge"
