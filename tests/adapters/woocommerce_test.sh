#!/usr/bin/env bash
# woocommerce_test.sh -- adapters/woocommerce on a real WordPress (Debian's wordpress package)
# with a throwaway MariaDB (mariadb-install-db + mariadbd on a temp socket, as this user), the
# plugin activated through WordPress, served by php-fpm8.2 with the shipped preload files and
# driven by cgi-fcgi, against the patrond run.sh started. WooCommerce is replaced by the test
# doubles in woocommerce/doubles.php (documented there); hooks are fired with WordPress's own
# do_action/apply_filters under WooCommerce's hook names (woocommerce/page.php).
# Checks: writes land in Patron (patronctl reads them back: prices in minor units by currency
# exponent, guests, variations' categories, refunds, stock, registered users), the storefront
# filters return Patron's ids, My Account and the block checkout's Store API cart data show
# the loyalty tier and points Patron holds (a program and an offer from loyalty_offer.json
# set on the admin socket first), the decided offer becomes a cart fee and is redeemed
# (offers.redeem) when the order is placed, points chosen at the classic checkout (form field)
# and at the block checkout (extensions.patron.points) are redeemed (loyalty.redeem keyed by
# the order) as an order fee and returned when the order is cancelled or refunded; a stopped patrond
# leaves Woo's own ids within the page budget, no offer and no points spent, and queues the
# write, which WP-Cron's hook replays once Patron is back.
# Owns: its temp DB, site and FPM; kills what it started, by pid. Exit 77 when a tool is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
wc=$here/woocommerce
ctl=${PATRONCTL:-$(dirname "$PATRON_CLIENT_LIB")/patronctl}
for t in /usr/share/wordpress/wp-settings.php /usr/bin/mariadb-install-db /usr/sbin/mariadbd; do
  [ -e "$t" ] || { echo "skip woocommerce: $t missing (apt-get install wordpress mariadb-server php8.2-mysql)"; exit 77; }
done
tmp=$(mktemp -d /tmp/patron-wc.XXXXXX)
fpid=
dbpid=
cleanup() {
  [ -n "$fpid" ] && kill -TERM "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
  [ -n "$dbpid" ] && kill -TERM "$dbpid" 2>/dev/null && wait "$dbpid" 2>/dev/null
  kill -CONT "$PATRON_TEST_PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/fpm_lib.sh"
fpm_available || { echo "skip woocommerce: php-fpm8.2 or cgi-fcgi missing"; exit 77; }
php -m | grep -qx mysqli || { echo "skip woocommerce: php8.2-mysql missing"; exit 77; }
fails=0
ok() { echo "ok   woocommerce: $1"; }
bad() { echo "FAIL woocommerce: $1"; fails=$((fails + 1)); }
t0=$(date +%s%N)

# 1. MariaDB on a temp socket
mariadb-install-db --no-defaults --datadir="$tmp/db" --user="$(id -un)" --auth-root-authentication-method=normal \
  --skip-test-db >"$tmp/db-install.log" 2>&1 || { cat "$tmp/db-install.log"; exit 1; }
/usr/sbin/mariadbd --no-defaults --datadir="$tmp/db" --socket="$tmp/my.sock" --skip-networking --user="$(id -un)" \
  --pid-file="$tmp/my.pid" --log-error="$tmp/db.log" --innodb-buffer-pool-size=16M --skip-log-bin >"$tmp/db.out" 2>&1 &
dbpid=$!
for _ in $(seq 1 300); do [ -S "$tmp/my.sock" ] && break; kill -0 "$dbpid" 2>/dev/null || break; sleep 0.05; done
mariadb --no-defaults -S "$tmp/my.sock" -u root -e 'CREATE DATABASE wp' || { cat "$tmp/db.log"; exit 1; }

# 2. the site: Debian's WordPress code, our wp-config, a temp wp-content with the plugin
mkdir -p "$tmp/wp-content/plugins" "$tmp/wp-content/mu-plugins"
ln -s "$root/adapters/woocommerce" "$tmp/wp-content/plugins/patron-for-woocommerce"
cp "$wc/mu-doubles.php" "$tmp/wp-content/mu-plugins/"
export PATRON_WP_DB_SOCKET=$tmp/my.sock PATRON_WP_CONTENT=$tmp/wp-content \
  PATRON_PHP_CLIENT=$root/adapters/php/Patron.php PATRON_WC_DOUBLES=$wc/doubles.php
# breaker state files go to PHP's temp dir: keep them in $tmp
export TMPDIR=$tmp
r=$(php -d ffi.enable=1 "$wc/install.php" 2>"$tmp/install.err")  # (wp_install mails the admin: no sendmail here)
[ "$r" = "installed patron-for-woocommerce/patron-for-woocommerce.php" ] && ok "WordPress installed, plugin activated through WordPress" ||
  { echo "$r"; cat "$tmp/install.err"; exit 1; }

# 3. php-fpm with the packaged preload files
fpm_start || exit 1
page() { fpm_request "$wc/page.php" "s=$1"; }
jq_py() { python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$1" "$2"; }
call() { "$ctl" -c -s "$PATRON_SOCKET" call "$@" 2>&1; }

# the loyalty program and the offer (tests/adapters/loyalty_offer.json), as the shop's admin sets them
fixture() { python3 -c "import json,sys; print(json.dumps(json.load(open('$here/loyalty_offer.json'))[sys.argv[1]]))" "$1"; }
"$ctl" -c -s "$PATRON_ADMIN_SOCKET" call loyalty.program.set "$(fixture program)" >/dev/null &&
  "$ctl" -c -s "$PATRON_ADMIN_SOCKET" call offers.set "$(fixture offer)" >/dev/null || { echo "FAIL woocommerce: program/offer"; exit 1; }
# a daemon that rebuilds its catalogue on a worker: wait until decide serves the offer (older
# daemons install it with offers.set and answer unknown_method)
r=$("$ctl" -c -s "$PATRON_ADMIN_SOCKET" call offers.reload 2>&1) || case "$r" in *unknown_method*) ;; *) echo "FAIL woocommerce: offers.reload: $r"; exit 1 ;; esac

