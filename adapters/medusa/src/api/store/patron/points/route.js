// GET /store/patron/points -> {points} of the logged-in customer from loyalty.points (the
// spendable balance; null when Patron is down or nobody is logged in).
'use strict';
exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const id = req.auth_context && req.auth_context.actor_id;
  res.json({ points: id ? await patron.client.points(id, { budget: patron.budget() }) : null });
};
