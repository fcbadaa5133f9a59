// GET /store/patron/upsells?product_id=variant_1 -> {items} from recs.upsell ([] when down).
'use strict';
exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const id = String(req.query.product_id || '');
  res.json({ items: id ? await patron.client.recsUpsell(id, { limit: Math.min(20, Number(req.query.limit) || 4) }, { budget: patron.budget() }) : [] });
};
