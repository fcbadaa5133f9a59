<?php
/* install.php -- php-cli: installs the test site (wp_install) and activates the plugin
 * through WordPress (activate_plugin), as an admin would. Prints "installed <plugin>". */
define('WP_INSTALLING', true);
require __DIR__ . '/wp-config.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$r = wp_install('Patron test shop', 'admin', 'admin@shop.test', false, '', 'admin-pass-test');
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message() . "\n"); exit(1); }
$plugin = 'patron-for-woocommerce/patron-for-woocommerce.php';
$a = activate_plugin($plugin);
if (is_wp_error($a)) { fwrite(STDERR, $a->get_error_message() . "\n"); exit(1); }
// the settings an admin would save on WooCommerce > Patron (through its sanitiser)
update_option(\Patron\WooCommerce\Plugin::OPTION, \Patron\WooCommerce\Settings::sanitize([
    'socket' => getenv('PATRON_SOCKET'), 'timeout_ms' => 150, 'budget_ms' => 300, 'cooldown_ms' => 300,
    'limit' => 4, 'show_cross_sells' => 1, 'show_upsells' => 1, 'show_related' => 1, 'show_tier' => 1,
    'apply_offers' => 1, 'redeem_points' => 1]));
echo is_plugin_active($plugin) ? "installed $plugin\n" : "not active\n";
