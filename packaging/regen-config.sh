#!/bin/sh
# packaging/regen-config.sh PATROND [CONF] -- rewrites the shipped default config
# (packaging/patrond.conf) as its own header comment + "patrond --print-config" for the
# defaults, after a setting was added or changed in daemon/config.c. The packaging_config
# test fails until this is done. Also: cmake --build BUILD --target patron-default-config
set -eu
patrond=$1
conf=${2:-$(dirname "$0")/patrond.conf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/empty.conf"
sed '/^\[/,$d' "$conf" >"$tmp/new"            # the header: everything before the first section
"$patrond" -c "$tmp/empty.conf" --print-config >>"$tmp/new"
cat "$tmp/new" >"$conf"
echo "updated $conf"
