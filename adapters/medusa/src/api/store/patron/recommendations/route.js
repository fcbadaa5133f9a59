// GET /store/patron/recommendations?items=variant_1,variant_2[&customer_id=][&limit=]
// -> {items: [{product_id, score, reason}]} from recs.cart; {items: []} when Patron is down.
'use strict';
exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const items = String(req.query.items || '').split(',').filter(Boolean);
  const more = { limit: Math.min(20, Number(req.query.limit) || 4) };
  if (req.query.customer_id) more.customer_id = String(req.query.customer_id);
  res.json({ items: items.length ? await patron.client.recsCart(items, more, { budget: patron.budget() }) : [] });
};
