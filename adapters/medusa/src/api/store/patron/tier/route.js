// GET /store/patron/tier -> {tier} of the logged-in customer from loyalty.tier ("unknown"
// when Patron is down or nobody is logged in).
'use strict';
const { UNKNOWN_TIER } = require('patron-client');

exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const id = req.auth_context && req.auth_context.actor_id;
  res.json({ tier: id ? await patron.client.tier(id, { budget: patron.budget() }) : UNKNOWN_TIER });
};
