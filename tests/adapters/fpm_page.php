<?php
/* fpm_page.php -- the page fpm_test.sh requests from php-fpm through cgi-fcgi.
 * Owns: proving, inside a real FPM worker with ffi.enable=preload, that Patron\Client was
 * preloaded (no require here), that FFI::cdef() and FFI::scope() are refused in page code (so only the preloaded class, using
 * the scope of the shipped patron_ffi.h, can bind the library), and that calls
 * work; prints one JSON object. Invariant: read-only apart from the product it upserts. */
declare(strict_types=1);
header('Content-Type: application/json');
$out = ['preloaded' => class_exists(\Patron\Client::class, false), 'ffi_enable' => ini_get('ffi.enable')];
try {
    FFI::cdef('int abs(int);');
    $out['cdef'] = 'allowed';
} catch (\Throwable $e) {
    $out['cdef'] = 'refused';
}
try {
    FFI::scope('PATRON');
    $out['scope'] = true;
} catch (\Throwable $e) {
    $out['scope'] = $e->getMessage();
}
$c = new \Patron\Client(getenv('PATRON_SOCKET') ?: null, 1000);
$out['ping'] = $c->ping();
$out['upsert'] = $c->call('product.upsert', ['product_id' => 'fpm-mug', 'name' => 'Mug', 'price' => 990, 'currency' => 'EUR']);
$out['recs'] = $c->recsCart(['fpm-mug']);
echo json_encode($out), "\n";
