// order-canceled.js -- order.canceled -> Patron order.refund: Medusa's refunds of the order,
// then what is left (refund id `medusa:cancel:<order id>`; see modules/patron/refunds.js).
'use strict';
const { syncRefunds } = require('../modules/patron/refunds');

async function orderCanceled({ event: { data }, container }) {
  await syncRefunds(container, data.id);
}
module.exports = { default: orderCanceled, config: { event: 'order.canceled' } };
