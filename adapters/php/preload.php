<?php
/* preload.php -- opcache.preload script for PHP-FPM with ffi.enable=preload (the default).
 * Owns: preloading Patron\Client at server start, because in that mode only preloaded code
 * may call FFI::scope(). Invariants: the FFI scope "PATRON" itself comes from ffi.preload
 * (patron_ffi.h, or a header made by Patron\Client::ffiHeader()); only when that is
 * missing and opcache.preload_user is unset (FFI::load() refuses to run with it) is the
 * library at $PATRON_CLIENT_LIB (else libpatronclient.so.0) bound here.
 * php.ini (FPM):  ffi.enable=preload
 *                 ffi.preload=/usr/share/patron/php/patron_ffi.h
 *                 opcache.enable=1
 *                 opcache.preload=/usr/share/patron/php/preload.php
 *                 opcache.preload_user=www-data
 */
declare(strict_types=1);

require_once __DIR__ . '/Patron.php';

try {
    \FFI::scope(\Patron\Client::FFI_SCOPE);
} catch (\Throwable $e) {
    if (ini_get('opcache.preload_user')) {
        error_log('patron: FFI scope "PATRON" missing: set ffi.preload to patron_ffi.h');
    } else {
        $lib = getenv('PATRON_CLIENT_LIB') ?: \Patron\Client::DEFAULT_LIBRARY;
        $hdr = tempnam(sys_get_temp_dir(), 'patron_ffi_');
        file_put_contents($hdr, \Patron\Client::ffiHeader($lib));
        try {
            \FFI::load($hdr);
        } finally {
            unlink($hdr);
        }
    }
}
