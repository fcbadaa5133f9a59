// index.js -- Node adapter for patrond through libpatronclient (koffi FFI).
//
// Owns: the public API (Client, Budget, Breaker, PatronError), the pool of worker threads
// that run the blocking C calls, and the fail-open policy shared by all adapters: a circuit
// breaker per socket path (per process), a per-page time Budget, typed helpers with
// documented fallbacks.
// Invariants: protocol, per-call deadlines and reconnects live in the C library. Every
// failure that is not the caller's bad input (library or koffi missing, socket missing or
// refused, timeout, daemon restarting, circuit open, budget spent) rejects with a
// PatronError whose `unavailable` is true, and typed helpers resolve to their fallback.
// call() never queues behind another call's I/O: each in-flight call has its own worker
// thread and handle (up to `poolSize`; beyond that a call waits for a worker, still bounded
// by its own deadline, which counts from the call). Workers are not libuv's threadpool, so
// hung calls never starve fs/dns/crypto; they are unref'd and never keep the process alive.
// callSync() blocks the calling thread (scripts, CLIs).
//
// The library is options.library, else $PATRON_CLIENT_LIB, else libpatronclient.so.0; the
// socket is options.socketPath, else $PATRON_SOCKET, else /run/patron/patron.sock. JSON
// numbers: integers beyond 2^53 lose precision in JS (money in minor units is far below).
'use strict';

const path = require('path');
const { Worker } = require('worker_threads');
const { loadLibrary, openHandle } = require('./binding');

const DEFAULT_SOCKET = '/run/patron/patron.sock';
const DEFAULT_TIMEOUT_MS = 1000;
const UNKNOWN_TIER = 'unknown';
// the worker's own C timeout ends the call first; this slack only covers message passing
const REPLY_SLACK_MS = 20;
// remote codes a typed helper also turns into its fallback: the daemon lacks the feature
const FALLBACK_CODES = new Set(['unknown_method']);

// patron_status_t (patronclient.h)
const Status = Object.freeze({
  OK: 0, REMOTE: -1, UNAVAILABLE: -2, INVALID: -3, PROTOCOL: -4, TOO_LARGE: -5, NOMEM: -6,
});

class PatronError extends Error {
  constructor(code, message, field, status) {
    super(`${code}: ${message}${field ? ` (field ${field})` : ''}`);
    this.name = 'PatronError';
    this.code = code;
    this.patronMessage = message;
    this.field = field ?? null;
    this.status = status;
    this.unavailable = status === Status.UNAVAILABLE;
  }
}

const unavailable = (code, message) => new PatronError(code, message, null, Status.UNAVAILABLE);
const invalid = (code, message) => new PatronError(code, message, null, Status.INVALID);

// Time budget shared by all calls of one page.
class Budget {
  constructor(ms) { this.deadline = performance.now() + ms; }
  remainingMs() { return Math.max(0, Math.floor(this.deadline - performance.now())); }
}

// Circuit breaker of one socket path (see adapters/README.md, "Fail open").
class Breaker {
  constructor(failures = 3, cooldownMs = 5000) {
    this.failures = Math.max(1, failures);
    this.cooldownMs = Math.max(0, cooldownMs);
    this._fails = 0;
    this._openUntil = null;
    this._probing = false;
  }

  get state() {
    if (this._openUntil === null) return 'closed';
    return this._probing || performance.now() >= this._openUntil ? 'half_open' : 'open';
  }

  admit() {
    if (this._openUntil === null) return;
    if (this._probing || performance.now() < this._openUntil) {
      throw unavailable('circuit_open', 'Patron circuit open after repeated failures; retried after the cool-down');
    }
    this._probing = true;
  }

  // A call that taught nothing about the daemon (it never left): free the probe slot.
  release() { this._probing = false; }

  record(reached, timedOut = false) {
    if (reached) {
      this._fails = 0;
      this._openUntil = null;
    } else {
      this._fails++;
      if (this._probing || timedOut || this._fails >= this.failures) {
        this._openUntil = performance.now() + this.cooldownMs;
      }
    }
    this._probing = false;
  }
}

