// GET /store/patron/tier?customer_id= -> {tier} from loyalty.tier ("unknown" when down).
'use strict';
exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  res.json({ tier: await patron.client.tier(String(req.query.customer_id || ''), { budget: patron.budget() }) });
};
