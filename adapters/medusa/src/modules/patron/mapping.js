// mapping.js -- Medusa v2 records -> Patron params (pure functions).
// Owns: money to minor units (Medusa v2 amounts are decimal major units; the ISO-4217
// exponent of the currency decides: JPY 0, KWD 3, others 2), guest identities, variant-level
// product ids. Invariants: the same Medusa record always maps to the same params, so
// Patron's idempotency keys (order_id, refund_id) make replays no-ops; amounts are ints >= 0.
'use strict';
const crypto = require('crypto');

const EXPONENTS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3, CLF: 4, UYW: 4,
};
const exponent = (cur) => EXPONENTS[String(cur).toUpperCase()] ?? 2;

// A Medusa amount (number, numeric string or BigNumber-like {value}) -> minor units.
function minor(amount, currency) {
  const v = typeof amount === 'object' && amount !== null ? Number(amount.value ?? amount.numeric ?? amount) : Number(amount ?? 0);
  return Math.round(v * 10 ** exponent(currency));
}

const guestId = (email) => `guest:${crypto.createHash('sha256').update(String(email).trim().toLowerCase()).digest('hex')}`;
const customerId = (order) => (order.customer && order.customer.has_account === false
  ? guestId(order.email || order.customer.email)
  : order.customer_id || guestId(order.email));

// order.record params of a Medusa order (fields: see ORDER_FIELDS).
function order(o) {
  const cur = o.currency_code;
  const lines = (o.items || []).filter((i) => Number(i.quantity) > 0).map((i) => ({
    product_id: String(i.variant_id || i.product_id),
    quantity: Number(i.quantity),
    unit_price: Math.max(0, minor(i.unit_price, cur)),
  }));
  const subtotal = lines.reduce((s, l) => s + l.quantity * l.unit_price, 0);
  const p = {
    order_id: `medusa:${o.id}`,
    customer_id: customerId(o),
    ts: Math.floor(new Date(o.created_at).getTime() / 1000),
    currency: String(cur).toUpperCase(),
    lines,
  };
  const discount = Math.min(subtotal, minor(o.discount_total, cur));
  if (discount > 0) p.discount = discount;
  const shipping = minor(o.shipping_total, cur);
  if (shipping > 0) p.shipping = shipping;
  const tax = minor(o.tax_total, cur);
  if (tax > 0) p.tax = tax;
  return p;
}
const ORDER_FIELDS = ['id', 'email', 'currency_code', 'created_at', 'customer_id', 'customer.has_account',
  'customer.email', 'discount_total', 'shipping_total', 'tax_total', 'items.variant_id', 'items.product_id',
  'items.quantity', 'items.unit_price'];

// product.upsert params, one per variant (Patron's products are what carts hold).
function variants(product, currency) {
  const category = (product.categories && product.categories[0] && product.categories[0].handle) || '';
  return (product.variants || []).map((v) => {
    const p = { product_id: String(v.id), name: `${product.title}${v.title && v.title !== 'Default' ? ` - ${v.title}` : ''}`.slice(0, 500),
      active: product.status === 'published' };
    if (category) p.category = category.slice(0, 128);
    const price = (v.prices || []).find((x) => String(x.currency_code).toUpperCase() === currency.toUpperCase());
    if (price) { p.price = Math.max(0, minor(price.amount, currency)); p.currency = currency.toUpperCase(); }
    p.stock = v.manage_inventory ? Math.max(0, Number(v.inventory_quantity ?? 0)) : -1;
    return p;
  });
}
const PRODUCT_FIELDS = ['id', 'title', 'status', 'categories.handle', 'variants.id', 'variants.title',
  'variants.manage_inventory', 'variants.prices.amount', 'variants.prices.currency_code'];

// order.refund params of every refund of a Medusa order (payment_collections.payments.refunds;
// fields: REFUND_FIELDS): refund id `medusa:refund:<id>`, by amount (idempotent: sending all
// of them again is a no-op).
function refunds(o) {
  const out = [];
  for (const pc of o.payment_collections || []) {
    for (const pay of pc.payments || []) {
      for (const r of pay.refunds || []) {
        const amount = minor(r.amount, o.currency_code);
        if (amount > 0) {
          out.push({ refund_id: `medusa:refund:${r.id}`, order_id: `medusa:${o.id}`, amount,
            ts: Math.floor(new Date(r.created_at || Date.now()).getTime() / 1000) });
        }
      }
    }
  }
  return out;
}
const REFUND_FIELDS = ['id', 'status', 'canceled_at', 'currency_code', 'payment_collections.payments.refunds.id',
  'payment_collections.payments.refunds.amount', 'payment_collections.payments.refunds.created_at'];

// offers.decide cart (protocol names; patron-client maps them to the wire) of a Medusa cart
// (fields: CART_FIELDS): one line per variant, unit prices in minor units.
function offerCart(cart) {
  const cur = cart.currency_code;
  return { currency: String(cur).toUpperCase(), lines: (cart.items || []).filter((i) => Number(i.quantity) > 0).map((i) => ({
    product_id: String(i.variant_id || i.product_id), quantity: Number(i.quantity), unit_price: Math.max(0, minor(i.unit_price, cur)) })) };
}
const CART_FIELDS = ['id', 'currency_code', 'customer_id', 'items.variant_id', 'items.product_id', 'items.quantity', 'items.unit_price'];

function customer(c) {
  const p = { customer_id: String(c.id), email: String(c.email || '') };
  const name = [c.first_name, c.last_name].filter(Boolean).join(' ');
  if (name) p.name = name;
  if (c.created_at) p.created_at = Math.floor(new Date(c.created_at).getTime() / 1000);
  return p;
}

module.exports = { exponent, minor, guestId, order, ORDER_FIELDS, refunds, REFUND_FIELDS, offerCart, CART_FIELDS,
  variants, PRODUCT_FIELDS, customer };