out=$(page writes)
[ -n "${WC_DEBUG:-}" ] && echo "$out" >&2
[ "$(jq_py "$out" "r['plugin_loaded'] and r['client_preloaded'] and r['queue']")" = 0 ] &&
  ok "writes: hooks fired under FPM (client preloaded), nothing queued" || bad "writes: $out"
uid=$(jq_py "$out" "r['user_id']")
p=$(call product.get '{"product_id":"101"}')
[ "$(jq_py "$p" "(r['price'], r['currency'], r['category'], r['stock'], r['name'])")" = "(1250, 'EUR', 'kitchen', 20, 'Mug')" ] &&
  ok "woocommerce_update_product -> product.upsert (12.50 EUR = 1250, category, stock)" || bad "product 101: $p"
p=$(call product.get '{"product_id":"201"}')
[ "$(jq_py "$p" "(r['price'], r['category'])")" = "(3200, 'kitchen')" ] &&
  ok "variation: own product id, parent's category" || bad "variation 201: $p"
p=$(call product.get '{"product_id":"104"}')
[ "$(jq_py "$p" "r['stock']")" = 0 ] && ok "woocommerce_product_set_stock -> stock 0" || bad "stock 104: $p"
p=$(call customer.get "{\"customer_id\":\"$uid\"}")
[ "$(jq_py "$p" "(r['order_count'], r['email'])")" = "(3, 'ann@shop.test')" ] &&
  ok "user_register (fired by WordPress) -> customer.upsert; 3 orders (EUR + JPY)" || bad "customer $uid: $p"
guest="guest:$(printf '%s' guest@example.com | sha256sum | cut -d' ' -f1)"
p=$(call customer.get "{\"customer_id\":\"$guest\"}")
[ "$(jq_py "$p" "r['order_count']")" = 1 ] && ok "guest order -> customer guest:sha256(lowercased e-mail)" || bad "guest: $p"
p=$(call order.get '{"order_id":"wc:1001"}')
# 2 x 12.50 + 4.99 - 2.00 coupon + 4.90 shipping = 32.89; refunded 10.00
total="sum(l['quantity'] * l['unit_price'] for l in r['lines']) - r['discount'] + r['shipping'] + r['tax']"
[ "$(jq_py "$p" "($total, r['refunded'])")" = "(3289, 1000)" ] &&
  ok "order 1001 processing+completed (one record), coupon, shipping, refund 10.00" || bad "order 1001: $p"
p=$(call order.get '{"order_id":"wc:1004"}')
[ "$(jq_py "$p" "(r['currency'], $total)")" = "('JPY', 1500)" ] && ok "JPY: exponent 0 (1500 JPY = 1500)" || bad "order 1004: $p"