const nowAbs = () => performance.timeOrigin + performance.now(); // comparable across threads

const breakers = new Map();
function breakerFor(socketPath) {
  let b = breakers.get(socketPath);
  if (!b) breakers.set(socketPath, (b = new Breaker()));
  return b;
}

function decode(text, status) {
  if (text == null) throw new PatronError('nomem', 'out of memory', null, Status.NOMEM);
  const value = JSON.parse(text);
  if (status === Status.OK) return value;
  throw new PatronError(value.code || 'internal', value.message || '', value.field, status);
}

class Client {
  // options: { socketPath, timeoutMs (1000), library, breaker, poolSize (4), prestart (1),
  //            tls: { cert, key, ca } with socketPath 'tls://host:port' }
  constructor(options = {}) {
    this.socketPath = options.socketPath || process.env.PATRON_SOCKET || DEFAULT_SOCKET;
    const isTls = this.socketPath.startsWith('tls://');
    if (Buffer.byteLength(this.socketPath) >= (isTls ? 300 : 108)) {
      throw new TypeError(`invalid socket path (too long): ${this.socketPath}`);
    }
    if (options.tls && (!isTls || Object.keys(options.tls).some((k) => !['cert', 'key', 'ca'].includes(k)))) {
      throw new TypeError("tls: { cert, key, ca } goes with a 'tls://host:port' socketPath");
    }
    this.tls = options.tls ? { ...options.tls } : null;
    this.timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
    this.library = options.library;
    this.breaker = options.breaker || breakerFor(this.socketPath);
    this.poolSize = Math.max(1, options.poolSize || 4);
    this._closed = false;
    this._idle = [];     // workers waiting for a job
    this._workers = 0;   // workers started
    this._queue = [];    // jobs waiting for a worker
    this._jobs = new Map(); // id -> job (queued or running)
    this._nextId = 1;
    this._syncHandle = null;
    this._onDrained = null;
    // Load the library here too: a missing one fails every call at once (no worker needed),
    // and callSync() uses it.
    this._loadError = null;
    try {
      loadLibrary(this.library);
    } catch (e) {
      this._loadError = String(e && e.message ? e.message : e);
    }
    // A worker takes tens of ms to start (more on a loaded host): start the first ones now,
    // so early calls do not spend their deadline waiting for one.
    const prestart = Math.min(this.poolSize, options.prestart ?? 1);
    if (!this._loadError) for (let i = 0; i < prestart; i++) this._idle.push(this._spawn());
  }

  // Resolves once every started worker has loaded the library (for start-up code and tests).
  ready() {
    const all = [...this._idle].filter((w) => !w.ready);
    return Promise.all(all.map((w) => new Promise((res) => { w.once('message', res); w.once('error', res); })));
  }

  // Effective timeout of one call: [ms, clipped by the budget?]; throws budget_exhausted.
  _timeout(opts) {
    const t = opts.timeoutMs > 0 ? opts.timeoutMs : this.timeoutMs;
    if (!opts.budget) return [t, false];
    const left = opts.budget.remainingMs();
    if (left <= 0) throw unavailable('budget_exhausted', "the page's Patron time budget is spent");
    return left < t ? [left, true] : [t, false];
  }

  _prepare(method, params, opts) {
    if (this._closed) throw invalid('invalid_request', 'client is closed');
    if (typeof method !== 'string' || !method) throw invalid('invalid_request', 'method must be a non-empty string');
    if (params == null) params = {};
    if (typeof params !== 'object' || Array.isArray(params)) throw invalid('invalid_params', 'params must be an object');
    if (typeof opts === 'number') opts = { timeoutMs: opts };
    return [JSON.stringify(params), opts || {}];
  }

  // Breaker bookkeeping for one finished call; returns the value or throws.
  _finish(text, status, clipped) {
    let value;
    try {
      value = decode(text, status);
    } catch (e) {
      if (e.unavailable) this.breaker.record(false, e.code === 'timeout' && !clipped);
      else this.breaker.record(true);
      throw e;
    }
    this.breaker.record(true);
    return value;
  }

