<?php
/* adapter_test.php -- integration test of adapters/php/Patron.php against the real patrond.
 * Owns: the PHP half of tests/adapters/run.sh (PATRON_SOCKET, PATRON_CLIENT_LIB and
 * PATRON_TEST_PID come from it). With --expect-preload it also checks that the binding
 * came from the preloaded FFI scope (ffi.preload + opcache.preload, the PHP-FPM set-up).
 * Invariant: ends by stopping, then killing the daemon, checking UnavailableException. */
declare(strict_types=1);

$TEST_LABEL = 'php';
require __DIR__ . '/testlib.php';

use Patron\Client;
use Patron\PatronException;
use Patron\UnavailableException;

function expect_error(callable $fn): PatronException
{
    try {
        $fn();
    } catch (PatronException $e) {
        return $e;
    }
    throw new RuntimeException('no error');
}

if (in_array('--expect-preload', $argv, true)) {
    $scoped = true;
    try {
        FFI::scope(Client::FFI_SCOPE);
    } catch (Throwable $e) {
        $scoped = false;
    }
    check('FFI scope PATRON preloaded (ffi.enable=' . ini_get('ffi.enable') . ')', $scoped);
    check('Patron\\Client preloaded by opcache.preload',
        in_array(Client::class, opcache_get_status(false)['preload_statistics']['classes'] ?? [], true),
        opcache_get_status(false)['preload_statistics'] ?? null);
}

// composer.json: valid, and what it autoloads exists (composer itself is not installed here)
$composer = json_decode((string)file_get_contents(__DIR__ . '/../../adapters/php/composer.json'), true);
check('composer.json autoloads Patron.php', is_array($composer) && ($composer['name'] ?? '') === 'patron/patron-client'
    && array_filter($composer['autoload']['files'] ?? [], fn($f) => is_file(__DIR__ . "/../../adapters/php/$f")) === ['Patron.php'],
    $composer['autoload'] ?? null);

$tag = 'php' . getmypid();
// cooldown 0: every call after a failure probes, so each failure below is seen as is
$c = new Client(null, 2000, new Patron\Breaker(1000, 0));
$r = $c->ping();
check('ping', ($r['pong'] ?? null) === true, $r);
$r = $c->call('product.upsert', ['product_id' => "$tag-mug", 'name' => 'Mug', 'price' => 1299, 'currency' => 'EUR']);
check('product.upsert', ($r['product_id'] ?? null) === "$tag-mug", $r);
$r = $c->call('product.get', ['product_id' => "$tag-mug"]);
check('product.get price is int', ($r['price'] ?? null) === 1299, $r);
$order = ['order_id' => "$tag-o1", 'customer_id' => "$tag-c1", 'ts' => 1700000000, 'currency' => 'EUR',
    'lines' => [['product_id' => "$tag-mug", 'quantity' => 2, 'unit_price' => 1299]]];
$r = $c->call('order.record', $order);
check('order.record', ($r['total'] ?? null) === 2598, $r);
$r = $c->call('order.record', $order);
check('order.record replay is a no-op success', is_array($r), $r);
$r = $c->call('customer.get', ['customer_id' => "$tag-c1"]);
check('customer.get order_count', ($r['order_count'] ?? null) === 1, $r);
check('customer.get net spend', ($r['totals'][0]['net'] ?? null) === 2598, $r);
$e = expect_error(fn() => $c->call('product.upsert', ['product_id' => 5]));
check('invalid_params error', get_class($e) === PatronException::class && $e->errorCode === 'invalid_params'
    && $e->field === 'product_id' && !$e->isUnavailable() && $e->status === Client::STATUS_REMOTE,
    [$e->errorCode, $e->field, $e->status]);
$e = expect_error(fn() => $c->call('no.such.method'));
check('unknown_method error', $e->errorCode === 'unknown_method', $e->errorCode);
$e = expect_error(fn() => $c->call('ping', [1, 2]));
check('list params refused locally', $e->status === Client::STATUS_INVALID, $e->status);

$pid = (int)getenv('PATRON_TEST_PID');
posix_kill($pid, SIGSTOP);
$t0 = hrtime(true);
$e = expect_error(fn() => $c->call('ping', [], 300));
$ms = (hrtime(true) - $t0) / 1e6;
check(sprintf('hung daemon -> UnavailableException within the timeout (%.0f ms)', $ms),
    $e instanceof UnavailableException && $e->isUnavailable() && $ms >= 250 && $ms < 1000, $e->errorCode);
posix_kill($pid, SIGKILL);
posix_kill($pid, SIGCONT);
// wait for the death (its socket refuses connections), not for a fixed time
$deadline = hrtime(true) + 5e9;
while (($probe = @stream_socket_client('unix://' . getenv('PATRON_SOCKET'), $errno, $errstr, 1)) !== false) {
    fclose($probe);
    if (hrtime(true) > $deadline) { fwrite(STDERR, "patrond still accepts 5 s after SIGKILL\n"); exit(1); }
    usleep(5000);
}
$t0 = hrtime(true);
$e = expect_error(fn() => $c->call('ping', [], 3000));
$ms = (hrtime(true) - $t0) / 1e6;
check(sprintf('dead daemon -> UnavailableException at once, well before the 3 s timeout (%.0f ms)', $ms),
    $e instanceof UnavailableException && $e->errorCode === 'unavailable' && $ms < 1000, $e->errorCode);
$c->close();
test_summary();
