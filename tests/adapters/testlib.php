<?php
/* testlib.php -- what the PHP adapter tests share: loading Patron.php unless it was
 * preloaded, and check() counting and printing results under one label ($TEST_LABEL).
 * Invariant: the caller ends with test_summary(), whose exit status is 1 on any failure. */
declare(strict_types=1);

if (!class_exists(\Patron\Client::class, false)) {
    require __DIR__ . '/../../adapters/php/Patron.php';
}

$pass = 0;
$fail = 0;
function check(string $name, bool $ok, mixed $detail = ''): void
{
    global $pass, $fail, $TEST_LABEL;
    if ($ok) {
        $pass++;
        echo "ok   $TEST_LABEL: $name\n";
    } else {
        $fail++;
        echo "FAIL $TEST_LABEL: $name ", json_encode($detail), "\n";
    }
}

function test_summary(): never
{
    global $pass, $fail, $TEST_LABEL;
    echo "$TEST_LABEL: $pass passed, $fail failed\n";
    exit($fail ? 1 : 0);
}
