<?php
/* doubles.php -- TEST DOUBLES of the WooCommerce classes and functions the Patron plugin
 * calls (WooCommerce itself is not installable here: not in Debian or npm). Loaded by
 * WordPress as a must-use plugin of the test site, so WordPress, its database, users, hooks
 * (do_action/apply_filters) and plugin activation are real; only these objects are stand-ins.
 * Owns: WC_Order, WC_Order_Item_Product, WC_Order_Item_Fee, WC_Order_Refund, WC_Product,
 * WC_Cart, WC()->session with exactly the methods adapters/woocommerce calls, and
 * wc_get_order / wc_get_product / wc_get_orders / get_woocommerce_currency over an in-memory
 * registry, and woocommerce_store_api_register_endpoint_data (records what is registered, as
 * the Store API's ExtendSchema would). Invariant: method names, argument
 * and return types follow WooCommerce's documented API (prices as decimal strings, dates as
 * WC_DateTime, here DateTimeImmutable which has the getTimestamp() the plugin uses). */
declare(strict_types=1);

final class Patron_Test_Registry
{
    public static array $orders = [];
    public static array $products = [];
    public static string $currency = 'EUR';
    /** woocommerce_store_api_register_endpoint_data() calls: endpoint => namespace => args */
    public static array $storeApi = [];
}

class WC_Product
{
    public function __construct(private int $id, private string $name, private string $price,
                                private array $categoryIds = [], private ?int $stock = null,
                                private int $parentId = 0, private string $status = 'publish')
    {
        Patron_Test_Registry::$products[$id] = $this;
    }
    public function get_id(): int { return $this->id; }
    public function get_name(): string { return $this->name; }
    public function get_price(): string { return $this->price; }
    public function get_status(): string { return $this->status; }
    public function get_parent_id(): int { return $this->parentId; }
    public function get_category_ids(): array { return $this->categoryIds; }
    public function managing_stock(): bool { return $this->stock !== null; }
    public function get_stock_quantity(): ?int { return $this->stock; }
    public function is_in_stock(): bool { return $this->stock === null || $this->stock > 0; }
    public function set_stock_quantity(int $q): void { $this->stock = $q; }
}

class WC_Order_Item_Product
{
    public function __construct(private int $productId, private int $variationId, private int $qty,
                                private string $subtotal)
    {
    }
    public function get_product_id(): int { return $this->productId; }
    public function get_variation_id(): int { return $this->variationId; }
    public function get_quantity(): int { return $this->qty; }
    public function get_subtotal(): string { return $this->subtotal; }
}

class WC_Order_Item_Fee
{
    private string $name = '';
    private string $total = '0';
    public string $amount = '0';
    public string $taxStatus = 'taxable';
    public function set_name(string $n): void { $this->name = $n; }
    public function get_name(): string { return $this->name; }
    public function set_amount(string $a): void { $this->amount = $a; }
    public function set_total(string $t): void { $this->total = $t; }
    public function get_total(): string { return $this->total; }
    public function set_tax_status(string $s): void { $this->taxStatus = $s; }
}

class WC_Order
{
    private string $status = 'completed';
    private array $fees = [];    // item id => WC_Order_Item_Fee
    private array $meta = [];
    public array $notes = [];
    private string $total = '0';
    public int $saves = 0;
    public function get_fees(): array { return $this->fees; }
    private int $nextItemId = 9001;
    public function add_item(WC_Order_Item_Fee $item): void { $this->fees[$this->nextItemId++] = $item; }
    public function remove_item(int $id): void { unset($this->fees[$id]); }
    public function get_meta(string $k): mixed { return $this->meta[$k] ?? ''; }
    public function update_meta_data(string $k, mixed $v): void { $this->meta[$k] = $v; }
    public function add_order_note(string $n): int { $this->notes[] = $n; return count($this->notes); }
    public function save(): int { $this->saves++; return $this->id; }
    public function get_total(): string { return $this->total; }
    /** items' subtotals - coupons + fees + shipping + tax, as WooCommerce sums them */
    public function calculate_totals(bool $andTaxes = true): string
    {
        $t = -(float)$this->discount + (float)$this->shipping + (float)$this->tax;
        foreach ($this->items as $i) { $t += (float)$i->get_subtotal(); }
        foreach ($this->fees as $f) { $t += (float)$f->get_total(); }
        return $this->total = number_format($t, 2, '.', '');
    }
    public function get_status(): string { return $this->status; }
    public function set_status(string $s): void { $this->status = $s; }

