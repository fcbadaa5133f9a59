<?php
/* page.php -- the request woocommerce_test.sh sends through php-fpm (cgi-fcgi): boots the
 * test WordPress (which loads the activated plugin and the WooCommerce doubles), then fires
 * WooCommerce's documented hooks with WordPress's own do_action/apply_filters for one
 * scenario (QUERY_STRING s=writes|store|loyalty|checkout|blocks|down|drain) and prints one JSON object of what
 * the plugin returned or printed. Never talks to Patron itself: the shell test checks
 * Patron's side with patronctl. */
declare(strict_types=1);
parse_str($_SERVER['QUERY_STRING'] ?? '', $q);
require __DIR__ . '/wp-config.php';

use Patron\WooCommerce\Plugin;

$out = ['scenario' => $q['s'] ?? '', 'plugin_loaded' => class_exists(Plugin::class),
    'client_preloaded' => class_exists(\Patron\Client::class, false)];
$R = Patron_Test_Registry::class;

// the catalogue (same objects every request; WooCommerce would load them from the DB)
$kitchen = term_exists('kitchen', 'product_cat') ?: wp_insert_term('Kitchen', 'product_cat', ['slug' => 'kitchen']);
$kid = (int)(is_array($kitchen) ? $kitchen['term_id'] : $kitchen);
$mug = new WC_Product(101, 'Mug', '12.50', [$kid], 20);
$tea = new WC_Product(102, 'Tea', '4.99', [$kid], null);
$pot = new WC_Product(103, 'Teapot', '30.00', [$kid], 5);
$potBlue = new WC_Product(201, 'Teapot - blue', '32.00', [], 3, 103);
$spoon = new WC_Product(104, 'Spoon', '2.00', [$kid], 50);
$uid = (int)(get_user_by('email', 'ann@shop.test')->ID ?? 0);
$cartWithMug = new WC_Cart([['product_id' => 101, 'variation_id' => 0, 'quantity' => 1, 'line_subtotal' => 12.5]]);

/** What the plugin left on an order: fees, total, its Patron meta and notes. */
function order_state(WC_Order $o): array
{
    $fees = [];
    foreach ($o->get_fees() as $f) {
        $fees[] = [$f->get_name(), $f->get_total()];
    }
    return ['fees' => $fees, 'total' => $o->get_total(), 'notes' => $o->notes,
        'points' => $o->get_meta(Patron\WooCommerce\Checkout::POINTS_META),
        'offer' => $o->get_meta(Patron\WooCommerce\Checkout::OFFER_META)];
}

/** A pending order made from a cart, as WooCommerce's checkout does (cart fees copied). */
function order_from_cart(int $id, int $uid, WC_Cart $cart, array $items): WC_Order
{
    $o = new WC_Order($id, $uid, 'ann@shop.test', 'EUR', $items, 1700020000);
    $o->set_status('pending');
    foreach ($cart->fees as [$name, $amount]) {
        $fee = new WC_Order_Item_Fee();
        $fee->set_name($name);
        $fee->set_total(number_format($amount, 2, '.', ''));
        $o->add_item($fee);
    }
    $o->calculate_totals();
    return $o;
}

function timed_ms(callable $fn, mixed &$result): float
{
    $t0 = hrtime(true);
    $result = $fn();
    return (hrtime(true) - $t0) / 1e6;
}

