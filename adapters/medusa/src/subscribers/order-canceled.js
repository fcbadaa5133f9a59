// order-canceled.js -- order.canceled -> Patron order.refund of what is left to refund
// (refund id = the order id: one cancellation per order).
'use strict';
async function orderCanceled({ event: { data }, container }) {
  const patron = container.resolve('patron');
  const orderId = `medusa:${data.id}`;
  let left = 0;
  try {
    const o = await patron.client.call('order.get', { order_id: orderId });
    const total = o.lines.reduce((s, l) => s + l.quantity * l.unit_price, 0) - o.discount + o.shipping + o.tax;
    left = total - o.refunded;
  } catch (e) {
    // not in Patron (never recorded): nothing to take back; unavailable: the amount left is
    // unknown, so it cannot be queued: logged for a later backfill
    if (e.unavailable) patron.logger.warn(`patron: order ${data.id} canceled while Patron is unavailable; not refunded there`);
    return;
  }
  if (left > 0) await patron.write('order.refund', { refund_id: `medusa:cancel:${data.id}`, order_id: orderId, amount: left });
}
module.exports = { default: orderCanceled, config: { event: 'order.canceled' } };
