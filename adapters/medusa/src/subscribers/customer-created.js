// customer-created.js -- customer.created / customer.updated -> Patron customer.upsert.
'use strict';
const { customer } = require('../modules/patron/mapping');

async function customerChanged({ event: { data }, container }) {
  const query = container.resolve('query');
  const { data: [c] } = await query.graph({ entity: 'customer', fields: ['id', 'email', 'first_name', 'last_name', 'created_at'], filters: { id: data.id } });
  if (c) await container.resolve('patron').write('customer.upsert', customer(c));
}
module.exports = { default: customerChanged, config: { event: ['customer.created', 'customer.updated'] } };
