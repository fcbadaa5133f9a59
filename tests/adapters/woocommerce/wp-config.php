<?php
/* wp-config.php -- configuration of the throwaway WordPress site of woocommerce_test.sh:
 * Debian's WordPress code (/usr/share/wordpress) with a temp database (MariaDB on a socket)
 * and a temp wp-content. Everything comes from the environment the test sets; nothing in
 * /etc or /var/lib/wordpress is read or written. */
define('DB_NAME', 'wp');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:' . getenv('PATRON_WP_DB_SOCKET'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_CONTENT_DIR', getenv('PATRON_WP_CONTENT'));
define('WP_CONTENT_URL', 'http://shop.test/wp-content');
define('WP_HOME', 'http://shop.test');
define('WP_SITEURL', 'http://shop.test');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('PATRON_PHP_CLIENT', getenv('PATRON_PHP_CLIENT') ?: '/usr/share/patron/php/Patron.php');
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $k) {
    define($k, 'patron-test-only');
}
$table_prefix = 'wp_';
$_SERVER['HTTP_HOST'] ??= 'shop.test';
define('ABSPATH', '/usr/share/wordpress/');
require_once ABSPATH . 'wp-settings.php';
