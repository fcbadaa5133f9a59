#!/usr/bin/env bash
# fpm_test.sh -- the documented PHP-FPM set-up, for real: php-fpm8.2 started with the
# shipped adapters/php/patron_ffi.h as ffi.preload and preload.php as opcache.preload in
# the SAPI's conf.d (ffi.enable left at its default "preload"), one page requested through
# cgi-fcgi against the patrond that run.sh started (PATRON_SOCKET, PATRON_CLIENT_LIB).
# Owns: its temp FPM config, socket and logs; kills the FPM master it started, by pid.
# Invariant: exit 77 when php-fpm8.2 or cgi-fcgi is missing (skipped, never "passed").
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fpm=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
[ -x "$fpm" ] || { echo "skip php-fpm: php-fpm8.2 not installed"; exit 77; }
command -v cgi-fcgi >/dev/null || { echo "skip php-fpm: cgi-fcgi (libfcgi-bin) not installed"; exit 77; }
tmp=$(mktemp -d /tmp/patron-fpm.XXXXXX)
fpid=
cleanup() { [ -n "$fpid" ] && kill -TERM "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir "$tmp/conf.d"
# exactly the lines docs/INTEGRATION.md and adapters/README.md give for conf.d/99-patron.ini
cat >"$tmp/conf.d/99-patron.ini" <<INI
ffi.enable=preload
ffi.preload=$root/adapters/php/patron_ffi.h
opcache.enable=1
opcache.preload=$root/adapters/php/preload.php
opcache.preload_user=$(id -un)
INI
cat >"$tmp/fpm.conf" <<CONF
[global]
error_log = $tmp/fpm.log
daemonize = no
[patron]
listen = $tmp/fpm.sock
pm = static
pm.max_children = 1
clear_env = no
catch_workers_output = yes
CONF
asroot=(); [ "$(id -u)" = 0 ] && asroot=(-R)
# FFI_LIB in the shipped header is the SONAME: found through the loader path, here the build dir
LD_LIBRARY_PATH="$(dirname "$PATRON_CLIENT_LIB")" PHP_INI_SCAN_DIR="/etc/php/8.2/fpm/conf.d:$tmp/conf.d" \
  "$fpm" -F "${asroot[@]}" -y "$tmp/fpm.conf" &
fpid=$!
for _ in $(seq 1 200); do
  [ -S "$tmp/fpm.sock" ] && break
  kill -0 "$fpid" 2>/dev/null || break
  sleep 0.05
done
if ! [ -S "$tmp/fpm.sock" ]; then
  echo "FAIL php-fpm: the FPM master did not start with the shipped preload files; its log:"; cat "$tmp/fpm.log"; exit 1
fi
out=$(SCRIPT_FILENAME="$here/fpm_page.php" REQUEST_METHOD=GET QUERY_STRING= \
      cgi-fcgi -bind -connect "$tmp/fpm.sock" | sed '1,/^\r\?$/d')
echo "$out"
python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
checks = [("class preloaded", r["preloaded"] is True), ("ffi.enable=preload", r["ffi_enable"] == "preload"),
          ("FFI::cdef refused in FPM", r["cdef"] == "refused"), ("FFI::scope refused outside preloaded code (only the preloaded class binds)", r["scope"] is not True),
          ("ping", r["ping"].get("pong") is True), ("product.upsert", r["upsert"].get("product_id") == "fpm-mug"),
          ("recsCart is a list", isinstance(r["recs"], list))]
bad = [n for n, ok in checks if not ok]
for n, ok in checks: print(("ok  " if ok else "FAIL") + " php-fpm: " + n)
sys.exit(1 if bad else 0)
PY