switch ($q['s'] ?? '') {
    case 'writes':
        foreach ([$mug, $tea, $pot, $potBlue, $spoon] as $p) {
            do_action('woocommerce_update_product', $p->get_id(), $p);
        }
        // a real WordPress user: user_register is fired by WordPress itself
        $uid = wp_insert_user(['user_login' => 'ann', 'user_email' => 'ann@shop.test', 'user_pass' => 'x-test',
            'first_name' => 'Ann', 'last_name' => 'Lee']);
        $out['user_id'] = $uid;
        $t = 1700000000;
        $o1 = new WC_Order(1001, $uid, 'ann@shop.test', 'EUR', [new WC_Order_Item_Product(101, 0, 2, '25.00'),
            new WC_Order_Item_Product(102, 0, 1, '4.99')], $t, '2.00', '4.90', '0');
        $o2 = new WC_Order(1002, 0, 'Guest@Example.com', 'EUR', [new WC_Order_Item_Product(101, 0, 1, '12.50'),
            new WC_Order_Item_Product(104, 0, 3, '6.00')], $t + 60);
        $o3 = new WC_Order(1003, $uid, 'ann@shop.test', 'EUR', [new WC_Order_Item_Product(101, 0, 1, '12.50'),
            new WC_Order_Item_Product(102, 0, 2, '9.98'), new WC_Order_Item_Product(103, 201, 1, '32.00')], $t + 120);
        $o4 = new WC_Order(1004, $uid, 'ann@shop.test', 'JPY', [new WC_Order_Item_Product(104, 0, 1, '1500')], $t + 180);
        do_action('woocommerce_order_status_processing', 1001, $o1);
        do_action('woocommerce_order_status_completed', 1001, $o1); // same order again: a no-op
        foreach ([$o2, $o3, $o4] as $o) {
            do_action('woocommerce_order_status_completed', $o->get_id(), $o);
        }
        $o1->add_refund(new WC_Order_Refund(5001, '10.00', $t + 3600));
        do_action('woocommerce_order_refunded', 1001, 5001);
        $spoon->set_stock_quantity(0);
        do_action('woocommerce_product_set_stock', $spoon);
        $out['queue'] = count(get_option(Plugin::QUEUE, []));
        break;

    case 'store':
    case 'down':
        wp_set_current_user($uid);
        $t0 = hrtime(true);
        $out['cross_ms'] = timed_ms(fn() => apply_filters('woocommerce_cart_crosssell_ids', [999], $cartWithMug), $out['cross']);
        $out['upsell_ms'] = timed_ms(fn() => apply_filters('woocommerce_product_get_upsell_ids', [998], $mug), $out['upsell']);
        $out['related_ms'] = timed_ms(fn() => apply_filters('woocommerce_related_products', [997], 101, []), $out['related']);
        ob_start();
        do_action('woocommerce_account_dashboard');
        $out['dashboard'] = ob_get_clean();
        $out['page_ms'] = (hrtime(true) - $t0) / 1e6;
        if ($q['s'] === 'down') { // a paid order while Patron is down: queued, not lost
            $o5 = new WC_Order(1005, $uid, 'ann@shop.test', 'EUR', [new WC_Order_Item_Product(102, 0, 1, '4.99')], 1700009000);
            do_action('woocommerce_order_status_completed', 1005, $o5);
            $out['queue'] = count(get_option(Plugin::QUEUE, []));
            // checkout meanwhile: no offer, points not spent, the order placed as without Patron
            $cart = new WC_Cart([['product_id' => 101, 'variation_id' => 0, 'quantity' => 2, 'line_subtotal' => 25.0]]);
            do_action('woocommerce_cart_calculate_fees', $cart);
            $o8 = order_from_cart(1008, $uid, $cart, [new WC_Order_Item_Product(101, 0, 2, '25.00')]);
            $_POST[Patron\WooCommerce\Checkout::FIELD] = '20';
            do_action('woocommerce_checkout_order_processed', 1008, [], $o8);
            $out['checkout'] = order_state($o8);
        }
        break;

    case 'loyalty': // My Account and the block checkout's cart data, with a loyalty program set
        wp_set_current_user($uid);
        ob_start();
        do_action('woocommerce_account_dashboard');
        $out['dashboard'] = ob_get_clean();
        do_action('woocommerce_blocks_loaded');
        $out['store_api'] = array_map(fn($byNs) => array_keys($byNs), $R::$storeApi);
        $out['cart_data'] = call_user_func($R::$storeApi['cart']['patron']['data_callback']);
        $out['checkout_schema'] = array_keys(call_user_func($R::$storeApi['checkout']['patron']['schema_callback']));
        ob_start();
        do_action('woocommerce_review_order_before_payment');
        $out['points_field'] = ob_get_clean();
        break;

    case 'checkout': // classic checkout: the offer on the cart, then 40 points spent on the order
        wp_set_current_user($uid);
        $cart = new WC_Cart([['product_id' => 101, 'variation_id' => 0, 'quantity' => 2, 'line_subtotal' => 25.0]]);
        do_action('woocommerce_cart_calculate_fees', $cart);
        $out['cart_fees'] = $cart->fees;
        $o6 = order_from_cart(1006, $uid, $cart, [new WC_Order_Item_Product(101, 0, 2, '25.00')]);
        $_POST[Patron\WooCommerce\Checkout::FIELD] = '40';
        do_action('woocommerce_checkout_order_processed', 1006, [], $o6);
        $out['order'] = order_state($o6);
        do_action('woocommerce_checkout_order_processed', 1006, [], $o6); // submitted twice
        $out['resubmitted_fees'] = count($o6->get_fees());
        $o6->set_status('processing');
        do_action('woocommerce_order_status_processing', 1006, $o6);
        // a cart under the offer's minimum (10.00): no offer
        $small = new WC_Cart([['product_id' => 102, 'variation_id' => 0, 'quantity' => 1, 'line_subtotal' => 4.99]]);
        do_action('woocommerce_cart_calculate_fees', $small);
        $out['small_cart_fees'] = $small->fees;
        $out['queue'] = count(get_option(Plugin::QUEUE, []));
        break;

    case 'blocks': // block checkout: points from extensions.patron of the Store API request; then cancelled
        wp_set_current_user($uid);
        $o7 = order_from_cart(1007, $uid, new WC_Cart([]), [new WC_Order_Item_Product(101, 0, 1, '12.50')]);
        $req = new WP_REST_Request('POST', '/wc/store/v1/checkout');
        $req->set_param('extensions', ['patron' => ['points' => 20]]);
        do_action('woocommerce_store_api_checkout_update_order_from_request', $o7, $req);
        $out['order'] = order_state($o7);
        $o7->set_status('cancelled');
        do_action('woocommerce_order_status_cancelled', 1007, $o7);
        $out['cancelled'] = order_state($o7);
        // a classic-checkout order with 30 points, paid, then fully refunded: points back too
        $o9 = order_from_cart(1009, $uid, new WC_Cart([]), [new WC_Order_Item_Product(103, 0, 1, '30.00')]);
        $_POST[Patron\WooCommerce\Checkout::FIELD] = '30';
        do_action('woocommerce_checkout_order_processed', 1009, [], $o9);
        $o9->set_status('refunded');
        do_action('woocommerce_order_status_refunded', 1009, $o9);
        $out['refunded'] = order_state($o9);
        $out['queue'] = count(get_option(Plugin::QUEUE, []));
        break;

    case 'drain':
        do_action(Plugin::CRON); // what WP-Cron runs
        $out['queue'] = count(get_option(Plugin::QUEUE, []));
        break;
}
echo json_encode($out), "\n";
