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
  };
  libs.set(file, api);
  return api;
}

module.exports = { loadLibrary, DEFAULT_LIBRARY };
