#!/bin/sh
# tests/packaging/deb_build.sh CPACK CPACK_CONFIG OUTDIR -- builds the "patron" .deb with
# "cpack -G DEB" into OUTDIR (the fixture deb_run.sh uses), then checks with dpkg-deb -I/-c:
# package name and dependencies (dpkg-shlibdeps ran), the conffile list, executable
# maintainer scripts, the ldconfig trigger, and that the unit, sysusers/tmpfiles entries,
# default config, binaries, library and docs are inside, with nothing under /usr/local or
# the build tree.
set -u
cpack=$1
config=$2
out=$3
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

rm -rf "$out"
mkdir -p "$out"
"$cpack" -G DEB --config "$config" -B "$out" >"$out/cpack.log" 2>&1 || {
    cat "$out/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
set -- "$out"/patron_*.deb
[ -f "$1" ] || { cat "$out/cpack.log"; echo "FAIL: no patron_*.deb in $out"; exit 1; }
deb=$1
echo "built $deb"
ln -sf "$(basename "$deb")" "$out/patron.deb"

info=$(dpkg-deb -I "$deb") || { echo "FAIL: dpkg-deb -I"; exit 1; }
echo "$info"
[ "$(dpkg-deb -f "$deb" Package)" = patron ] && ok "package name patron" || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libuv1 liblmdb0 libmsgpackc2 libinih1; do
    echo "$depends" | grep -q "\b$lib\b" && ok "Depends has $lib (shlibdeps)" || fail "Depends lacks $lib: $depends"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/patron/patrond.conf ] && ok "conffiles: /etc/patron/patrond.conf" ||
    fail "conffiles wrong: $(dpkg-deb -I "$deb" conffiles 2>&1)"
for s in postinst prerm postrm; do
    echo "$info" | grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$s +#!/bin/sh" && ok "$s present and executable" ||
        fail "$s missing or not executable"
done
dpkg-deb -I "$deb" triggers 2>/dev/null | grep -qx 'activate-noawait ldconfig' && ok "ldconfig trigger" || fail "no ldconfig trigger"
dpkg-deb -I "$deb" shlibs 2>/dev/null | grep -q '^libpatronclient 0 patron' && ok "shlibs for libpatronclient.so.0" || fail "no shlibs"

list=$(dpkg-deb -c "$deb" | awk '{print $6}')
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
unitdir=${unitdir:-/lib/systemd/system}
for f in ".$unitdir/patrond.service" ./usr/lib/sysusers.d/patron.conf \
         ./usr/lib/tmpfiles.d/patron.conf ./etc/patron/patrond.conf ./usr/sbin/patrond \
         ./usr/bin/patronctl ./usr/share/doc/patron/OPERATIONS.md; do
    echo "$list" | grep -qxF "$f" && ok "contains $f" || fail "missing $f"
done
echo "$list" | grep -Eq '^\./usr/lib/([a-z0-9_-]+/)?libpatronclient\.so\.0$' && ok "contains libpatronclient.so.0" ||
    fail "missing libpatronclient.so.0"
echo "$list" | grep -E '^\./usr/local/|/work/|/build' && fail "paths outside the Debian layout" ||
    ok "nothing under /usr/local or the build tree"
dpkg-deb -c "$deb" | grep ' \./etc/patron/patrond.conf$' | grep -q '^-rw-r--r-- root/root' &&
    ok "config 0644 root:root" || fail "config permissions"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "the .deb is complete"