  // Non-blocking call: resolves to the decoded result or rejects with PatronError.
  // opts: a timeout in ms, or { timeoutMs, budget }.
  call(method, params, opts) {
    let body, t, clipped;
    try {
      [body, opts] = this._prepare(method, params, opts);
      [t, clipped] = this._timeout(opts);
      this.breaker.admit();
      if (this._loadError) {
        this.breaker.record(false);
        throw unavailable('unavailable', `libpatronclient could not be loaded: ${this._loadError}`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const job = { id: this._nextId++, method, body, deadline: nowAbs() + t, clipped, resolve, reject, worker: null };
      // the deadline counts from the call: a job still queued or unanswered by then fails
      job.timer = setTimeout(() => this._settle(job, null, null, 'timeout'), t + REPLY_SLACK_MS);
      this._jobs.set(job.id, job);
      this._queue.push(job);
      this._pump();
    });
  }

  _settle(job, text, status, failure) {
    if (!this._jobs.delete(job.id)) return;
    clearTimeout(job.timer);
    if (this._onDrained && !this._jobs.size) setImmediate(this._onDrained);
    const qi = this._queue.indexOf(job);
    if (qi >= 0) this._queue.splice(qi, 1);
    try {
      if (failure === 'timeout' || failure === 'expired') {
        // a call a ready worker sent but got no answer for counts; one that waited for a
        // worker (pool busy, worker starting) never reached the daemon: no verdict
        if (failure === 'timeout' && job.worker && job.worker.ready) this.breaker.record(false, !job.clipped);
        else this.breaker.release();
        throw unavailable('timeout', 'no answer within the timeout');
      }
      if (failure) {
        this.breaker.record(false);
        throw unavailable('unavailable', `libpatronclient could not be loaded: ${failure}`);
      }
      job.resolve(this._finish(text, status, job.clipped));
    } catch (e) {
      job.reject(e);
    }
  }

  _pump() {
    while (this._queue.length) {
      let w = this._idle.pop();
      if (!w) {
        if (this._workers >= this.poolSize) return;
        w = this._spawn();
      }
      const job = this._queue.shift();
      w.job = job;
      job.worker = w;
      w.postMessage({ id: job.id, method: job.method, body: job.body, deadline: job.deadline });
    }
  }

  _spawn() {
    this._workers++;
    const w = new Worker(path.join(__dirname, 'worker.js'), {
      workerData: { library: this.library, socketPath: this.socketPath, timeoutMs: this.timeoutMs,
        tls: this.tls },
    });
    w.unref();
    w.on('message', (m) => {
      if (m.ready) { w.ready = true; return; }
      const job = this._jobs.get(m.id);
      w.job = null;
      if (job) this._settle(job, m.text, m.status, m.expired ? 'expired' : m.loadError || null);
      if (this._closed && !this._queue.length) w.postMessage({ close: true });
      else { this._idle.push(w); this._pump(); }
    });
    w.on('error', (e) => {
      // a worker that cannot start (koffi missing, bad path): fail its job open, drop it
      this._workers--;
      const i = this._idle.indexOf(w);
      if (i >= 0) this._idle.splice(i, 1);
      if (w.job) this._settle(w.job, null, null, String(e && e.message ? e.message : e));
      w.job = null;
      this._pump();
    });
    return w;
  }

  // Blocking call on the calling thread: returns the decoded result or throws PatronError.
  callSync(method, params, opts) {
    let body;
    [body, opts] = this._prepare(method, params, opts);
    const [t, clipped] = this._timeout(opts);
    this.breaker.admit();
    let api;
    try {
      api = loadLibrary(this.library);
      if (!this._syncHandle) {
        this._syncHandle = openHandle(api, this.socketPath, this.timeoutMs, this.tls);
      }
    } catch (e) {
      this.breaker.record(false);
      throw unavailable('unavailable', `libpatronclient could not be loaded: ${e.message}`);
    }
    api.setTimeout(this._syncHandle, t);
    const st = [0];
    const text = api.callJson(this._syncHandle, method, body, st);
    return this._finish(text, st[0], clipped);
  }

  ping(opts) { return this.call('ping', {}, opts); }

  async _typed(method, params, pick, fallback, opts) {
    try {
      return pick(await this.call(method, params, opts));
    } catch (e) {
      if (e instanceof PatronError && (e.unavailable || FALLBACK_CODES.has(e.code))) return fallback;
      throw e;
    }
  }

  // recs.cart items [{product_id, score, reason}], best first; [] when unavailable.
  // more: { customer_id, limit, filters } as in protocol/PROTOCOL.md.
  recsCart(items, more = {}, opts) {
    return this._typed('recs.cart', { ...more, items: [...items] }, itemsOf, [], opts);
  }

  // recs.upsell items; [] when unavailable. more: { limit, filters }.
  recsUpsell(productId, more = {}, opts) {
    return this._typed('recs.upsell', { ...more, product_id: productId }, itemsOf, [], opts);
  }

  // The best shown offer of offers.decide ({offer_id, discount, currency, token, ...}), or
  // null (no offer, held out, or unavailable). cart: {currency, lines: [{product_id,
  // quantity, unit_price, category?}], value?}.
  offer(customerId, cart, opts) {
    return this._typed('offers.decide', offersParams(customerId, cart), firstShownOffer, null, opts);
  }

  // offers.redeem of a decided offer's token (a write: rejects, no fallback).
  redeemOffer(customerId, token, cart, idempotencyKey, opts) {
    return this.call('offers.redeem', offersParams(customerId, cart, { token, idempotency_key: idempotencyKey }), opts);
  }

  // The customer's loyalty tier name, or 'unknown'.
  tier(customerId, opts) {
    return this._typed('loyalty.tier', { customer_id: customerId }, tierName, UNKNOWN_TIER, opts);
  }

  // The customer's spendable points (0 for a non-member), or null when unknown.
  points(customerId, opts) {
    return this._typed('loyalty.points', { customer_id: customerId, limit: 0 },
      (r) => (r && Number.isInteger(r.balance) ? r.balance : null), null, opts);
  }

  // Stops accepting calls; resolves once the calls already made are settled (their workers
  // then exit).
  close() {
    this._closed = true;
    this.closeSync();
    return new Promise((resolve) => {
      this._onDrained = () => {
        for (const w of this._idle) w.postMessage({ close: true });
        this._idle = [];
        resolve();
      };
      if (!this._jobs.size) this._onDrained();
    });
  }

  closeSync() {
    this._closed = true;
    if (this._syncHandle) {
      loadLibrary(this.library).close(this._syncHandle);
      this._syncHandle = null;
    }
  }

  get libraryVersion() { return loadLibrary(this.library).version(); }
}

// offers.* wire names, in ONE place. Callers pass the protocol's usual names: {customer_id,
// cart: {currency, value?, lines: [{product_id, category?, quantity, unit_price}]}}; this
// patrond's offers methods still read {customer, cart: {items: [{product, price}]}} (issue 9);
// once they take the usual names this becomes the identity map.
const OFFERS_WIRE = Object.freeze({ customer_id: 'customer_id', lines: 'lines', product_id: 'product_id', unit_price: 'unit_price' });
function offersParams(customerId, cart = {}, more = {}) {
  const w = OFFERS_WIRE;
  const { lines = [], ...rest } = cart || {};
  const wireLines = lines.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [w[k] || k, v])));
  return { [w.customer_id]: customerId, cart: { ...rest, [w.lines]: wireLines }, ...more };
}
// held-out entries are the offer's control arm: they show nothing
function firstShownOffer(r) {
  return (r && Array.isArray(r.offers) && r.offers.find((o) => !o.held_out)) || null;
}
function itemsOf(r) { return r && Array.isArray(r.items) ? r.items : []; }
function tierName(r) {
  let t = r ? r.tier : null;
  if (t && typeof t === 'object') t = t.name;
  return typeof t === 'string' && t ? t : UNKNOWN_TIER;
}

module.exports = { Client, Budget, Breaker, PatronError, Status, DEFAULT_SOCKET, UNKNOWN_TIER, OFFERS_WIRE, offersParams, loadLibrary };
