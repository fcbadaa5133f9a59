<?php
/* backfill.php -- php-cli: runs `wp patron backfill` (Patron\WooCommerce\Cli::backfill) on the
 * test site with a WP-CLI TEST DOUBLE (WP-CLI is not packaged in Debian 12): WP_CLI::error
 * throws, warning/success are recorded, the progress bar counts ticks. Usage:
 * backfill.php STEP [--restart], STEP 1 = orders 2001-2003 exist, 2 = 2001-2005 (2004
 * processing, 2005 pending: never sent). Prints {log, cursor, ticks, total} as JSON. */
namespace {
    define('WP_CLI', true);

    class WP_CLI
    {
        public static array $log = [];
        public static function error(string $m): void { self::$log[] = "error: $m"; throw new RuntimeException($m); }
        public static function warning(string $m): void { self::$log[] = "warning: $m"; }
        public static function success(string $m): void { self::$log[] = "success: $m"; }
        public static function add_command(string $name, string $class): void { }
    }
}

namespace WP_CLI\Utils {
    function make_progress_bar(string $message, int $total): object
    {
        return $GLOBALS['patron_bar'] = new class($total) {
            public int $ticks = 0;
            public function __construct(public int $total) { }
            public function tick(): void { $this->ticks++; }
            public function finish(): void { }
        };
    }
}

namespace {
    require __DIR__ . '/wp-config.php';
    $step = (int)$argv[1];
    $uid = (int)(get_user_by('email', 'ann@shop.test')->ID ?? 0);
    foreach ($step === 1 ? [2001, 2002, 2003] : [2001, 2002, 2003, 2004, 2005] as $id) {
        $o = new WC_Order($id, $uid, 'ann@shop.test', 'EUR', [new WC_Order_Item_Product(104, 0, 1, '2.00')], 1700100000 + $id);
        $o->set_status(['2004' => 'processing', '2005' => 'pending'][$id] ?? 'completed');
    }
    try {
        (new Patron\WooCommerce\Cli())->backfill([], ['batch' => 2] + (in_array('--restart', $argv, true) ? ['restart' => true] : []));
    } catch (RuntimeException $e) {
    }
    echo json_encode(['log' => WP_CLI::$log, 'cursor' => (int)get_option(Patron\WooCommerce\Cli::CURSOR, 0),
        'ticks' => $GLOBALS['patron_bar']->ticks ?? null, 'total' => $GLOBALS['patron_bar']->total ?? null]), "\n";
}
