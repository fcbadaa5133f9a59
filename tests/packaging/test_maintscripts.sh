#!/bin/sh
# tests/packaging/test_maintscripts.sh DEBIAN_DIR -- runs the .deb's postinst, prerm and
# postrm against a scratch $DPKG_ROOT with stub systemd-sysusers, systemd-tmpfiles,
# deb-systemd-helper, deb-systemd-invoke, systemctl, adduser and chown that only log their
# arguments, and checks what each script does on install, upgrade, remove and purge, with
# and without a running systemd. Touches nothing outside a temp dir.
set -u
deb=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; echo "---- log:"; cat "$log"; echo "----"; fails=$((fails + 1)); }

stubs=$tmp/stubs
mkdir "$stubs"
for c in systemd-sysusers systemd-tmpfiles deb-systemd-helper deb-systemd-invoke systemctl \
         adduser chown getent; do
    cat >"$stubs/$c" <<STUB
#!/bin/sh
echo "$c \$*" >>"\$STUB_LOG"
case "$c \$*" in
    "deb-systemd-helper --quiet was-enabled"*) exit \${STUB_WAS_ENABLED:-0} ;;
    "getent passwd patron") exit \${STUB_USER_EXISTS:-0} ;;
esac
exit 0
STUB
    chmod +x "$stubs/$c"
done
# Only these real tools are visible, so a missing stub means "command not installed".
for c in mkdir chmod rm rmdir; do ln -s "$(command -v $c)" "$stubs/$c"; done
shell=$(command -v sh)

run() {
    script=$1; shift
    log=$tmp/log
    : >"$log"
    STUB_LOG=$log DPKG_ROOT=$root PATH=$stubs "$shell" "$deb/$script" "$@" >"$tmp/out" 2>&1
    rc=$?
    [ $rc -eq 0 ] || { cat "$tmp/out"; fail "$script $*: exit $rc"; }
}
has()  { grep -qxF "$1" "$log"; }
hasnt() { ! grep -qF "$1" "$log"; }

root=$tmp/root
mkdir -p "$root"

# 1. Fresh install in a chroot/container (no running systemd).
run postinst configure
has "systemd-sysusers --root=$root patron.conf" && ok "install: user created with systemd-sysusers" || fail "install: systemd-sysusers"
has "systemd-tmpfiles --root=$root --create patron.conf" && ok "install: tmpfiles applied" || fail "install: tmpfiles"
has "deb-systemd-helper enable patrond.service" && ok "install: unit enabled" || fail "install: enable"
hasnt "deb-systemd-invoke" && hasnt "systemctl" && ok "install without systemd: nothing started" || fail "install without systemd started something"

# 2. Fresh install with systemd running.
mkdir -p "$root/run/systemd/system"
run postinst configure
has "systemctl --system daemon-reload" && has "deb-systemd-invoke start patrond.service" &&
    ok "install with systemd: daemon-reload + start" || fail "install with systemd: start"

# 3. Upgrade of a unit the admin disabled: keep it disabled, restart only if running.
STUB_WAS_ENABLED=1 run postinst configure 0.0.9-1
has "deb-systemd-helper update-state patrond.service" && hasnt "deb-systemd-helper enable" &&
    ok "upgrade: admin's disabled state kept" || fail "upgrade: re-enabled a disabled unit"
has "deb-systemd-invoke try-restart patrond.service" && hasnt "invoke start" &&
    ok "upgrade: try-restart (a stopped daemon stays stopped)" || fail "upgrade: restart action"

# 4. No systemd-sysusers/tmpfiles: adduser fallback and a plain 0700 directory.
rm "$stubs/systemd-sysusers" "$stubs/systemd-tmpfiles"
rm -rf "$root/run"
# adduser is tried only without $DPKG_ROOT, i.e. on the real root: make every tool that
# could touch it (mkdir, chmod too) a logging stub for this one run.
saved=$root
root=""
for c in mkdir chmod; do mv "$stubs/$c" "$tmp/$c.real"; cp "$stubs/chown" "$stubs/$c"
    sed -i "s/chown/$c/g" "$stubs/$c"; done
STUB_USER_EXISTS=2 run postinst configure
for c in mkdir chmod; do mv "$tmp/$c.real" "$stubs/$c"; done
root=$saved
has "mkdir -p /var/lib/patron" && ok "fallback without DPKG_ROOT: state directory on /" ||
    fail "fallback: mkdir on /"
grep -q "^adduser --system --group .*patron$" "$log" && ok "fallback: adduser --system" || fail "fallback: adduser"
STUB_USER_EXISTS=0 run postinst configure
hasnt "adduser" && ok "fallback: existing user left alone" || fail "fallback: adduser for an existing user"
has "chown patron:patron $root/var/lib/patron" && [ -d "$root/var/lib/patron" ] &&
    [ "$(stat -c %a "$root/var/lib/patron")" = 700 ] && ok "fallback: /var/lib/patron 0700 patron" ||
    fail "fallback: state directory"

# 5. prerm: stop on remove only.
mkdir -p "$root/run/systemd/system"
run prerm upgrade 0.2.0-1
hasnt "deb-systemd-invoke" && ok "prerm upgrade: daemon keeps running" || fail "prerm upgrade stopped it"
run prerm remove
has "deb-systemd-invoke stop patrond.service" && ok "prerm remove: stopped" || fail "prerm remove"

# 6. postrm: remove keeps the data, purge deletes it.
mkdir -p "$root/var/lib/patron" "$root/etc/patron"
echo data >"$root/var/lib/patron/data.mdb"
run postrm remove
[ -f "$root/var/lib/patron/data.mdb" ] && ok "postrm remove: data kept" || fail "postrm remove deleted data"
has "deb-systemd-helper mask patrond.service" && ok "postrm remove: unit masked" || fail "postrm remove: mask"
run postrm upgrade 0.2.0-1
[ -f "$root/var/lib/patron/data.mdb" ] && ok "postrm upgrade: data kept" || fail "postrm upgrade deleted data"
run postrm purge
[ ! -e "$root/var/lib/patron" ] && ok "postrm purge: /var/lib/patron removed" || fail "postrm purge kept data"
[ ! -e "$root/etc/patron" ] && ok "postrm purge: empty /etc/patron removed" || fail "postrm purge: /etc/patron"
has "deb-systemd-helper purge patrond.service" && ok "postrm purge: helper state purged" || fail "postrm purge: helper"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all maintainer-script checks passed"
