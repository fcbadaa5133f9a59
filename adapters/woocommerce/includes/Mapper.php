<?php
/* Mapper.php -- WooCommerce objects -> Patron params (pure functions, no WordPress calls).
 * Owns: money to minor units by the ISO-4217 exponent of the order's currency (not the shop's
 * display decimals), guest identities, variation-level product ids, refunds as amounts.
 * Invariants: ids are strings ("wc:" + Woo id for orders/refunds, the Woo user id or
 * "guest:" + sha256 of the lowercased billing e-mail for customers, the variation id when a
 * line has one, else the product id); amounts are ints >= 0; the same Woo object always
 * maps to the same params, so Patron's idempotency keys make replays no-ops. Uses only the
 * WC_Order / WC_Order_Item_Product / WC_Product / WC_Order_Refund / WP_User methods named
 * in tests/adapters/woocommerce/doubles.php. */
declare(strict_types=1);

namespace Patron\WooCommerce;

final class Mapper
{
    /** ISO-4217 currencies whose minor unit is not 2 digits (others: 2). */
    private const EXPONENTS = [
        'BIF' => 0, 'CLP' => 0, 'DJF' => 0, 'GNF' => 0, 'ISK' => 0, 'JPY' => 0, 'KMF' => 0,
        'KRW' => 0, 'PYG' => 0, 'RWF' => 0, 'UGX' => 0, 'UYI' => 0, 'VND' => 0, 'VUV' => 0,
        'XAF' => 0, 'XOF' => 0, 'XPF' => 0,
        'BHD' => 3, 'IQD' => 3, 'JOD' => 3, 'KWD' => 3, 'LYD' => 3, 'OMR' => 3, 'TND' => 3,
        'CLF' => 4, 'UYW' => 4,
    ];

    public static function exponent(string $currency): int
    {
        return self::EXPONENTS[strtoupper($currency)] ?? 2;
    }

    /** A Woo amount (float or decimal string, e.g. "12.345") -> minor units, half away from zero. */
    public static function minor(float|int|string $amount, string $currency): int
    {
        $s = number_format(abs((float)$amount), self::exponent($currency), '.', '');
        $v = (int)str_replace('.', '', $s);
        return (float)$amount < 0 ? -$v : $v;
    }

    /** At most $bytes bytes of UTF-8 text, never ending inside a character (no mbstring needed). */
    public static function cut(string $s, int $bytes): string
    {
        if (strlen($s) <= $bytes) {
            return $s;
        }
        $s = substr($s, 0, $bytes);
        for ($i = 0; $i < 3 && $s !== '' && !preg_match('//u', $s); $i++) {
            $s = substr($s, 0, -1);
        }
        return $s;
    }

    public static function guestId(string $email): string
    {
        return 'guest:' . hash('sha256', strtolower(trim($email)));
    }

    /** @param object $order WC_Order */
    public static function customerId(object $order): string
    {
        $uid = (int)$order->get_customer_id();
        if ($uid > 0) {
            return (string)$uid;
        }
        $email = (string)$order->get_billing_email();
        return $email !== '' ? self::guestId($email) : 'guest:order-' . $order->get_id();
    }

    public static function orderId(int|string $wooId): string
    {
        return 'wc:' . $wooId;
    }

    /** @param object $item WC_Order_Item_Product */
    public static function lineProductId(object $item): string
    {
        $v = (int)$item->get_variation_id();
        return (string)($v > 0 ? $v : (int)$item->get_product_id());
    }

    /** order.record params of a paid WC_Order. Lines carry the pre-discount unit price;
     *  coupons and negative fees go to `discount`, so Patron's total equals Woo's order total
     *  (positive fees, e.g. gift wrapping, are not sales of a product: left out). */
    public static function order(object $order): array
    {
        $cur = (string)$order->get_currency();
        $lines = [];
        $subtotal = 0;
        foreach ($order->get_items() as $item) {
            $qty = (int)$item->get_quantity();
            if ($qty <= 0) {
                continue;
            }
            $lineSub = self::minor($item->get_subtotal(), $cur);
            $unit = intdiv($lineSub + intdiv($qty, 2), $qty); // rounded; remainder <= qty/2 minor units
            $lines[] = ['product_id' => self::lineProductId($item), 'quantity' => $qty, 'unit_price' => $unit];
            $subtotal += $unit * $qty;
        }
        $created = $order->get_date_created();
        $p = [
            'order_id' => self::orderId($order->get_id()),
            'customer_id' => self::customerId($order),
            'ts' => $created ? (int)$created->getTimestamp() : time(),
            'currency' => strtoupper($cur),
            'lines' => $lines,
        ];
        // coupons, and negative fees (Patron's own: the offer and points spent) are discounts
        $discount = self::minor($order->get_discount_total(), $cur);
        foreach ($order->get_fees() as $fee) {
            $discount += max(0, -self::minor($fee->get_total(), $cur));
        }
        $discount = min($subtotal, $discount);
        if ($discount > 0) {
            $p['discount'] = $discount;
        }
        $shipping = self::minor($order->get_shipping_total(), $cur);
        if ($shipping > 0) {
            $p['shipping'] = $shipping;
        }
        $tax = self::minor($order->get_total_tax(), $cur);
        if ($tax > 0) {
            $p['tax'] = $tax;
        }
        return $p;
    }

    /** order.refund params of a WC_Order_Refund of $order (always by amount: Woo refunds may
     *  mix lines, fees and shipping; the amount is what the shop paid back). */
    public static function refund(object $order, object $refund): array
    {
        $cur = (string)$order->get_currency();
        $created = $refund->get_date_created();
        return [
            'refund_id' => 'wc:refund:' . $refund->get_id(),
            'order_id' => self::orderId($order->get_id()),
            'amount' => abs(self::minor($refund->get_amount(), $cur)),
            'ts' => $created ? (int)$created->getTimestamp() : time(),
        ];
    }

    /** product.upsert params of a WC_Product (variations are products of their own; their
     *  category is the parent's first category, passed in by the caller). */
    public static function product(object $product, string $currency, string $category = ''): array
    {
        $p = [
            'product_id' => (string)$product->get_id(),
            'name' => self::cut((string)$product->get_name(), 512),
            'active' => $product->get_status() === 'publish',
        ];
        if ($category !== '') {
            $p['category'] = self::cut($category, 128);
        }
        $price = $product->get_price();
        if ($price !== '' && $price !== null) {
            $p['price'] = max(0, self::minor($price, $currency));
            $p['currency'] = strtoupper($currency);
        }
        $p['stock'] = $product->managing_stock() ? max(0, (int)$product->get_stock_quantity())
            : ($product->is_in_stock() ? -1 : 0);
        return $p;
    }

    /** customer.upsert params of a WP_User. */
    public static function customer(object $user): array
    {
        $name = trim((string)$user->first_name . ' ' . (string)$user->last_name);
        $p = ['customer_id' => (string)$user->ID, 'email' => (string)$user->user_email];
        if ($name !== '') {
            $p['name'] = $name;
        }
        $reg = strtotime((string)$user->user_registered . ' UTC');
        if ($reg !== false && $reg > 0) {
            $p['created_at'] = $reg;
        }
        return $p;
    }
}
