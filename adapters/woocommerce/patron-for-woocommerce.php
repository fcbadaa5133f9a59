<?php
/**
 * Plugin Name: Patron for WooCommerce
 * Description: Customer revenue from Patron (patrond): orders, refunds, products and customers sent to Patron; cart cross-sells, upsells and related products from Patron's recommendations; loyalty tier and points on My Account; the decided offer applied to the cart; loyalty points spent at checkout (classic and block checkout). Fails open: when Patron is down, the shop works as without the plugin.
 * Version: 0.1.0
 * Requires PHP: 8.1
 * Requires at least: 6.0
 * WC requires at least: 7.0
 * License: MIT
 * Text Domain: patron
 *
 * patron-for-woocommerce.php -- bootstrap. Owns: loading the Patron PHP client (preloaded
 * under PHP-FPM, else the file named by PATRON_PHP_CLIENT or /usr/share/patron/php/Patron.php)
 * and this plugin's classes, registering hooks, the WP-CLI command and the order query arg
 * patron_after_id the backfill pages with. Invariant: with the client missing the plugin
 * registers nothing that touches the storefront and shows an admin notice.
 */
declare(strict_types=1);

defined('ABSPATH') || exit;

if (!class_exists(\Patron\Client::class)) {
    $patron_client = defined('PATRON_PHP_CLIENT') ? PATRON_PHP_CLIENT : '/usr/share/patron/php/Patron.php';
    if (is_readable($patron_client)) {
        require_once $patron_client;
    }
}
require_once __DIR__ . '/includes/Mapper.php';
require_once __DIR__ . '/includes/Plugin.php';
require_once __DIR__ . '/includes/Checkout.php';
require_once __DIR__ . '/includes/Settings.php';

if (class_exists(\Patron\Client::class)) {
    \Patron\WooCommerce\Plugin::register();
} else {
    add_action('admin_notices', static function (): void {
        echo '<div class="notice notice-error"><p>Patron for WooCommerce: the Patron PHP client ',
            '(/usr/share/patron/php/Patron.php, Debian package patron) is not installed.</p></div>';
    });
}
\Patron\WooCommerce\Settings::register();

// wc_get_orders(['patron_after_id' => N]): orders with id > N (the backfill's cursor)
add_filter('woocommerce_order_data_store_cpt_get_orders_query', static function (array $q, array $vars): array {
    if (!empty($vars['patron_after_id'])) {
        $after = (int)$vars['patron_after_id'];
        $q['where_patron'] = $after;
        add_filter('posts_where', $w = static function (string $where) use ($after, &$w): string {
            remove_filter('posts_where', $w);
            global $wpdb;
            return $where . $wpdb->prepare(" AND {$wpdb->posts}.ID > %d", $after);
        });
    }
    return $q;
}, 10, 2);

if (defined('WP_CLI') && WP_CLI) {
    require_once __DIR__ . '/includes/Cli.php';
    \WP_CLI::add_command('patron', \Patron\WooCommerce\Cli::class);
}
