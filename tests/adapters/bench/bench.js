// bench.js -- Node half of bench.sh (same measures as bench.py): `overhead SOCK N` (call(),
// the worker-pool path, and callSync()) and `page SOCK MODE PID` with MODE up | hung | down.
'use strict';
const path = require('path');
const { Client, Breaker, Budget } = require(path.join(__dirname, '..', '..', '..', 'adapters', 'node'));
const stats = (xs) => { xs.sort((a, b) => a - b); return [xs[xs.length >> 1], xs[Math.floor(xs.length * 0.99)]]; };
async function page(c) {
  const budget = new Budget(300);
  const t0 = performance.now();
  await c.recsCart(['p1', 'p2'], { limit: 4 }, { budget });
  await c.recsUpsell('p1', { limit: 4 }, { budget });
  await c.tier('c1', { budget });
  return performance.now() - t0;
}
(async () => {
  const [mode, sock] = process.argv.slice(2);
  if (mode === 'overhead') {
    const n = Number(process.argv[4]);
    const c = new Client({ socketPath: sock, timeoutMs: 1000, breaker: new Breaker(3, 5000) });
    await c.ready();
    const params = { items: ['p1', 'p2'], limit: 4 };
    for (const [name, fn] of [['node', () => c.call('recs.cart', params)], ['node-sync', () => c.callSync('recs.cart', params)]]) {
      const xs = [];
      for (let i = -200; i < n; i++) {
        const t0 = performance.now();
        await fn();
        if (i >= 0) xs.push((performance.now() - t0) * 1e3);
      }
      console.log(`${name} ${stats(xs).map((x) => x.toFixed(1)).join(' ')}`);
    }
    await c.close();
  } else {
    const [m, pid] = [process.argv[4], Number(process.argv[5])];
    const c = new Client({ socketPath: m === 'down' ? `${sock}.gone` : sock, timeoutMs: 150, breaker: new Breaker(3, 60000) });
    await c.ready();
    if (m === 'hung') { await c.ping(); process.kill(pid, 'SIGSTOP'); }
    let first, rest;
    try {
      first = await page(c);
      const xs = [];
      for (let i = 0; i < 50; i++) xs.push(await page(c));
      rest = stats(xs);
    } finally {
      if (m === 'hung') process.kill(pid, 'SIGCONT');
    }
    console.log(`node page ${m} first ${first.toFixed(2)} ms, next 50 median ${rest[0].toFixed(3)} ms`);
    await c.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
