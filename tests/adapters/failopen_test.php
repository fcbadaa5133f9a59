<?php
/* failopen_test.php -- the fail-open contract of adapters/php/Patron.php, real patrond.
 * Owns: the PHP fail-open checks run by tests/adapters/run.sh (php-failopen): FFI library
 * missing, socket missing, circuit breaker opening after N failures and closing on a probe
 * when the daemon comes back, a SIGSTOPped daemon costing one timeout per page, the shared
 * page Budget, typed-helper fallbacks.
 * Invariants: the daemon "comes back" through a symlink that starts dangling and is then
 * pointed at the live socket (no restart); waits are bounded polls on the breaker's state;
 * timing bounds are relative to the timeout under test, between the right behaviour and the
 * wrong one (e.g. < 420 ms for one 150 ms timeout, against 450 for three), so a loaded CI
 * host does not fail them. */
declare(strict_types=1);

$TEST_LABEL = 'php-failopen';
require __DIR__ . '/testlib.php';

use Patron\Breaker;
use Patron\Budget;
use Patron\Client;
use Patron\PatronException;
use Patron\UnavailableException;

/** [result or exception, elapsed ms] */
function timed(callable $fn): array
{
    $t0 = hrtime(true);
    try {
        $r = $fn();
    } catch (PatronException $e) {
        $r = $e;
    }
    return [$r, (hrtime(true) - $t0) / 1e6];
}
function code(mixed $r): ?string
{
    return $r instanceof PatronException ? $r->errorCode : null;
}

$sock = getenv('PATRON_SOCKET');
$pid = (int)getenv('PATRON_TEST_PID');
$tmp = sys_get_temp_dir() . '/patron-fo-php-' . getmypid();
mkdir($tmp);

// 1. library missing (only testable without a preloaded scope): Unavailable + fallbacks
if (!in_array('--expect-preload', $argv, true)) {
    $saved = getenv('PATRON_CLIENT_LIB');
    putenv("PATRON_CLIENT_LIB=$tmp/nolib.so");
    $c = new Client("$tmp/x.sock", 150, new Breaker(3, 60000));
    putenv("PATRON_CLIENT_LIB=$saved");
    [$e] = timed(fn() => $c->call('ping'));
    check('library missing -> UnavailableException', $e instanceof UnavailableException
        && str_contains($e->getMessage(), 'could not be loaded'), code($e));
    check('library missing -> recsCart [] / offer null / tier unknown / points null', $c->recsCart(['a']) === [] && $c->points('c') === null
        && $c->offer('c', ['currency' => 'EUR', 'lines' => []]) === null && $c->tier('c') === Client::UNKNOWN_TIER);
    [$e] = timed(fn() => $c->call('ping', [1, 2]));
    check('bad input is still an error, not a fallback', $e instanceof PatronException && !$e->isUnavailable());
}

// 2. socket missing, breaker opens after N, a probe closes it when the daemon returns
$link = "$tmp/link.sock";
$br = new Breaker(3, 200);
$c = new Client($link, 1000, $br);
$codes = [];
for ($i = 0; $i < 3; $i++) {
    [$e, $ms] = timed(fn() => $c->call('ping'));
    $codes[] = [code($e), $ms < 500];
}
check('socket missing -> unavailable at once, 3 times', $codes === array_fill(0, 3, ['unavailable', true]), $codes);
check('breaker open after 3 failures', $br->state() === 'open', $br->state());
symlink($sock, $link); // the daemon is back
[$e, $ms] = timed(fn() => $c->call('ping'));
check('open breaker fails at once even though the daemon is back', code($e) === 'circuit_open' && $ms < 200, [code($e), $ms]);
check('recsCart falls back to [] while open', $c->recsCart(['x']) === []);
for ($end = hrtime(true) + 5e9; $br->state() === 'open' && hrtime(true) < $end;) {
    usleep(10000); // cool-down: poll the state
}
[$r] = timed(fn() => $c->call('ping'));
check('probe after the cool-down reaches the daemon and closes the breaker',
    is_array($r) && ($r['pong'] ?? null) === true && $br->state() === 'closed', [$r, $br->state()]);

// 2b. forSocket() breakers outlive the request: another PHP process sees the circuit open
$gone = "$tmp/gone.sock";
$c = new Client($gone, 1000, Breaker::forSocket($gone, 2, 60000));
timed(fn() => $c->call('ping'));
timed(fn() => $c->call('ping'));
$php = escapeshellarg(PHP_BINARY);
$src = escapeshellarg(__DIR__ . '/../../adapters/php/Patron.php');
$other = shell_exec("$php -d ffi.enable=1 -r " . escapeshellarg(
    "require $src; \$c = new Patron\\Client('$gone', 1000, Patron\\Breaker::forSocket('$gone', 2, 60000));" .
    " try { \$c->call('ping'); echo 'answered'; } catch (Patron\\PatronException \$e) { echo \$e->errorCode; }"));
check('breaker state shared with another PHP process (next request, other FPM worker)',
    $other === 'circuit_open', $other);
$c->breaker->record(true); // closes it: its state file is removed
check('closing the breaker removes its state file', !is_file($c->breaker->stateFile), $c->breaker->stateFile);

// 3. a SIGSTOPped daemon costs one timeout per page, not one per call
$c = new Client($sock, 150, new Breaker(3, 60000));
check('live daemon answers', ($c->ping()['pong'] ?? null) === true);
posix_kill($pid, SIGSTOP);
try {
    $t0 = hrtime(true);
    $r = [timed(fn() => $c->call('customer.get', ['customer_id' => 'c1']))[0],
        timed(fn() => $c->recsCart(['a', 'b']))[0], timed(fn() => $c->tier('c1'))[0]];
    $ms = (hrtime(true) - $t0) / 1e6;
    check(sprintf('hung daemon: page of 3 calls costs one 150 ms timeout (%.0f ms)', $ms),
        $ms >= 140 && $ms < 420 && code($r[0]) === 'timeout' && $r[1] === [] && $r[2] === 'unknown', [code($r[0]), $ms]);

    // 4. one page budget shared by all calls (breaker kept out of it)
    $c2 = new Client($sock, 1000, new Breaker(1000, 0));
    $page = new Budget(200);
    $t0 = hrtime(true);
    $codes = [];
    for ($i = 0; $i < 3; $i++) {
        $codes[] = code(timed(fn() => $c2->call('ping', [], null, $page))[0]);
    }
    $ms = (hrtime(true) - $t0) / 1e6;
    check(sprintf('budget of 200 ms: 3 calls at 1000 ms timeout take ~200 ms (%.0f ms)', $ms),
        // the 2nd call may start with a ms left (then it times out at once): either way the budget ends the page
        $ms >= 180 && $ms < 600 && $codes[0] === 'timeout' && $codes[2] === 'budget_exhausted'
        && in_array($codes[1], ['timeout', 'budget_exhausted'], true), $codes);
} finally {
    posix_kill($pid, SIGCONT);
}
unlink($link);
@rmdir($tmp);
test_summary();
