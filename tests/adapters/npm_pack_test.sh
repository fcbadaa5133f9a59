#!/usr/bin/env bash
# npm_pack_test.sh -- patron-client as npm users get it: `npm pack` of adapters/node, the
# tarball installed into a fresh temporary project (from npm's cache when it has koffi, so
# it works offline after one `npm ci`), required by name and calling ping on the patrond
# (the same for $PATRON_NPM_TGZ, the tarball the build makes for the .deb, when set)
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
install_and_ping() { # $1 = project dir, $2 = tarball, $3 = what it is
  mkdir "$1" && echo '{"name":"shop","version":"1.0.0","private":true}' >"$1/package.json"
  (cd "$1" && { npm install --offline --no-audit --no-fund "$2" >"$1.log" 2>&1 ||
    npm install --prefer-offline --no-audit --no-fund "$2" >>"$1.log" 2>&1; }) ||
    { cat "$1.log"; fail "npm install of $3"; }
  echo "ok   npm-pack: $3 installed into a fresh project"
  out=$(cd "$1" && node -e "
const { Client } = require('patron-client');
const c = new Client();
c.ping().then((r) => { console.log(JSON.stringify(r)); return c.close(); }, (e) => { console.log('ERR', e.message); process.exit(1); });
") || fail "require + ping: $out"
  case "$out" in *'"pong":true'*) echo "ok   npm-pack: require('patron-client') from $3 and ping: $out" ;; *) fail "ping: $out" ;; esac
}
install_and_ping "$tmp/shop" "$tmp/$tgz" "npm pack's tarball"
# the tarball the build makes and the .deb installs (share/patron/node), when given
if [ -n "${PATRON_NPM_TGZ:-}" ]; then
  [ -f "$PATRON_NPM_TGZ" ] || fail "no $PATRON_NPM_TGZ"
  install_and_ping "$tmp/shop2" "$PATRON_NPM_TGZ" "the packaged $(basename "$PATRON_NPM_TGZ")"
fi
cat >"$tmp/shop/user.ts" <<'TS'
import { Client, Budget, Breaker, PatronError, Status, RecItem, OfferCart, DecidedOffer, offersParams } from 'patron-client';
async function page(): Promise<number> {
  const c = new Client({ timeoutMs: 150, breaker: new Breaker(3, 5000), poolSize: 2 });
  const budget = new Budget(300);
  const items: RecItem[] = await c.recsCart(['a'], { limit: 3 }, { budget });
  const up: RecItem[] = await c.recsUpsell('a', {}, 100);
  const tier: string = await c.tier('c1', { budget });
  const cart: OfferCart = { currency: 'EUR', lines: [{ product_id: 'a', quantity: 1, unit_price: 1299 }] };
  const offer: DecidedOffer | null = await c.offer('c1', cart, { budget });
  const points: number | null = await c.points('c1', { budget });
  const used = offer && offer.token ? (await c.redeemOffer('c1', offer.token, cart, 'k1')).discount : 0;
  const wire: Record<string, unknown> = offersParams('c1', cart);
  try { await c.call<{ pong: boolean }>('ping'); } catch (e) {
    if (e instanceof PatronError && e.unavailable && e.status === Status.UNAVAILABLE) return -1;
  }
  await c.close();
  return items.length + up.length + tier.length + (offer ? offer.discount : 0) + (points ?? 0) + used
    + Object.keys(wire).length + budget.remainingMs();
}
page();
TS
(cd "$tmp/shop" && "$tsc" --strict --noEmit --module commonjs --target es2020 --moduleResolution node user.ts) ||
  fail "tsc --strict on a user of the types"
echo "ok   npm-pack: the types compile (tsc --strict)"
