// backfill.js -- `npx medusa exec node_modules/patron-medusa/.medusa/server/src/scripts/backfill.js`
// sends every order (oldest first, pages of 100) to Patron: order.record, then its refunds
// and, for a canceled order, the rest as a refund (modules/patron/refunds.js). Resumes: the
// number of orders already sent is kept in $PATRON_BACKFILL_STATE (default
// ./patron-backfill.json); an unavailable Patron stops the run there (exit 1). Replays are
// no-ops (idempotent ids). Prints one progress line per page.
'use strict';
const fs = require('fs');
const { order, ORDER_FIELDS } = require('../modules/patron/mapping');
const { syncRefunds } = require('../modules/patron/refunds');

module.exports.default = async function backfill({ container }) {
  const state = process.env.PATRON_BACKFILL_STATE || 'patron-backfill.json';
  let done = 0;
  try { done = JSON.parse(fs.readFileSync(state, 'utf8')).done || 0; } catch (_) { /* first run */ }
  const query = container.resolve('query');
  const patron = container.resolve('patron');
  let sent = 0;
  for (;;) {
    const { data, metadata } = await query.graph({ entity: 'order', fields: ORDER_FIELDS,
      pagination: { skip: done, take: 100, order: { created_at: 'ASC' } } });
    if (!data.length) break;
    for (const o of data) {
      const p = order(o);
      try {
        if (p.lines.length) await patron.client.call('order.record', p);
        await syncRefunds(container, o.id, { direct: true });
        sent++;
      } catch (e) {
        if (e.unavailable) { console.error(`patron: unavailable at order ${o.id}; rerun to resume`); process.exitCode = 1; return; }
        console.error(`patron: order ${o.id} refused: ${e.code} ${e.patronMessage}`);
      }
      done++;
      fs.writeFileSync(state, JSON.stringify({ done }));
    }
    console.log(`patron: ${done}/${metadata ? metadata.count : '?'} orders sent`);
  }
  console.log(`patron: backfill done, ${sent} orders sent this run, ${done} in all`);
};
