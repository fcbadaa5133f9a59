<?php
/* bench.php -- PHP half of bench.sh (same measures as bench.py): `overhead SOCK N` and
 * `page SOCK MODE PID` with MODE up | hung | down. */
declare(strict_types=1);
require __DIR__ . '/../../../adapters/php/Patron.php';
use Patron\{Breaker, Budget, Client};

function stats(array $xs): array { sort($xs); return [$xs[intdiv(count($xs), 2)], $xs[intdiv(count($xs) * 99, 100)]]; }
function page(Client $c): float
{
    $b = new Budget(300);
    $t0 = hrtime(true);
    $c->recsCart(['p1', 'p2'], ['limit' => 4], null, $b);
    $c->recsUpsell('p1', ['limit' => 4], null, $b);
    $c->tier('c1', null, $b);
    return (hrtime(true) - $t0) / 1e6;
}
[$_, $mode, $sock] = $argv;
if ($mode === 'overhead') {
    $c = new Client($sock, 1000, new Breaker(3, 5000));
    $xs = [];
    for ($i = -200; $i < (int)$argv[3]; $i++) {
        $t0 = hrtime(true);
        $c->call('recs.cart', ['items' => ['p1', 'p2'], 'limit' => 4]);
        if ($i >= 0) { $xs[] = (hrtime(true) - $t0) / 1e3; }
    }
    vprintf("php %.1f %.1f\n", stats($xs));
} else {
    [$m, $pid] = [$argv[3], (int)$argv[4]];
    $c = new Client($m === 'down' ? "$sock.gone" : $sock, 150, new Breaker(3, 60000));
    if ($m === 'hung') { $c->ping(); posix_kill($pid, SIGSTOP); }
    try {
        $first = page($c);
        $rest = stats(array_map(fn() => page($c), range(1, 50)));
    } finally {
        if ($m === 'hung') { posix_kill($pid, SIGCONT); }
    }
    printf("php page %s first %.2f ms, next 50 median %.3f ms\n", $m, $first, $rest[0]);
}
