// POST /store/patron/offer {customer_id, cart} -> {offer} from offers.decide (null when down).
'use strict';
exports.POST = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const body = req.body || {};
  res.json({ offer: await patron.client.offer(String(body.customer_id || ''), body.cart || {}, { budget: patron.budget() }) });
};
