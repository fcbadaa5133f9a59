<?php
/* Checkout.php -- what Patron changes at checkout, classic and block (Store API).
 * Owns: the decided offer as a negative cart fee (offers.decide, its impressions, and
 * offers.redeem keyed "wc:<order id>:offer" once the order exists); the loyalty points the
 * customer chooses to spend (loyalty.redeem keyed "wc:<order id>:points", applied as a
 * negative fee on the order before payment is taken; released with loyalty.redeem.cancel
 * when the order is cancelled (WooCommerce also cancels unpaid orders after its hold-stock
 * time) or fully refunded); the block checkout's Store API
 * extension data (namespace "patron": cart -> {tier, points}, checkout <- {points}).
 * Invariants: fail open -- Patron unavailable means no offer shown, points not spent (the
 * customer keeps them, an order note says so) and an offer already shown keeps its discount
 * with its redemption queued for WP-Cron; a refused redemption never leaves its discount
 * on the order. Every write is idempotent on the Woo order id, so a checkout submitted
 * twice redeems once. Offers are for logged-in customers only (a guest has no stable id
 * before the order). Amounts: minor units from Patron, fees in the order's decimals. */
declare(strict_types=1);

namespace Patron\WooCommerce;

use Patron\Client;
use Patron\PatronException;
use Patron\UnavailableException;

final class Checkout
{
    public const POINTS_META = '_patron_points_redemption'; // {id, points, value, currency}
    public const OFFER_META = '_patron_offer_redemption';   // {key, offer_id, discount, state}
    public const SESSION_OFFER = 'patron_offer';            // the offer shown on the cart
    public const SESSION_SEEN = 'patron_impressions';       // impression ids already logged
    public const FIELD = 'patron_points';                   // classic checkout form field
    public const STORE_API_NAMESPACE = 'patron';

    public static function register(): void
    {
        add_action('woocommerce_cart_calculate_fees', [self::class, 'applyOffer'], 10, 1);
        add_action('woocommerce_review_order_before_payment', [self::class, 'pointsField']);
        add_action('woocommerce_checkout_order_processed', [self::class, 'onClassicCheckout'], 10, 3);
        add_action('woocommerce_store_api_checkout_update_order_from_request', [self::class, 'onBlockCheckout'], 10, 2);
        add_action('woocommerce_blocks_loaded', [self::class, 'registerStoreApi']);
        // not on "failed": the customer may pay the same order again, with its points fee
        foreach (['cancelled', 'refunded'] as $status) {
            add_action("woocommerce_order_status_$status", [self::class, 'releasePoints'], 10, 2);
        }
    }

    private static function session(): ?object
    {
        return function_exists('WC') && isset(WC()->session) ? WC()->session : null;
    }

    private static function money(int $minor, string $currency): float
    {
        return $minor / (10 ** Mapper::exponent($currency));
    }

    /** Minor units -> Woo's decimal string in the currency's exponent ("-2.00", "-150"). */
    private static function decimal(int $minor, string $currency): string
    {
        return number_format(self::money($minor, $currency), Mapper::exponent($currency), '.', '');
    }

    /** offers.* cart (protocol names, Client::offersParams maps them) of WC_Cart lines. */
    private static function cartOf(array $cartLines, string $currency): array
    {
        $lines = [];
        foreach ($cartLines as $line) {
            $qty = max(1, (int)$line['quantity']);
            $lines[] = ['product_id' => (string)(($line['variation_id'] ?? 0) ?: $line['product_id']),
                'quantity' => $qty, 'unit_price' => intdiv(Mapper::minor($line['line_subtotal'], $currency), $qty)];
        }
        return ['currency' => strtoupper($currency), 'lines' => $lines];
    }

    /** The same cart from a WC_Order's items (what the token is redeemed against). */
    private static function cartOfOrder(object $order): array
    {
        $p = Mapper::order($order);
        return ['currency' => $p['currency'], 'lines' => $p['lines']];
    }

    // ---- offers ----------------------------------------------------------------------------

