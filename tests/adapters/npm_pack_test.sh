#!/usr/bin/env bash
# npm_pack_test.sh -- patron-client as npm users get it: `npm pack` of adapters/node, the
# tarball installed into a fresh temporary project (from npm's cache when it has koffi, so
# it works offline after one `npm ci`), required by name and calling ping on the patrond
# run.sh started; its TypeScript types compiled (tsc --strict) against a user of every export.
# Owns: its temp project. Invariant: exit 77 when npm/node or adapters/node's dev tools are missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v npm >/dev/null || { echo "skip npm-pack: npm not installed"; exit 77; }
tsc="$root/adapters/node/node_modules/.bin/tsc"
[ -x "$tsc" ] || { echo "skip npm-pack: typescript not installed (npm ci in adapters/node)"; exit 77; }
tmp=$(mktemp -d /tmp/patron-npm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL npm-pack: $*"; exit 1; }

tgz=$(cd "$tmp" && npm pack --silent "$root/adapters/node") || fail "npm pack"
tar -tzf "$tmp/$tgz" | sort >"$tmp/files"
for f in package/index.js package/binding.js package/worker.js package/index.d.ts package/package.json; do
  grep -qx "$f" "$tmp/files" || fail "$f missing from $tgz"
done
echo "ok   npm-pack: $tgz holds $(wc -l <"$tmp/files") files incl. the types"
mkdir "$tmp/shop" && echo '{"name":"shop","version":"1.0.0","private":true}' >"$tmp/shop/package.json"
(cd "$tmp/shop" && { npm install --offline --no-audit --no-fund "$tmp/$tgz" >"$tmp/npm.log" 2>&1 ||
  npm install --prefer-offline --no-audit --no-fund "$tmp/$tgz" >>"$tmp/npm.log" 2>&1; }) ||
  { cat "$tmp/npm.log"; fail "npm install of the tarball"; }
echo "ok   npm-pack: installed into a fresh project"
out=$(cd "$tmp/shop" && node -e "
const { Client } = require('patron-client');
const c = new Client();
c.ping().then((r) => { console.log(JSON.stringify(r)); return c.close(); }, (e) => { console.log('ERR', e.message); process.exit(1); });
") || fail "require + ping: $out"
case "$out" in *'"pong":true'*) echo "ok   npm-pack: require('patron-client') and ping: $out" ;; *) fail "ping: $out" ;; esac
cat >"$tmp/shop/user.ts" <<'TS'
import { Client, Budget, Breaker, PatronError, Status, RecItem } from 'patron-client';
async function page(): Promise<number> {
  const c = new Client({ timeoutMs: 150, breaker: new Breaker(3, 5000), poolSize: 2 });
  const budget = new Budget(300);
  const items: RecItem[] = await c.recsCart(['a'], { limit: 3 }, { budget });
  const up: RecItem[] = await c.recsUpsell('a', {}, 100);
  const tier: string = await c.tier('c1', { budget });
  const offer = await c.offer('c1', { items: [] });
  try { await c.call<{ pong: boolean }>('ping'); } catch (e) {
    if (e instanceof PatronError && e.unavailable && e.status === Status.UNAVAILABLE) return -1;
  }
  await c.close();
  return items.length + up.length + tier.length + (offer ? 1 : 0) + budget.remainingMs();
}
page();
TS
(cd "$tmp/shop" && "$tsc" --strict --noEmit --module commonjs --target es2020 --moduleResolution node user.ts) ||
  fail "tsc --strict on a user of the types"
echo "ok   npm-pack: the types compile (tsc --strict)"