    /** @param WC_Order_Item_Product[] $items */
    public function __construct(protected int $id, private int $customerId, private string $email,
                                private string $currency, private array $items, private int $ts,
                                private string $discount = '0', private string $shipping = '0',
                                private string $tax = '0', private array $refunds = [])
    {
        Patron_Test_Registry::$orders[$id] = $this;
    }
    public function get_id(): int { return $this->id; }
    public function get_customer_id(): int { return $this->customerId; }
    public function get_billing_email(): string { return $this->email; }
    public function get_currency(): string { return $this->currency; }
    public function get_items(): array { return $this->items; }
    public function get_date_created(): ?DateTimeImmutable { return new DateTimeImmutable('@' . $this->ts); }
    public function get_discount_total(): string { return $this->discount; }
    public function get_shipping_total(): string { return $this->shipping; }
    public function get_total_tax(): string { return $this->tax; }
    public function get_refunds(): array { return $this->refunds; }
    public function add_refund(WC_Order_Refund $r): void { $this->refunds[] = $r; }
}

class WC_Order_Refund
{
    public function __construct(private int $id, private string $amount, private int $ts)
    {
        Patron_Test_Registry::$orders[$id] = $this;
    }
    public function get_id(): int { return $this->id; }
    public function get_amount(): string { return $this->amount; }
    public function get_date_created(): ?DateTimeImmutable { return new DateTimeImmutable('@' . $this->ts); }
}

class WC_Cart
{
    public array $fees = [];
    /** @param array<int, array{product_id:int, variation_id:int, quantity:int, line_subtotal:float}> $lines */
    public function __construct(private array $lines)
    {
    }
    public function get_cart(): array { return $this->lines; }
    public function add_fee(string $name, float $amount): void { $this->fees[] = [$name, $amount]; }
}

function wc_get_order(int $id): WC_Order|WC_Order_Refund|false
{
    return Patron_Test_Registry::$orders[$id] ?? false;
}

function wc_get_product(int $id): WC_Product|false
{
    return Patron_Test_Registry::$products[$id] ?? false;
}

/** wc_get_orders() for the arguments the backfill passes: status, type, limit, orderby ID ASC,
 *  return ids, paginate, and the plugin's own patron_after_id (which the real plugin turns
 *  into SQL through woocommerce_order_data_store_cpt_get_orders_query: that part is NOT
 *  exercised here). */
function wc_get_orders(array $a): array|object
{
    $ids = [];
    foreach (Patron_Test_Registry::$orders as $id => $o) {
        if ($o instanceof WC_Order && in_array('wc-' . $o->get_status(), $a['status'] ?? [], true)
            && $id > (int)($a['patron_after_id'] ?? 0)) {
            $ids[] = $id;
        }
    }
    sort($ids);
    $page = array_slice($ids, 0, (int)($a['limit'] ?? 10));
    return empty($a['paginate']) ? $page : (object)['total' => count($ids), 'orders' => $page];
}

/** WC()->session: the customer's WooCommerce session (here: for this request). */
final class Patron_Test_Session
{
    private array $data = [];
    public function get(string $k, mixed $default = null): mixed { return $this->data[$k] ?? $default; }
    public function set(string $k, mixed $v): void { $this->data[$k] = $v; }
}

function WC(): object
{
    static $wc = null;
    return $wc ??= (object)['session' => new Patron_Test_Session()];
}

function woocommerce_store_api_register_endpoint_data(array $args): void
{
    Patron_Test_Registry::$storeApi[$args['endpoint']][$args['namespace']] = $args;
}

function get_woocommerce_currency(): string
{
    return Patron_Test_Registry::$currency;
}
