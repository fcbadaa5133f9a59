// adapter_test.js -- integration test of adapters/node/index.js against the real patrond.
// Owns: the Node half of tests/adapters/run.sh (PATRON_SOCKET, PATRON_CLIENT_LIB and
// PATRON_TEST_PID come from it). Invariant: ends by stopping, then killing the daemon,
// checking that call() rejects with unavailable === true within the timeout.
'use strict';
const net = require('net');
const path = require('path');
const { Client, Breaker, PatronError, Status } = require(path.join(__dirname, '..', '..', 'adapters', 'node'));

let pass = 0;
let fail = 0;
function check(name, ok, detail) {
  if (ok) { pass++; console.log(`ok   node: ${name}`); } else { fail++; console.log(`FAIL node: ${name}`, JSON.stringify(detail)); }
}
async function expectError(p) {
  try { await p; } catch (e) { return e; }
  throw new Error('no error');
}

(async () => {
  const tag = `node${process.pid}`;
  // cooldown 0: every call after a failure probes, so each failure below is seen as is
  const c = new Client({ timeoutMs: 2000, breaker: new Breaker(1000, 0) });
  let r = await c.call('ping');
  check('ping', r.pong === true, r);
  check('callSync ping', c.callSync('ping').pong === true);
  r = await c.call('product.upsert', { product_id: `${tag}-mug`, name: 'Mug', price: 1299, currency: 'EUR' });
  check('product.upsert', r.product_id === `${tag}-mug`, r);
  r = await c.call('product.get', { product_id: `${tag}-mug` });
  check('product.get price', r.price === 1299, r);
  const order = { order_id: `${tag}-o1`, customer_id: `${tag}-c1`, ts: 1700000000, currency: 'EUR',
    lines: [{ product_id: `${tag}-mug`, quantity: 2, unit_price: 1299 }] };
  r = await c.call('order.record', order);
  check('order.record', r.total === 2598, r);
  // calls issued together run on the client's worker pool and are all answered
  const many = await Promise.all([c.call('order.record', order), c.call('customer.get', { customer_id: `${tag}-c1` }), c.call('ping')]);
  check('concurrent calls on one client', many[2].pong === true && many[1].order_count === 1, many);
  r = many[1];
  check('customer.get net spend', r.totals && r.totals[0].net === 2598, r);
  let e = await expectError(c.call('product.upsert', { product_id: 5 }));
  check('invalid_params error', e instanceof PatronError && e.code === 'invalid_params' && e.field === 'product_id'
    && !e.unavailable && e.status === Status.REMOTE, e);
  e = await expectError(c.call('no.such.method'));
  check('unknown_method error', e.code === 'unknown_method', e);

  // loyalty and offers through the typed helpers (program and offer set on the admin socket)
  const fixture = require('./loyalty_offer.json');
  // blocking calls on the test's thread: no worker thread left exiting during the timing checks below
  const admin = new Client({ socketPath: process.env.PATRON_ADMIN_SOCKET, timeoutMs: 5000, breaker: new Breaker(), prestart: 0 });
  admin.callSync('loyalty.program.set', fixture.program);
  admin.callSync('offers.set', fixture.offer);
  // a daemon that rebuilds its catalogue on a worker: wait until decide serves the offer
  // (older daemons install it with offers.set and do not know offers.reload)
  try { admin.callSync('offers.reload'); } catch (e) { if (e.code !== 'unknown_method') throw e; }
  admin.closeSync();
  const cust = `${tag}-loyal`;
  let fb = [await c.tier(cust), await c.points(cust)];
  check('tier/points of a customer without loyalty activity: unknown / 0', fb[0] === 'unknown' && fb[1] === 0, fb);
  await c.call('order.record', { ...order, order_id: `${tag}-o2`, customer_id: cust }); // 25.98 EUR: 25 points
  fb = [await c.tier(cust), await c.points(cust)];
  check('tier() and points() after an order: silver (from 10 points), 25', fb[0] === 'silver' && fb[1] === 25, fb);
  const cart = { currency: 'EUR', lines: [{ product_id: `${tag}-mug`, quantity: 1, unit_price: 1299 }] };
  const o = await c.offer(cust, cart);
  check('offer(): the decided offer with its discount and token', o && o.offer_id === 'five_off' && o.discount === 500 && o.token, o);
  const small = { currency: 'EUR', lines: [{ product_id: `${tag}-mug`, quantity: 1, unit_price: 999 }] };
  check('offer() of a cart under min_cart: null', (await c.offer(cust, small)) === null);
  const red = [await c.redeemOffer(cust, o.token, cart, `${tag}-redeem`), await c.redeemOffer(cust, o.token, cart, `${tag}-redeem`)];
  check('redeemOffer(): accepted once, the replay answers the same', red[0].discount === 500 && !red[0].replay && red[1].replay, red);
  r = await c.call('loyalty.redeem', { customer_id: cust, points: 20, redemption_id: `${tag}-pts`, currency: 'EUR' });
  check('loyalty.redeem 20 points = 1.00 EUR; points() 5 after', r.accepted && r.value === 100 && (await c.points(cust)) === 5, r);

  const pid = Number(process.env.PATRON_TEST_PID);
  process.kill(pid, 'SIGSTOP');
  let t0 = Date.now();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  e = await expectError(c.call('ping', {}, 300));
  clearInterval(timer);
  let ms = Date.now() - t0;
  check(`hung daemon -> unavailable within the timeout (${ms} ms)`, e.unavailable === true && ms >= 250 && ms < 1000, e);
  check(`event loop kept running during the call (${ticks} ticks)`, ticks >= 3, ticks);
  process.kill(pid, 'SIGKILL');
  try { process.kill(pid, 'SIGCONT'); } catch (_) { /* already reaped */ }
  // wait for the death (its socket refuses connections), not for a fixed time
  const refuses = () => new Promise((res) => {
    const s = net.createConnection(process.env.PATRON_SOCKET);
    s.on('connect', () => { s.destroy(); res(false); });
    s.on('error', () => res(true));
  });
  for (const end = Date.now() + 5000; !(await refuses());) {
    if (Date.now() > end) throw new Error('patrond still accepts 5 s after SIGKILL');
    await new Promise((res) => setTimeout(res, 5));
  }
  t0 = Date.now();
  e = await expectError(c.call('ping', {}, 3000));
  ms = Date.now() - t0;
  check(`dead daemon -> unavailable at once, well before the 3 s timeout (${ms} ms)`, e.unavailable === true && e.code === 'unavailable' && ms < 1000, e);
  fb = [await c.tier(cust), await c.points(cust), await c.offer(cust, cart)];
  check('dead daemon -> tier unknown, points null, offer null', fb[0] === 'unknown' && fb[1] === null && fb[2] === null, fb);
  let se;
  try { c.callSync('ping'); } catch (x) { se = x; }
  check('callSync dead daemon -> unavailable', se && se.unavailable === true, se);
  await c.close();
  console.log(`node: ${pass} passed, ${fail} failed`);
  process.exit(fail ? 1 : 0);
})().catch((err) => { console.error(err); process.exit(1); });
