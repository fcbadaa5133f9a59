// index.js -- Node adapter for patrond through libpatronclient (koffi FFI).
//
// Owns: loading the shared library with koffi and turning its JSON convenience call into
// JS values and errors. Invariants: protocol, deadlines and reconnects live in the C
// library; every failure is a PatronError {code, message, field, status, unavailable};
// a daemon that is absent, dead or too slow rejects with unavailable === true within the
// timeout, so a checkout can fail open. call() runs the C call on koffi's worker thread
// (the event loop never blocks) and serialises calls per Client, because a libpatronclient
// handle is used by one thread at a time; callSync() blocks and is meant for scripts.
//
// The library is found via $PATRON_CLIENT_LIB, else the loader's search for
// libpatronclient.so.0; the socket is $PATRON_SOCKET, else /run/patron/patron.sock.
// JSON numbers: integers beyond 2^53 lose precision in JS (money in minor units is fine).
'use strict';

const koffi = require('koffi');

const DEFAULT_SOCKET = '/run/patron/patron.sock';
const DEFAULT_LIBRARY = 'libpatronclient.so.0';

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

const libs = new Map();

function loadLibrary(path) {
  const file = path || process.env.PATRON_CLIENT_LIB || DEFAULT_LIBRARY;
  let api = libs.get(file);
  if (api) return api;
  const lib = koffi.load(file);
  const free = lib.func('void patron_free(void *p)');
  // A string returned by the library: converted to a JS string, then patron_free()d.
  const HeapStr = koffi.disposable('PatronHeapStr_' + libs.size, 'str', (p) => free(p));
  api = {
    open: lib.func('void *patron_open(const char *path, int timeout_ms)'),
    close: lib.func('void patron_close(void *c)'),
    setTimeout: lib.func('int patron_set_timeout(void *c, int timeout_ms)'),
    callJson: lib.func('patron_call_json', HeapStr,
      ['void *', 'const char *', 'const char *', koffi.out(koffi.pointer('int'))]),
    version: lib.func('const char *patron_version(void)'),
  };
  libs.set(file, api);
  return api;
}

function decode(text, status) {
  if (text == null) throw new PatronError('nomem', 'out of memory', null, Status.NOMEM);
  const value = JSON.parse(text);
  if (status === Status.OK) return value;
  throw new PatronError(value.code || 'internal', value.message || '', value.field, status);
}

class Client {
  // options: { socketPath, timeoutMs (default 1000), library }
  constructor(options = {}) {
    this._api = loadLibrary(options.library);
    this.socketPath = options.socketPath || process.env.PATRON_SOCKET || DEFAULT_SOCKET;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this._h = this._api.open(this.socketPath, this.timeoutMs);
    if (!this._h) throw new TypeError(`invalid socket path (too long?): ${this.socketPath}`);
    this._queue = Promise.resolve();
  }

  _check(method, params) {
    if (!this._h) throw new PatronError('invalid_request', 'client is closed', null, Status.INVALID);
    if (params == null) params = {};
    if (typeof params !== 'object' || Array.isArray(params)) {
      throw new PatronError('invalid_params', 'params must be an object', null, Status.INVALID);
    }
    return JSON.stringify(params);
  }

  // Blocking call: returns the decoded result or throws PatronError.
  callSync(method, params, timeoutMs) {
    const body = this._check(method, params);
    const old = timeoutMs != null ? this._api.setTimeout(this._h, timeoutMs) : null;
    try {
      const st = [0];
      const text = this._api.callJson(this._h, method, body, st);
      return decode(text, st[0]);
    } finally {
      if (old != null) this._api.setTimeout(this._h, old);
    }
  }

  // Non-blocking call: resolves to the decoded result or rejects with PatronError.
  call(method, params, timeoutMs) {
    let body;
    try {
      body = this._check(method, params);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = () => new Promise((resolve, reject) => {
      if (!this._h) {
        reject(new PatronError('invalid_request', 'client is closed', null, Status.INVALID));
        return;
      }
      const old = timeoutMs != null ? this._api.setTimeout(this._h, timeoutMs) : null;
      const st = [0];
      this._api.callJson.async(this._h, method, body, st, (err, text) => {
        if (old != null && this._h) this._api.setTimeout(this._h, old);
        if (err) return reject(err);
        try {
          resolve(decode(text, st[0]));
        } catch (e) {
          reject(e);
        }
      });
    });
    const p = this._queue.then(run, run);
    this._queue = p.catch(() => {});
    return p;
  }

  ping() { return this.call('ping'); }

  // Closes after calls already queued have finished.
  close() {
    const done = this._queue.then(() => {
      if (this._h) {
        this._api.close(this._h);
        this._h = null;
      }
    });
    this._queue = done;
    return done;
  }

  // Closes at once (only when no call() is pending; for callSync() users).
  closeSync() {
    if (this._h) {
      this._api.close(this._h);
      this._h = null;
    }
  }

  get libraryVersion() { return this._api.version(); }
}

module.exports = { Client, PatronError, Status, DEFAULT_SOCKET, loadLibrary };