    /** woocommerce_cart_calculate_fees: the best shown offer as a negative fee; impressions of
     *  every decided entry (held-out ones too: they measure the control arm) logged once. */
    public static function applyOffer(object $cart): void
    {
        $s = Plugin::settings();
        $c = Plugin::client();
        $uid = get_current_user_id();
        $session = self::session();
        if (!$s['apply_offers'] || $c === null || $uid <= 0) {
            return;
        }
        $cur = get_woocommerce_currency();
        $offerCart = self::cartOf($cart->get_cart(), $cur);
        if ($offerCart['lines'] === []) {
            return;
        }
        try {
            $decision = $c->call('offers.decide', Client::offersParams((string)$uid, $offerCart), null, Plugin::budget());
        } catch (PatronException $e) {
            $session?->set(self::SESSION_OFFER, null);
            return; // unavailable or refused: no offer, the cart as without the plugin
        }
        $shown = null;
        $seen = (array)($session?->get(self::SESSION_SEEN) ?? []);
        foreach ($decision['offers'] ?? [] as $o) {
            if (!in_array($o['impression_id'], $seen, true)) {
                try {
                    $c->call('offers.event', ['type' => 'impression', 'idempotency_key' => $o['impression_id'],
                        'offer_id' => $o['offer_id'], Client::OFFERS_WIRE['customer_id'] => (string)$uid,
                        'arm' => (int)$o['arm']], null, Plugin::budget());
                    $seen[] = $o['impression_id'];
                } catch (PatronException $e) {
                    // an impression lost costs one exposure in the report, never the page
                }
            }
            $shown ??= empty($o['held_out']) && (int)$o['discount'] > 0 ? $o : null;
        }
        $session?->set(self::SESSION_SEEN, array_slice($seen, -50));
        $session?->set(self::SESSION_OFFER, $shown === null ? null : ['token' => $shown['token'],
            'offer_id' => $shown['offer_id'], 'discount' => (int)$shown['discount'], 'currency' => $shown['currency'],
            'customer_id' => (string)$uid]);
        if ($shown !== null) {
            $cart->add_fee(self::offerLabel(), -self::money((int)$shown['discount'], $cur));
        }
    }

    public static function offerLabel(): string
    {
        return __('Your offer', 'patron');
    }

    /** offers.redeem of the offer shown on the cart, once the order exists. Refused: its fee
     *  leaves the order. Unavailable: the fee stays, the redemption is queued. */
    private static function redeemOffer(object $order): void
    {
        $session = self::session();
        $shown = $session?->get(self::SESSION_OFFER);
        $fee = null;
        foreach ($order->get_fees() as $itemId => $item) {
            if ($item->get_name() === self::offerLabel()) {
                $fee = $itemId;
            }
        }
        if (!is_array($shown) || $fee === null || $order->get_meta(self::OFFER_META)) {
            return;
        }
        $key = Mapper::orderId($order->get_id()) . ':offer';
        $params = Client::offersParams($shown['customer_id'], self::cartOfOrder($order),
            ['token' => $shown['token'], 'idempotency_key' => $key]);
        $meta = ['key' => $key, 'offer_id' => $shown['offer_id'], 'discount' => $shown['discount']];
        try {
            $r = Plugin::client()->call('offers.redeem', $params);
            $meta['state'] = 'redeemed';
            $meta['discount'] = (int)$r['discount'];
            $order->add_order_note(sprintf('Patron: offer %s redeemed (%s).', $shown['offer_id'], $key));
        } catch (UnavailableException $e) {
            Plugin::enqueue('offers.redeem', $params);
            $meta['state'] = 'queued';
            $order->add_order_note(sprintf('Patron unavailable: offer %s kept, its redemption queued.', $shown['offer_id']));
        } catch (PatronException $e) {
            $order->remove_item($fee);
            $meta['state'] = 'refused: ' . $e->getMessage();
            $order->add_order_note(sprintf('Patron refused offer %s (%s): discount removed.', $shown['offer_id'], $e->getMessage()));
        }
        $order->update_meta_data(self::OFFER_META, $meta);
        $session?->set(self::SESSION_OFFER, null);
    }

    // ---- points ------------------------------------------------------------------------------

    /** woocommerce_review_order_before_payment: the points field of the classic checkout. */
    public static function pointsField(): void
    {
        $c = Plugin::client();
        $uid = get_current_user_id();
        if (!Plugin::settings()['redeem_points'] || $c === null || $uid <= 0) {
            return;
        }
        $balance = $c->points((string)$uid, null, Plugin::budget());
        if ($balance === null || $balance <= 0) {
            return; // unknown or nothing to spend: no field
        }
        printf('<p class="form-row patron-points"><label for="%1$s">%2$s</label> '
            . '<input type="number" min="0" max="%3$d" step="1" name="%1$s" id="%1$s" value="0"></p>',
            esc_attr(self::FIELD), esc_html(sprintf(__('Spend loyalty points (you have %d)', 'patron'), $balance)),
            $balance);
    }

    /** woocommerce_checkout_order_processed (classic checkout, before payment is taken). */
    public static function onClassicCheckout(int $orderId, array $posted, object $order): void
    {
        $points = isset($_POST[self::FIELD]) ? absint(wp_unslash($_POST[self::FIELD])) : 0;
        self::onOrderCreated($order, $points);
    }

    /** woocommerce_store_api_checkout_update_order_from_request (block checkout): the points
     *  come as extensions.patron.points of the checkout request (schema registered below). */
    public static function onBlockCheckout(object $order, object $request): void
    {
        $ext = $request['extensions'] ?? [];
        $points = max(0, (int)($ext[self::STORE_API_NAMESPACE]['points'] ?? 0));
        self::onOrderCreated($order, $points);
    }

