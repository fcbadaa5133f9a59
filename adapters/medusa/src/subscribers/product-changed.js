// product-changed.js -- product.created / product.updated -> Patron product.upsert, one per
// variant (carts hold variants), priced in the plugin's `currency` option.
'use strict';
const { variants, PRODUCT_FIELDS } = require('../modules/patron/mapping');

async function productChanged({ event: { data }, container }) {
  const patron = container.resolve('patron');
  const query = container.resolve('query');
  const { data: [p] } = await query.graph({ entity: 'product', fields: PRODUCT_FIELDS, filters: { id: data.id } });
  if (!p) return;
  for (const v of variants(p, patron.options.currency)) await patron.write('product.upsert', v);
}
module.exports = { default: productChanged, config: { event: ['product.created', 'product.updated'] } };