out=$(page store)
[ "$(jq_py "$out" "102 in r['cross'] and 999 not in r['cross']")" = True ] &&
  ok "woocommerce_cart_crosssell_ids: Patron's recs.cart ($(jq_py "$out" "r['cross']"))" || bad "cross-sells: $out"
balance() { jq_py "$(call loyalty.points "{\"customer_id\":\"$uid\",\"limit\":50}")" "$1"; }
pts=$(balance "r['balance']")
[ "$(jq_py "$out" "isinstance(r['upsell'], list) and isinstance(r['related'], list)")" = True ] &&
  ok "upsell/related filters answered ($(jq_py "$out" "(r['upsell'], r['related'])"))" || bad "store: $out"
[ "$(jq_py "$out" "r['dashboard'].strip()")" = "<p class=\"patron-tier\">Your tier: silver &middot; $pts points</p>" ] && [ "$pts" -gt 0 ] &&
  ok "woocommerce_account_dashboard: tier and points as Patron holds them (loyalty.tier, loyalty.points: $pts)" || bad "dashboard ($pts): $out"

out=$(page loyalty)
[ "$(jq_py "$out" "(r['store_api'], r['cart_data'], r['checkout_schema'])")" = "({'cart': ['patron'], 'checkout': ['patron']}, {'tier': 'silver', 'points': $pts}, ['points'])" ] &&
  ok "block checkout: Store API extension data registered (cart -> tier/points, checkout <- points)" || bad "store api: $out"
[ "$(jq_py "$out" "'max=\"$pts\"' in r['points_field'] and 'name=\"patron_points\"' in r['points_field']")" = True ] &&
  ok "classic checkout: the points field, at most the balance" || bad "points field: $out"

out=$(page checkout)
[ -n "${WC_DEBUG:-}" ] && echo "$out" >&2
[ "$(jq_py "$out" "r['cart_fees']")" = "[['Your offer', -5]]" ] &&
  ok "woocommerce_cart_calculate_fees: the decided offer (offers.decide, 5.00 off) as a cart fee" || bad "cart fee: $out"
[ "$(jq_py "$out" "(r['order']['fees'], r['order']['total'], r['resubmitted_fees'])")" = "([['Your offer', '-5.00'], ['Loyalty points (40)', '-2.00']], '18.00', 2)" ] &&
  ok "woocommerce_checkout_order_processed: 40 points -> 2.00 off the order before payment (25.00 - 5.00 - 2.00 = 18.00; resubmitted: once)" ||
  bad "checkout order: $out"
[ "$(jq_py "$out" "(r['order']['points'], r['order']['offer']['state'], r['order']['offer']['key'])")" = "({'id': 'wc:1006:points', 'points': 40, 'value': 200, 'currency': 'EUR'}, 'redeemed', 'wc:1006:offer')" ] &&
  ok "redemptions keyed by the Woo order id (wc:1006:points, wc:1006:offer)" || bad "checkout meta: $out"
p=$(call experiments.report '{"offer_id":"five_off"}')
[ "$(jq_py "$p" "(r['redemptions'], r['arms'][1]['exposures'])")" = "(1, 1)" ] &&
  ok "offers.redeem and the impression (offers.event) reached Patron: 1 redemption, 1 exposure" || bad "offer report: $p"
p=$(call loyalty.points "{\"customer_id\":\"$uid\",\"limit\":50}")
[ "$(jq_py "$p" "[(h['type'], h['amount']) for h in r['history'] if h['key'] == 'wc:1006:points']")" = "[('redeem', -40)]" ] &&
  ok "loyalty.redeem in Patron's ledger (40 points, key wc:1006:points)" || bad "ledger: $p"
p=$(call order.get '{"order_id":"wc:1006"}')
[ "$(jq_py "$p" "($total, r['discount'])")" = "(1800, 700)" ] &&
  ok "order.record of the paid order: offer and points fees as its discount (total 18.00)" || bad "order 1006: $p"
[ "$(jq_py "$out" "r['small_cart_fees']")" = "[]" ] && ok "cart under the offer's minimum: no fee" || bad "small cart: $out"

pts=$(balance "r['balance']")
out=$(page blocks)
[ "$(jq_py "$out" "(r['order']['fees'], r['order']['total'], r['order']['points']['id'])")" = "([['Loyalty points (20)', '-1.00']], '11.50', 'wc:1007:points')" ] &&
  ok "woocommerce_store_api_checkout_update_order_from_request: extensions.patron.points = 20 -> 1.00 off" || bad "blocks: $out"
after=$(balance "r['balance']")
[ "$(jq_py "$out" "(r['cancelled']['points'].get('released'), r['queue'])")" = "(True, 0)" ] && [ "$after" = "$pts" ] &&
  [ "$(balance "[h['type'] for h in r['history'] if h['key'] and h['key'].startswith('wc:1007')]")" = "['redeem_cancel', 'redeem']" ] &&
  ok "woocommerce_order_status_cancelled: loyalty.redeem.cancel returns the 20 points (balance $after again)" || bad "cancel ($pts -> $after): $out"
[ "$(jq_py "$out" "(r['refunded']['fees'], r['refunded']['points']['released'])")" = "([['Loyalty points (30)', '-1.50']], True)" ] &&
  [ "$(balance "[h['type'] for h in r['history'] if h['key'] and h['key'].startswith('wc:1009')]")" = "['redeem_cancel', 'redeem']" ] &&
  ok "woocommerce_order_status_refunded: 30 points (1.50) returned too" || bad "refunded: $out"

kill -STOP "$PATRON_TEST_PID"
out=$(page down)
kill -CONT "$PATRON_TEST_PID"
[ "$(jq_py "$out" "(r['cross'], r['upsell'], r['related'], r['dashboard'])")" = "([999], [998], [997], '')" ] &&
  ok "patrond stopped: Woo's own cross-sells/upsells/related, no tier line" || bad "down: $out"
[ "$(jq_py "$out" "r['page_ms'] < 400")" = True ] &&
  ok "patrond stopped: 5 Patron lookups cost $(jq_py "$out" "round(r['page_ms'])") ms (timeout 150, budget 300)" || bad "down page time: $out"
[ "$(jq_py "$out" "r['queue']")" = 1 ] && ok "paid order while down: queued for WP-Cron" || bad "queue: $out"
[ "$(jq_py "$out" "(r['checkout']['fees'], r['checkout']['total'], r['checkout']['points'], r['checkout']['notes'])")" = \
  "([], '25.00', '', ['Patron unavailable: 20 points not redeemed (the customer keeps them).'])" ] &&
  ok "checkout while down: no offer, points not spent (an order note says so), full price" || bad "checkout down: $out"
for _ in $(seq 1 100); do  # the circuit's cool-down (300 ms) then the probe: poll the drain hook
  out=$(page drain)
  [ "$(jq_py "$out" "r['queue']")" = 0 ] && break
  sleep 0.05
done
p=$(call order.get '{"order_id":"wc:1005"}')
[ "$(jq_py "$out" "r['queue']")" = 0 ] && [ "$(jq_py "$p" "($total, r['customer_id'])")" = "(499, '$uid')" ] &&
  ok "Patron back: the WP-Cron hook replays the queued order" || bad "drain: $out / $p"
# 4. wp patron backfill (WP-CLI test double, php-cli): progress, cursor, resume, stop when down
bf() { php -d ffi.enable=1 "$wc/backfill.php" "$@" 2>>"$tmp/backfill.err"; }
out=$(bf 1)
[ "$(jq_py "$out" "(r['total'], r['ticks'], r['cursor'], r['log'][-1].startswith('success: 3 orders sent'))")" = "(3, 3, 2003, True)" ] &&
  ok "backfill: 3 paid orders in batches of 2, progress 3/3, cursor at #2003" || bad "backfill 1: $out"
out=$(bf 2)
[ "$(jq_py "$out" "(r['total'], r['ticks'], r['cursor'])")" = "(1, 1, 2004)" ] &&
  ok "backfill again: resumes after #2003 (only #2004 sent; pending #2005 skipped)" || bad "backfill 2: $out"
p=$(call order.get '{"order_id":"wc:2005"}')
case "$p" in *not_found*) ok "pending order never sent" ;; *) bad "order 2005: $p" ;; esac
kill -STOP "$PATRON_TEST_PID"
out=$(bf 2 --restart)
kill -CONT "$PATRON_TEST_PID"
[ "$(jq_py "$out" "(r['cursor'], r['ticks'], r['log'][-1].startswith('error: Patron unavailable at order #2001'))")" = "(0, 0, True)" ] &&
  ok "backfill --restart while patrond is stopped: stops at #2001, cursor not moved" || bad "backfill down: $out"
echo "woocommerce: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ $fails -eq 0 ]
