// order-placed.js -- order.placed -> Patron order.record (after the order: asynchronous).
'use strict';
const { order, ORDER_FIELDS } = require('../modules/patron/mapping');

async function orderPlaced({ event: { data }, container }) {
  const query = container.resolve('query');
  const { data: [o] } = await query.graph({ entity: 'order', fields: ORDER_FIELDS, filters: { id: data.id } });
  if (!o) return;
  const p = order(o);
  if (p.lines.length) await container.resolve('patron').write('order.record', p);
}
module.exports = { default: orderPlaced, config: { event: 'order.placed' } };
