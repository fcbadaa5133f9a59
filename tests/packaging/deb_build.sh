#!/bin/sh
# tests/packaging/deb_build.sh CPACK CPACK_CONFIG OUTDIR -- builds the three .debs with
# "cpack -G DEB" into OUTDIR (the fixture deb_run.sh and deb_install.sh use), then checks with
# dpkg-deb -I/-c: libpatronclient0 (named after the SONAME: the library, its shlibs file and
# ldconfig trigger), libpatronclient-dev (header, .so link, .pc, static library; depends on
# the library of the same version), patron (dependencies found by dpkg-shlibdeps plus
# libpatronclient0 of the same version, the conffile list, executable maintainer scripts,
# the unit, sysusers/tmpfiles entries, default config, binaries and docs); every file in
# exactly one package, nothing under /usr/local or the build tree.
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
set -- "$out"/libpatronclient0_*.deb
lib=$1
set -- "$out"/libpatronclient-dev_*.deb
dev=$1
[ -f "$lib" ] && [ -f "$dev" ] || { cat "$out/cpack.log"; echo "FAIL: no library packages in $out"; exit 1; }
echo "built $deb $lib $dev"
ln -sf "$(basename "$deb")" "$out/patron.deb"
ln -sf "$(basename "$lib")" "$out/libpatronclient0.deb"
ln -sf "$(basename "$dev")" "$out/libpatronclient-dev.deb"

info=$(dpkg-deb -I "$deb") || { echo "FAIL: dpkg-deb -I"; exit 1; }
echo "$info"
[ "$(dpkg-deb -f "$deb" Package)" = patron ] && ok "package name patron" || fail "package name"
[ "$(dpkg-deb -f "$lib" Package)" = libpatronclient0 ] && ok "package name libpatronclient0" || fail "lib package name"
[ "$(dpkg-deb -f "$dev" Package)" = libpatronclient-dev ] && ok "package name libpatronclient-dev" || fail "dev package name"
[ "$(dpkg-deb -f "$lib" Section)" = libs ] && [ "$(dpkg-deb -f "$dev" Section)" = libdevel ] &&
    ok "sections libs, libdevel" || fail "sections"
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
for lib_dep in libc6 libuv1 liblmdb0 libmsgpackc2 libinih1; do
    echo "$depends" | grep -q "\b$lib_dep\b" && ok "Depends has $lib_dep (shlibdeps)" || fail "Depends lacks $lib_dep: $depends"
done
echo "$depends" | grep -qF "libpatronclient0 (= $version)" && ok "patron depends on libpatronclient0 (= $version)" ||
    fail "patron Depends: $depends"
echo "$depends" | grep -q "patron (" && fail "patron depends on itself: $depends" || ok "no self-dependency"
dpkg-deb -f "$dev" Depends | grep -qF "libpatronclient0 (= $version)" && ok "-dev depends on the library" ||
    fail "-dev Depends: $(dpkg-deb -f "$dev" Depends)"
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/patron/patrond.conf ] && ok "conffiles: /etc/patron/patrond.conf" ||
    fail "conffiles wrong: $(dpkg-deb -I "$deb" conffiles 2>&1)"
for s in postinst prerm postrm; do
    echo "$info" | grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$s +#!/bin/sh" && ok "$s present and executable" ||
        fail "$s missing or not executable"
done
dpkg-deb -I "$lib" triggers 2>/dev/null | grep -qx 'activate-noawait ldconfig' && ok "ldconfig trigger (library)" || fail "no ldconfig trigger"
dpkg-deb -I "$lib" shlibs 2>/dev/null | grep -q '^libpatronclient 0 libpatronclient0' && ok "shlibs for libpatronclient.so.0" || fail "no shlibs"
liblist=$(dpkg-deb -c "$lib" | awk '{print $6}')
devlist=$(dpkg-deb -c "$dev" | awk '{print $6}')
echo "$liblist" | grep -Eq '^\./usr/lib/([a-z0-9_-]+/)?libpatronclient\.so\.0$' && ok "libpatronclient0 has libpatronclient.so.0" ||
    fail "libpatronclient0 lacks libpatronclient.so.0"
for f in ./usr/include/patronclient.h; do
    echo "$devlist" | grep -qxF "$f" && ok "-dev has $f" || fail "-dev lacks $f"
done
for re in 'libpatronclient\.so$' 'pkgconfig/patronclient\.pc$' 'libpatronclient\.a$'; do
    echo "$devlist" | grep -Eq "$re" && ok "-dev has $re" || fail "-dev lacks $re"
done
for p in patron libpatronclient0 libpatronclient-dev; do
    case $p in patron) l=$(dpkg-deb -c "$deb" | awk '{print $6}');; libpatronclient0) l=$liblist;; *) l=$devlist;; esac
    echo "$l" | grep -qxF "./usr/share/doc/$p/copyright" && echo "$l" | grep -qxF "./usr/share/doc/$p/changelog.Debian.gz" &&
        ok "$p has its copyright and changelog" || fail "$p lacks copyright or changelog"
done

list=$(dpkg-deb -c "$deb" | awk '{print $6}')
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
unitdir=${unitdir:-/lib/systemd/system}
for f in ".$unitdir/patrond.service" ./usr/lib/sysusers.d/patron.conf \
         ./usr/lib/tmpfiles.d/patron.conf ./etc/patron/patrond.conf ./usr/sbin/patrond \
         ./usr/bin/patronctl ./usr/share/doc/patron/OPERATIONS.md; do
    echo "$list" | grep -qxF "$f" && ok "contains $f" || fail "missing $f"
done
echo "$list" | grep -q 'libpatronclient\|patronclient\.h' && fail "patron holds library files" ||
    ok "the library and its development files are only in their packages"
all=$( (echo "$list"; echo "$liblist"; echo "$devlist") | grep -v '/$')
[ -z "$(echo "$all" | sort | uniq -d)" ] && ok "every file in one package" || fail "files in two packages: $(echo "$all" | sort | uniq -d)"
echo "$list$liblist$devlist" | grep -E '^\./usr/local/|/work/|/build' && fail "paths outside the Debian layout" ||
    ok "nothing under /usr/local or the build tree"
dpkg-deb -c "$deb" | grep ' \./etc/patron/patrond.conf$' | grep -q '^-rw-r--r-- root/root' &&
    ok "config 0644 root:root" || fail "config permissions"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "the three .debs are complete"
