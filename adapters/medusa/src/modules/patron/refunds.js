// refunds.js -- bringing an order's refunds and cancellation into Patron (order.refund), for
// the payment.refunded and order.canceled subscribers and the backfill.
// Owns: syncRefunds(container, orderId). Invariants: idempotent (each Medusa refund is
// `medusa:refund:<refund id>`; a cancellation refunds what Patron still counts as paid under
// `medusa:cancel:<order id>`, computed after the Medusa refunds are in, so a canceled order
// whose captured payment Medusa refunded is never refunded twice); never throws for an
// unavailable Patron (refunds are queued by the module; the cancellation remainder, which
// needs Patron's view of the order, is logged for the backfill).
'use strict';
const { refunds, REFUND_FIELDS } = require('./mapping');

async function syncRefunds(container, orderId, { direct = false } = {}) {
  const patron = container.resolve('patron');
  const query = container.resolve('query');
  const { data: [o] } = await query.graph({ entity: 'order', fields: REFUND_FIELDS, filters: { id: orderId } });
  if (!o) return 0;
  // direct (backfill): errors propagate so the caller can stop; else queued/logged
  const send = direct ? (m, p) => patron.client.call(m, p) : (m, p) => patron.write(m, p);
  let sent = 0;
  for (const r of refunds(o)) { await send('order.refund', r); sent++; }
  if (o.status !== 'canceled' && !o.canceled_at) return sent;
  let left = 0;
  try {
    const p = await patron.client.call('order.get', { order_id: `medusa:${o.id}` });
    const total = p.lines.reduce((s, l) => s + l.quantity * l.unit_price, 0) - p.discount + p.shipping + p.tax;
    left = total - p.refunded;
  } catch (e) {
    // not in Patron (never recorded): nothing to take back; unavailable: the amount left is unknown
    if (e.unavailable) {
      if (direct) throw e;
      patron.logger.warn(`patron: order ${o.id} canceled while Patron is unavailable; run the backfill`);
    }
    return sent;
  }
  if (left > 0) { await send('order.refund', { refund_id: `medusa:cancel:${o.id}`, order_id: `medusa:${o.id}`, amount: left }); sent++; }
  return sent;
}

module.exports = { syncRefunds };
