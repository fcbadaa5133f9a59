#!/usr/bin/env bash
# medusa_test.sh -- adapters/medusa (patron-medusa) end to end on a live Medusa v2 server:
# @medusajs/medusa and its dependencies from the npm registry (cached in build/medusa-app),
# PostgreSQL 15 from Debian on a temporary cluster (initdb/pg_ctl; as user postgres when run
# as root), the plugin and patron-client installed from their packed tarballs, then e2e.js
# drives Medusa's own admin and store APIs against the patrond run.sh started.
# Caches (build folder, keyed by the Medusa version): node_modules (npm install ~4 min once)
# and a migrated database with its admin user (medusa db:migrate ~70 s once). A cached run:
# 178 s on the shared 2-core machine under load (server start 57 s, the API flow 120 s of
# which the backfill's `medusa exec` boot is 20-30 s); ~2 min when the machine is quiet.
# Owns: its temp cluster, server and tarballs; kills what it started by pid (the server by
# its own process group). Exit 77 when PostgreSQL 15, npm or the npm registry is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=2.21.2
app=${PATRON_MEDUSA_APP:-$root/build/medusa-app}
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/initdb" ] || { echo "skip medusa: postgresql-15 not installed"; exit 77; }
command -v npm >/dev/null || { echo "skip medusa: npm not installed"; exit 77; }
tmp=$(mktemp -d /tmp/patron-medusa.XXXXXX)
pgpid_dir= ; srv=
asuser=()
[ "$(id -u)" = 0 ] && asuser=(runuser -u postgres --) && chmod 711 "$tmp"  # postgres reaches $tmp/pg
cleanup() {
  [ -n "$srv" ] && kill -TERM -- "-$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  [ -n "$pgpid_dir" ] && "${asuser[@]}" "$pgbin/pg_ctl" -D "$pgpid_dir" -m immediate stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
t0=$(date +%s)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_start() { # $1 = data dir, $2 = port
  "${asuser[@]}" "$pgbin/pg_ctl" -D "$1" -o "-k $1 -c listen_addresses=127.0.0.1 -p $2 -c fsync=off" \
    -l "$1/server.log" -w start >/dev/null || { cat "$1/server.log"; exit 1; }
  pgpid_dir=$1
}

# 1. Medusa from the npm registry, once
mkdir -p "$app"
if [ ! -f "$app/node_modules/@medusajs/medusa/package.json" ] ||
   ! grep -q "\"version\": \"$version\"" "$app/node_modules/@medusajs/medusa/package.json"; then
  cat >"$app/package.json" <<JSON
{ "name": "patron-medusa-test-app", "private": true, "version": "0.0.0",
  "dependencies": { "@medusajs/cli": "$version", "@medusajs/framework": "$version",
                    "@medusajs/medusa": "$version", "@swc/core": "^1.7.28" } }
JSON
  echo "medusa: npm install @medusajs/medusa@$version (once; cached in $app)"
  (cd "$app" && timeout 1200 npm install --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) ||
    { tail -20 "$tmp/npm.log"; echo "skip medusa: npm install failed (registry unreachable?)"; exit 77; }
fi
cat >"$app/medusa-config.js" <<'JS'
// written by tests/adapters/medusa/medusa_test.sh
const { defineConfig } = require('@medusajs/framework/utils')
module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    http: { storeCors: '*', adminCors: '*', authCors: '*', jwtSecret: 'test-only', cookieSecret: 'test-only' },
  },
  admin: { disable: true },
  plugins: [{ resolve: 'patron-medusa', options: { socketPath: process.env.PATRON_SOCKET, timeoutMs: 150,
    retryMs: 300, currency: 'EUR' } }],
})
JS
mkdir -p "$app/src"

# 2. the plugin and patron-client from their packed tarballs
(cd "$tmp" && npm pack --silent "$root/adapters/node" >/dev/null && npm pack --silent "$root/adapters/medusa" >/dev/null) ||
  { echo "FAIL medusa: npm pack"; exit 1; }
(cd "$app" && npm install --no-save --offline --no-audit --no-fund "$tmp"/patron-client-*.tgz "$tmp"/patron-medusa-*.tgz \
  >"$tmp/npm-plugin.log" 2>&1) || { cat "$tmp/npm-plugin.log"; echo "FAIL medusa: installing the tarballs"; exit 1; }
[ -f "$app/node_modules/patron-medusa/.medusa/server/src/modules/patron/index.js" ] &&
  echo "ok   medusa: patron-medusa installed from its packed tarball" || { echo "FAIL medusa: plugin layout"; exit 1; }

# 3. PostgreSQL: a migrated template cluster, once; each run works on a copy
medusa() { (cd "$app" && NODE_ENV=production node node_modules/@medusajs/cli/cli.js "$@"); }
template=$app/../medusa-pgdata-$version
if [ ! -f "$template/.patron-ready" ]; then
  rm -rf "$template" && mkdir -p "$template" && [ -n "${asuser[*]}" ] && chown postgres "$template"
  "${asuser[@]}" "$pgbin/initdb" -D "$template" -A trust -U postgres >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; exit 1; }
  port=$(free_port)
  pg_start "$template" "$port"
  "${asuser[@]}" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc 'CREATE DATABASE medusa' || exit 1
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/medusa"
  echo "medusa: db:migrate and admin user (once; cached in $template)"
  medusa db:migrate >"$tmp/migrate.log" 2>&1 || { tail -20 "$tmp/migrate.log"; exit 1; }
  medusa user -e admin@patron.test -p admin-test-pass >"$tmp/user.log" 2>&1 || { tail -20 "$tmp/user.log"; exit 1; }
  "${asuser[@]}" "$pgbin/pg_ctl" -D "$template" -m fast stop >/dev/null
  pgpid_dir=
  touch "$template/.patron-ready"
fi
mkdir "$tmp/pg" && cp -a "$template/." "$tmp/pg/" && rm -f "$tmp/pg/postmaster.pid" "$tmp/pg/server.log"
[ -n "${asuser[*]}" ] && chown -R postgres "$tmp/pg" && chmod 700 "$tmp/pg"
port=$(free_port)
pg_start "$tmp/pg" "$port"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/medusa"

# 4. the live server, then Medusa's own APIs
hport=$(free_port)
(cd "$app" && NODE_ENV=production PORT=$hport exec setsid node node_modules/@medusajs/cli/cli.js start) >"$tmp/medusa.log" 2>&1 &
srv=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$hport/health" >/dev/null 2>&1 && break
  kill -0 "$srv" 2>/dev/null || break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$hport/health" >/dev/null || { tail -30 "$tmp/medusa.log"; echo "FAIL medusa: server did not start"; exit 1; }
echo "ok   medusa: Medusa $version serving with the plugin ($(( $(date +%s) - t0 )) s so far)"
MEDUSA_URL=http://127.0.0.1:$hport MEDUSA_APP=$app PATRON_CLIENT=$app/node_modules/patron-client node "$here/e2e.js"
rc=$?
[ $rc -ne 0 ] && grep -i -E "patron|error" "$tmp/medusa.log" | tail -20
echo "medusa: $(( $(date +%s) - t0 )) s in all"
exit $rc
