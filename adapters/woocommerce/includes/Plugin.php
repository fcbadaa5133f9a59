<?php
/* Plugin.php -- the WooCommerce hooks of Patron for WooCommerce.
 * Owns: registering every hook (add_action/add_filter with WooCommerce's documented names),
 * one Patron\Client and one page Budget per request, the retry queue of writes that found
 * Patron unavailable (WP option, bounded, drained by WP-Cron; safe because every write is
 * idempotent on Woo ids), and what the storefront shows.
 * Invariants: a storefront hook never throws and never waits longer than the page budget:
 * Patron down means the page renders as without the plugin (Woo's own cross-sells/upsells,
 * no tier line, no offer); writes are never lost silently (queued, or logged when refused as
 * bad input). */
declare(strict_types=1);

namespace Patron\WooCommerce;

use Patron\Breaker;
use Patron\Budget;
use Patron\Client;
use Patron\PatronException;
use Patron\UnavailableException;

final class Plugin
{
    public const OPTION = 'patron_wc_settings';
    public const QUEUE = 'patron_wc_retry_queue';
    public const QUEUE_MAX = 1000;
    public const CRON = 'patron_wc_retry';
    public const DEFAULTS = [
        'socket' => '/run/patron/patron.sock',
        'timeout_ms' => 150,          // one call
        'budget_ms' => 300,           // all Patron calls of one page together
        'cooldown_ms' => 5000,        // circuit open this long after repeated failures
        'show_cross_sells' => true,   // cart: woocommerce_cart_crosssell_ids
        'show_upsells' => true,       // product page: woocommerce_product_get_upsell_ids
        'show_related' => true,       // product page: woocommerce_related_products
        'show_tier' => true,          // My Account dashboard
        'apply_offers' => false,      // offers.decide -> a cart discount (fee), offers.redeem
        'redeem_points' => false,     // checkout: spend points (loyalty.redeem) as an order fee
        'limit' => 4,
    ];

    private static ?Client $client = null;
    private static ?Budget $budget = null;

    public static function settings(): array
    {
        $s = get_option(self::OPTION, []);
        return array_merge(self::DEFAULTS, is_array($s) ? $s : []);
    }

    public static function register(): void
    {
        // writes: paid orders, refunds, products and stock, customers
        add_action('woocommerce_order_status_processing', [self::class, 'onOrderPaid'], 10, 2);
        add_action('woocommerce_order_status_completed', [self::class, 'onOrderPaid'], 10, 2);
        add_action('woocommerce_order_refunded', [self::class, 'onOrderRefunded'], 10, 2);
        add_action('woocommerce_new_product', [self::class, 'onProductSaved'], 10, 2);
        add_action('woocommerce_update_product', [self::class, 'onProductSaved'], 10, 2);
        add_action('woocommerce_product_set_stock', [self::class, 'onStockChanged'], 10, 1);
        add_action('woocommerce_variation_set_stock', [self::class, 'onStockChanged'], 10, 1);
        add_action('user_register', [self::class, 'onCustomerSaved'], 10, 1);
        add_action('profile_update', [self::class, 'onCustomerSaved'], 10, 1);
        add_action(self::CRON, [self::class, 'drainQueue']);
        // storefront
        add_filter('woocommerce_cart_crosssell_ids', [self::class, 'crossSellIds'], 10, 2);
        add_filter('woocommerce_product_get_upsell_ids', [self::class, 'upsellIds'], 10, 2);
        add_filter('woocommerce_related_products', [self::class, 'relatedIds'], 10, 3);
        add_action('woocommerce_account_dashboard', [self::class, 'accountDashboard']);
        Checkout::register(); // offers, points redemption, block checkout (Checkout.php)
    }

    public static function client(): ?Client
    {
        if (self::$client === null) {
            if (!class_exists(Client::class)) {
                return null; // Patron.php not loaded: the plugin stays inert (admin notice)
            }
            $s = self::settings();
            self::$client = new Client((string)$s['socket'], (int)$s['timeout_ms'],
                Breaker::forSocket((string)$s['socket'], 3, (int)$s['cooldown_ms']));
        }
        return self::$client;
    }

    /** The budget of this request's page (created by its first storefront call). */
    public static function budget(): Budget
    {
        return self::$budget ??= new Budget((int)self::settings()['budget_ms']);
    }

    /** Forget the per-request client and budget (tests; long-running CLI loops). */
    public static function reset(): void
    {
        self::$client = null;
        self::$budget = null;
    }

    // ---- writes -------------------------------------------------------------------------

    /** Calls a write; unavailable -> queued for WP-Cron; refused -> logged. Returns the result or null. */
    public static function write(string $method, array $params): mixed
    {
        $c = self::client();
        if ($c === null) {
            return null;
        }
        try {
            return $c->call($method, $params);
        } catch (UnavailableException $e) {
            self::enqueue($method, $params);
        } catch (PatronException $e) {
            error_log("patron: $method refused: {$e->errorCode} {$e->getMessage()}" .
                ($e->field ? " (field {$e->field})" : ''));
        }
        return null;
    }

    public static function enqueue(string $method, array $params): void
    {
        $q = get_option(self::QUEUE, []);
        $q = is_array($q) ? $q : [];
        $q[] = ['m' => $method, 'p' => $params];
        if (count($q) > self::QUEUE_MAX) { // oldest dropped: the backfill command recovers orders
            $q = array_slice($q, -self::QUEUE_MAX);
        }
        update_option(self::QUEUE, $q, false);
        if (function_exists('wp_next_scheduled') && !wp_next_scheduled(self::CRON)) {
            wp_schedule_single_event(time() + 60, self::CRON);
        }
    }

