// GET /admin/patron/kpi?from=&to=&currency= -> Patron kpi.report (503 when Patron is down).
'use strict';
exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const q = req.query;
  const params = { currency: String(q.currency || patron.options.currency) };
  if (q.from) params.from = Number(q.from);
  if (q.to) params.to = Number(q.to);
  try {
    res.json(await patron.client.call('kpi.report', params, 5000));
  } catch (e) {
    res.status(e.unavailable ? 503 : 400).json({ code: e.code, message: e.patronMessage, field: e.field });
  }
};
