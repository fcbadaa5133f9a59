<?php
/* mu-doubles.php -- must-use plugin of the test site: loads the WooCommerce test doubles
 * (doubles.php) and registers the product_cat taxonomy WooCommerce would register. */
require_once getenv('PATRON_WC_DOUBLES');
add_action('init', static fn() => register_taxonomy('product_cat', 'product', ['public' => false]), 0);
