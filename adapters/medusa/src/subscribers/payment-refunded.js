// payment-refunded.js -- payment.refunded ({id: payment id}) -> Patron order.refund of each
// refund of the payment's order (`medusa:refund:<refund id>`, by amount; replays are no-ops).
'use strict';
const { syncRefunds } = require('../modules/patron/refunds');

async function paymentRefunded({ event: { data }, container }) {
  const query = container.resolve('query');
  const { data: [pay] } = await query.graph({ entity: 'payment', fields: ['id', 'payment_collection.order.id'],
    filters: { id: data.id } });
  const orderId = pay && pay.payment_collection && pay.payment_collection.order && pay.payment_collection.order.id;
  if (orderId) await syncRefunds(container, orderId);
}
module.exports = { default: paymentRefunded, config: { event: 'payment.refunded' } };
