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
tmp=$(mktemp -d /tmp/patron-fpm.XXXXXX)
fpid=
cleanup() { [ -n "$fpid" ] && kill -TERM "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$here/fpm_lib.sh"
fpm_available || { echo "skip php-fpm: php-fpm8.2 or cgi-fcgi (libfcgi-bin) not installed"; exit 77; }
fpm_start || exit 1
out=$(fpm_request "$here/fpm_page.php")
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
