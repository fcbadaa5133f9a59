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

// loyalty and offers through the typed helpers (program and offer set on the admin socket)
$fixture = json_decode((string)file_get_contents(__DIR__ . '/loyalty_offer.json'), true);
$admin = new Client(getenv('PATRON_ADMIN_SOCKET'), 5000, new Patron\Breaker());
$admin->call('loyalty.program.set', $fixture['program']);
$admin->call('offers.set', $fixture['offer']);
try { // a daemon that rebuilds its catalogue on a worker: wait until decide serves the offer
    $admin->call('offers.reload');
} catch (PatronException $e) {
    if ($e->errorCode !== 'unknown_method') { // older daemons install it with offers.set
        throw $e;
    }
}
$admin->close();
$cust = "$tag-loyal";
check('tier/points of a customer without loyalty activity: unknown / 0',
    $c->tier($cust) === Client::UNKNOWN_TIER && $c->points($cust) === 0, [$c->tier($cust), $c->points($cust)]);
$c->call('order.record', ['order_id' => "$tag-o2", 'customer_id' => $cust] + $order); // 25.98 EUR: 25 points
check('tier() after an order: silver (from 10 points)', $c->tier($cust) === 'silver', $c->tier($cust));
check('points() after an order: 25', $c->points($cust) === 25, $c->points($cust));
$cart = ['currency' => 'EUR', 'lines' => [['product_id' => "$tag-mug", 'quantity' => 1, 'unit_price' => 1299]]];
$o = $c->offer($cust, $cart);
check('offer(): the decided offer with its discount and token',
    ($o['offer_id'] ?? null) === 'five_off' && $o['discount'] === 500 && $o['token'] !== '', $o);
$small = ['currency' => 'EUR', 'lines' => [['product_id' => "$tag-mug", 'quantity' => 1, 'unit_price' => 999]]];
check('offer() of a cart under min_cart: null', $c->offer($cust, $small) === null);
$r = $c->redeemOffer($cust, $o['token'], $cart, "$tag-redeem");
$r2 = $c->redeemOffer($cust, $o['token'], $cart, "$tag-redeem");
check('redeemOffer(): accepted once, the replay answers the same',
    $r['discount'] === 500 && !$r['replay'] && $r2['replay'], [$r, $r2]);
$r = $c->call('loyalty.redeem', ['customer_id' => $cust, 'points' => 20, 'redemption_id' => "$tag-pts", 'currency' => 'EUR']);
check('loyalty.redeem 20 points = 1.00 EUR; points() 5 after', $r['accepted'] && $r['value'] === 100
    && $c->points($cust) === 5, $r);

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
$fb = [$c->tier($cust), $c->points($cust), $c->offer($cust, $cart)];
check('dead daemon -> tier unknown, points null, offer null', $fb === ['unknown', null, null], $fb);
$c->close();
test_summary();
