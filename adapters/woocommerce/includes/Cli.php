<?php
/* Cli.php -- `wp patron backfill`: send the shop's order history to Patron.
 * Owns: walking paid orders by ascending id in batches, with a progress bar, and the cursor
 * option patron_wc_backfill_cursor (the last order id sent) so a stopped run resumes where it
 * stopped. Invariants: the cursor only moves past an order once Patron answered for it
 * (recorded, replayed, or refused as bad input and reported); on "unavailable" the run stops
 * with a non-zero exit and the cursor at the last order sent; --restart forgets the cursor.
 * Replays are safe: order.record is idempotent on the Woo order id. */
declare(strict_types=1);

namespace Patron\WooCommerce;

use Patron\PatronException;
use Patron\UnavailableException;

final class Cli
{
    public const CURSOR = 'patron_wc_backfill_cursor';

    /**
     * Backfill paid orders (processing, completed) and their refunds.
     *
     * [--batch=<n>]
     * : Orders per query (default 100).
     * [--restart]
     * : Start from the first order instead of the saved cursor.
     */
    public function backfill(array $args, array $assoc): void
    {
        $batch = max(1, (int)($assoc['batch'] ?? 100));
        if (!empty($assoc['restart'])) {
            delete_option(self::CURSOR);
        }
        $c = Plugin::client();
        if ($c === null) {
            \WP_CLI::error('Patron PHP client (Patron.php) is not loaded');
        }
        $after = (int)get_option(self::CURSOR, 0);
        $total = self::count($after);
        $bar = \WP_CLI\Utils\make_progress_bar("Backfilling orders after #$after", $total);
        $sent = $refused = 0;
        while (true) {
            $ids = wc_get_orders(['status' => ['wc-processing', 'wc-completed'], 'type' => 'shop_order',
                'limit' => $batch, 'orderby' => 'ID', 'order' => 'ASC', 'return' => 'ids',
                'patron_after_id' => $after]);
            if ($ids === []) {
                break;
            }
            foreach ($ids as $id) {
                $order = wc_get_order($id);
                try {
                    if ($order) {
                        $p = Mapper::order($order);
                        if ($p['lines'] !== []) {
                            $c->call('order.record', $p);
                        }
                        foreach ($order->get_refunds() as $refund) {
                            $r = Mapper::refund($order, $refund);
                            if ($r['amount'] > 0) {
                                $c->call('order.refund', $r);
                            }
                        }
                    }
                    $sent++;
                } catch (UnavailableException $e) {
                    $bar->finish();
                    \WP_CLI::error("Patron unavailable at order #$id ({$e->errorCode}); rerun to resume after #$after");
                } catch (PatronException $e) {
                    $refused++;
                    \WP_CLI::warning("order #$id refused: {$e->errorCode} {$e->getMessage()}");
                }
                $after = (int)$id;
                update_option(self::CURSOR, $after, false);
                $bar->tick();
            }
        }
        $bar->finish();
        \WP_CLI::success("$sent orders sent, $refused refused; cursor at #$after");
    }

    private static function count(int $after): int
    {
        $r = wc_get_orders(['status' => ['wc-processing', 'wc-completed'], 'type' => 'shop_order',
            'limit' => 1, 'paginate' => true, 'return' => 'ids', 'patron_after_id' => $after]);
        return is_object($r) ? (int)$r->total : 0;
    }
}