    /** WP-Cron: replay queued writes in order; stops at the first still-unavailable one. */
    public static function drainQueue(): int
    {
        $q = get_option(self::QUEUE, []);
        $c = self::client();
        $done = 0;
        while ($c !== null && is_array($q) && $q !== []) {
            try {
                $c->call($q[0]['m'], $q[0]['p']);
            } catch (UnavailableException $e) {
                break;
            } catch (PatronException $e) {
                error_log("patron: queued {$q[0]['m']} refused: {$e->errorCode} {$e->getMessage()}");
            }
            array_shift($q);
            $done++;
        }
        update_option(self::QUEUE, $q, false);
        if ($q !== [] && function_exists('wp_schedule_single_event')) {
            wp_schedule_single_event(time() + 60, self::CRON);
        }
        return $done;
    }

    public static function onOrderPaid(int $orderId, ?object $order = null): void
    {
        $order ??= wc_get_order($orderId);
        if (!$order) {
            return;
        }
        $p = Mapper::order($order);
        if ($p['lines'] !== []) {
            self::write('order.record', $p);
        }
    }

    public static function onOrderRefunded(int $orderId, int $refundId): void
    {
        $order = wc_get_order($orderId);
        $refund = wc_get_order($refundId);
        if (!$order || !$refund) {
            return;
        }
        // the order must be in Patron first (a refund of an order never marked paid is skipped)
        $p = Mapper::refund($order, $refund);
        if ($p['amount'] > 0) {
            self::write('order.refund', $p);
        }
    }

    public static function onProductSaved(int $productId, ?object $product = null): void
    {
        $product ??= wc_get_product($productId);
        if ($product) {
            self::write('product.upsert', Mapper::product($product, get_woocommerce_currency(),
                self::categoryOf($product)));
        }
    }

    public static function onStockChanged(object $product): void
    {
        self::write('product.upsert', Mapper::product($product, get_woocommerce_currency(),
            self::categoryOf($product)));
    }

    private static function categoryOf(object $product): string
    {
        $parent = (int)$product->get_parent_id();
        $ids = $parent > 0 && ($p = wc_get_product($parent)) ? $p->get_category_ids() : $product->get_category_ids();
        if ($ids === []) {
            return '';
        }
        $term = get_term((int)$ids[0], 'product_cat');
        return ($term && !is_wp_error($term)) ? (string)$term->slug : '';
    }

    public static function onCustomerSaved(int $userId): void
    {
        $user = get_userdata($userId);
        if ($user) {
            self::write('customer.upsert', Mapper::customer($user));
        }
    }

    // ---- storefront (fail open: the filtered value passes through untouched) -----------

    /** @param int[] $ids Woo's own cross-sells @param object $cart WC_Cart */
    public static function crossSellIds(array $ids, ?object $cart = null): array
    {
        $s = self::settings();
        $c = self::client();
        if (!$s['show_cross_sells'] || $c === null || $cart === null) {
            return $ids;
        }
        $inCart = [];
        foreach ($cart->get_cart() as $line) {
            $inCart[] = (string)(($line['variation_id'] ?? 0) ?: $line['product_id']);
        }
        if ($inCart === []) {
            return $ids;
        }
        $opts = ['limit' => (int)$s['limit']];
        $uid = get_current_user_id();
        if ($uid > 0) {
            $opts['customer_id'] = (string)$uid;
        }
        $recs = $c->recsCart($inCart, $opts, null, self::budget());
        return $recs === [] ? $ids : self::productIds($recs);
    }

    /** @param int[] $ids the product's own upsells @param object $product WC_Product */
    public static function upsellIds(array $ids, object $product): array
    {
        $s = self::settings();
        $c = self::client();
        if (!$s['show_upsells'] || $c === null) {
            return $ids;
        }
        $recs = $c->recsUpsell((string)$product->get_id(), ['limit' => (int)$s['limit']], null, self::budget());
        return $recs === [] ? $ids : self::productIds($recs);
    }

    /** @param int[] $related Woo's related ids */
    public static function relatedIds(array $related, int $productId, array $args = []): array
    {
        $s = self::settings();
        $c = self::client();
        if (!$s['show_related'] || $c === null) {
            return $related;
        }
        try {
            $r = $c->call('recs.similar', ['product_id' => (string)$productId, 'limit' => (int)$s['limit']],
                null, self::budget());
        } catch (PatronException $e) {
            return $related;
        }
        $ids = self::productIds($r['items'] ?? []);
        return $ids === [] ? $related : $ids;
    }

    /** My Account: tier and points (loyalty.tier, loyalty.points; nothing when unknown). */
    public static function accountDashboard(): void
    {
        $s = self::settings();
        $c = self::client();
        $uid = get_current_user_id();
        if (!$s['show_tier'] || $c === null || $uid <= 0) {
            return;
        }
        $tier = $c->tier((string)$uid, null, self::budget());
        $points = $c->points((string)$uid, null, self::budget());
        if ($tier === Client::UNKNOWN_TIER && !$points) {
            return;
        }
        echo '<p class="patron-tier">';
        if ($tier !== Client::UNKNOWN_TIER) {
            echo esc_html(sprintf(__('Your tier: %s', 'patron'), $tier)), $points !== null ? ' &middot; ' : '';
        }
        if ($points !== null) {
            echo esc_html(sprintf(__('%d points', 'patron'), $points));
        }
        echo "</p>\n";
    }

    /** @param array $recs [{product_id, ...}] -> Woo ids (ints, as Woo's filters expect) */
    private static function productIds(array $recs): array
    {
        $ids = [];
        foreach ($recs as $r) {
            if (isset($r['product_id']) && ctype_digit((string)$r['product_id'])) {
                $ids[] = (int)$r['product_id'];
            }
        }
        return $ids;
    }
}