    private static function onOrderCreated(object $order, int $points): void
    {
        if (Plugin::client() === null) {
            return;
        }
        self::redeemOffer($order);
        if ($points > 0 && Plugin::settings()['redeem_points']) {
            self::redeemPoints($order, $points);
        }
        $order->calculate_totals(false);
        $order->save();
    }

    /** loyalty.redeem keyed by the order id; the value as a negative fee on the order. */
    private static function redeemPoints(object $order, int $points): void
    {
        $uid = (int)$order->get_customer_id();
        if ($uid <= 0 || $order->get_meta(self::POINTS_META)) {
            return; // guests have no points; a resubmitted checkout keeps its first redemption
        }
        $cur = strtoupper((string)$order->get_currency());
        $id = Mapper::orderId($order->get_id()) . ':points';
        try {
            $r = Plugin::client()->call('loyalty.redeem', ['customer_id' => (string)$uid, 'points' => $points,
                'redemption_id' => $id, 'currency' => $cur, 'cart_ref' => Mapper::orderId($order->get_id())]);
        } catch (UnavailableException $e) {
            $order->add_order_note("Patron unavailable: $points points not redeemed (the customer keeps them).");
            return;
        } catch (PatronException $e) {
            $order->add_order_note("Patron refused the points redemption: {$e->errorCode} {$e->getMessage()}");
            return;
        }
        if (empty($r['accepted'])) {
            $order->add_order_note("Patron: $points points not redeemed ({$r['status']}).");
            return;
        }
        $fee = new \WC_Order_Item_Fee();
        $fee->set_name(sprintf(__('Loyalty points (%d)', 'patron'), (int)$r['points']));
        $fee->set_amount(self::decimal(-(int)$r['value'], $cur));
        $fee->set_total(self::decimal(-(int)$r['value'], $cur));
        $fee->set_tax_status('none');
        $order->add_item($fee);
        $order->update_meta_data(self::POINTS_META, ['id' => $id, 'points' => (int)$r['points'],
            'value' => (int)$r['value'], 'currency' => $cur]);
        $order->add_order_note(sprintf('Patron: %d points redeemed for %d minor units of %s (%s).',
            $r['points'], $r['value'], $cur, $id));
    }

    /** Cancelled or fully refunded: the points go back (loyalty.redeem.cancel; queued when
     *  Patron is unavailable). Offers have no reversal: the budget stays spent. */
    public static function releasePoints(int $orderId, ?object $order = null): void
    {
        $order ??= wc_get_order($orderId);
        $meta = $order ? $order->get_meta(self::POINTS_META) : null;
        if (!is_array($meta) || !empty($meta['released'])) {
            return;
        }
        Plugin::write('loyalty.redeem.cancel', ['redemption_id' => $meta['id']]);
        $meta['released'] = true;
        $order->update_meta_data(self::POINTS_META, $meta);
        $order->add_order_note(sprintf('Patron: %d points returned (%s).', $meta['points'], $meta['id']));
        $order->save();
    }

    // ---- block checkout: Store API extension data ----------------------------------------

    /** woocommerce_blocks_loaded: cart responses carry extensions.patron {tier, points};
     *  checkout requests may carry extensions.patron {points} (read by onBlockCheckout). */
    public static function registerStoreApi(): void
    {
        if (!function_exists('woocommerce_store_api_register_endpoint_data')) {
            return;
        }
        woocommerce_store_api_register_endpoint_data([
            'endpoint' => 'cart', // Automattic\WooCommerce\StoreApi\Schemas\V1\CartSchema::IDENTIFIER
            'namespace' => self::STORE_API_NAMESPACE,
            'data_callback' => [self::class, 'storeApiCartData'],
            'schema_callback' => static fn(): array => [
                'tier' => ['description' => 'Loyalty tier ("unknown" when Patron cannot say)', 'type' => 'string',
                    'context' => ['view', 'edit'], 'readonly' => true],
                'points' => ['description' => 'Spendable points, null when unknown', 'type' => ['integer', 'null'],
                    'context' => ['view', 'edit'], 'readonly' => true],
            ],
            'schema_type' => ARRAY_A,
        ]);
        woocommerce_store_api_register_endpoint_data([
            'endpoint' => 'checkout', // ...\Schemas\V1\CheckoutSchema::IDENTIFIER
            'namespace' => self::STORE_API_NAMESPACE,
            'schema_callback' => static fn(): array => [
                'points' => ['description' => 'Loyalty points to spend on this order', 'type' => 'integer',
                    'minimum' => 0, 'context' => ['view', 'edit'], 'optional' => true],
            ],
            'schema_type' => ARRAY_A,
        ]);
    }

    public static function storeApiCartData(): array
    {
        $c = Plugin::client();
        $uid = get_current_user_id();
        if ($c === null || $uid <= 0) {
            return ['tier' => Client::UNKNOWN_TIER, 'points' => null];
        }
        return ['tier' => $c->tier((string)$uid, null, Plugin::budget()),
            'points' => $c->points((string)$uid, null, Plugin::budget())];
    }
}
