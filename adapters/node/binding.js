// binding.js -- the koffi binding of libpatronclient, shared by the main thread and workers.
//
// Owns: loading the library once per thread and path, and the few C functions the adapter
// calls. Invariant: a string the library returns is copied to JS and patron_free()d at once.
// The library is `path`, else $PATRON_CLIENT_LIB, else the loader's libpatronclient.so.0.
'use strict';

const DEFAULT_LIBRARY = 'libpatronclient.so.0';
const libs = new Map();

function loadLibrary(path) {
  const file = path || process.env.PATRON_CLIENT_LIB || DEFAULT_LIBRARY;
  let api = libs.get(file);
  if (api) return api;
  const koffi = require('koffi');
  const lib = koffi.load(file);
  const free = lib.func('void patron_free(void *p)');
  const HeapStr = koffi.disposable('PatronHeapStr_' + libs.size, 'str', (p) => free(p));
  api = {
    open: lib.func('void *patron_open(const char *path, int timeout_ms)'),
    close: lib.func('void patron_close(void *c)'),
    setTimeout: lib.func('int patron_set_timeout(void *c, int timeout_ms)'),
    callJson: lib.func('patron_call_json', HeapStr,
      ['void *', 'const char *', 'const char *', koffi.out(koffi.pointer('int'))]),
    version: lib.func('const char *patron_version(void)'),
    setTls: lib.func('int patron_set_tls(void *c, const char *cert, const char *key, ' +
      'const char *ca, void *err)'),
  };
  libs.set(file, api);
  return api;
}

// sizeof(patron_error_t) and the offsets of its message (patronclient.h).
const ERR_SIZE = 4 + 32 + 256 + 128;
const ERR_MESSAGE = 36;

// A handle for socketPath; tls = { cert, key, ca } (PEM files) for a tls://host:port
// address. Throws with the library's message when the address is malformed or a TLS file
// does not load.
function openHandle(api, socketPath, timeoutMs, tls) {
  const h = api.open(socketPath, timeoutMs);
  if (!h) throw new Error('patron_open failed (malformed tls:// address or out of memory)');
  if (tls) {
    const err = Buffer.alloc(ERR_SIZE);
    if (api.setTls(h, tls.cert || null, tls.key || null, tls.ca || null, err) !== 0) {
      api.close(h);
      const msg = err.subarray(ERR_MESSAGE, ERR_MESSAGE + 256);
      throw new Error('TLS options: ' + msg.subarray(0, Math.max(0, msg.indexOf(0))).toString());
    }
  }
  return h;
}

module.exports = { loadLibrary, openHandle, DEFAULT_LIBRARY };
