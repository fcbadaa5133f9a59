# fpm_lib.sh -- sourced by fpm_test.sh and woocommerce_test.sh: start php-fpm8.2 the way the
# docs say (the shipped adapters/php/patron_ffi.h as ffi.preload and preload.php as
# opcache.preload, in the SAPI's conf.d; ffi.enable left at "preload"), and request a page.
# Needs: $root (repository), $tmp (scratch dir), PATRON_CLIENT_LIB. Sets $fpid (the FPM master,
# to be killed by pid by the caller's cleanup). Invariant: touches nothing outside $tmp.
fpm_bin=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
fpm_available() { [ -x "$fpm_bin" ] && command -v cgi-fcgi >/dev/null; }

fpm_start() {
  mkdir -p "$tmp/conf.d"
  # exactly the lines adapters/README.md gives for /etc/php/8.2/fpm/conf.d/99-patron.ini
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
  local asroot=()
  [ "$(id -u)" = 0 ] && asroot=(-R)
  # FFI_LIB in the shipped header is the SONAME: found through the loader path (the build dir here)
  LD_LIBRARY_PATH="$(dirname "$PATRON_CLIENT_LIB")" PHP_INI_SCAN_DIR="/etc/php/8.2/fpm/conf.d:$tmp/conf.d" \
    "$fpm_bin" -F "${asroot[@]}" -y "$tmp/fpm.conf" &
  fpid=$!
  for _ in $(seq 1 200); do
    [ -S "$tmp/fpm.sock" ] && return 0
    kill -0 "$fpid" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL php-fpm: the FPM master did not start with the shipped preload files; its log:"
  cat "$tmp/fpm.log"
  return 1
}

fpm_request() { # $1 = script, $2 = query string; prints the body
  SCRIPT_FILENAME="$1" REQUEST_METHOD=GET QUERY_STRING="${2:-}" \
    cgi-fcgi -bind -connect "$tmp/fpm.sock" | sed '1,/^\r\?$/d'
}
