// service.js -- the "patron" module's service: one patron-client Client per Medusa process.
// Owns: the client (socket, timeouts, worker pool started at boot), writes that queue in
// memory and retry while Patron is unavailable (idempotent ids make replays safe), and the
// typed reads the store routes use. Invariant: no method throws for an unavailable Patron:
// reads return the patron-client fallbacks, writes are queued (bounded, oldest dropped;
// `npx medusa exec` of scripts/backfill.js recovers anything lost).
'use strict';
const { Client, Budget } = require('patron-client');

const QUEUE_MAX = 1000;

class PatronModuleService {
  constructor(container, options = {}) {
    this.options = { socketPath: undefined, timeoutMs: 150, budgetMs: 300, retryMs: 5000, currency: 'EUR', ...options };
    this.logger = container.logger || console;
    this.client = new Client({ socketPath: this.options.socketPath, timeoutMs: this.options.timeoutMs,
      poolSize: this.options.poolSize || 4, prestart: this.options.poolSize || 4 });
    this.queue = [];
    this.timer = null;
  }

  budget() { return new Budget(this.options.budgetMs); }

  // A write: returns the result, or null when queued (unavailable) or refused (logged).
  async write(method, params) {
    try {
      return await this.client.call(method, params);
    } catch (e) {
      if (e.unavailable) this.enqueue(method, params);
      else this.logger.warn(`patron: ${method} refused: ${e.code} ${e.patronMessage}${e.field ? ` (field ${e.field})` : ''}`);
      return null;
    }
  }

  enqueue(method, params) {
    this.queue.push({ method, params });
    if (this.queue.length > QUEUE_MAX) this.queue.shift();
    this.schedule();
  }

  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.drain(); }, this.options.retryMs);
    this.timer.unref();
  }

  // Replays queued writes in order; stops at the first one still unavailable.
  async drain() {
    while (this.queue.length) {
      const { method, params } = this.queue[0];
      try {
        await this.client.call(method, params);
      } catch (e) {
        if (e.unavailable) { this.schedule(); return; }
        this.logger.warn(`patron: queued ${method} refused: ${e.code} ${e.patronMessage}`);
      }
      this.queue.shift();
    }
  }

  pending() { return this.queue.length; }
}

module.exports = PatronModuleService;
