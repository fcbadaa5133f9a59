<?php
/* Settings.php -- the plugin's settings page (WooCommerce > Patron) on the WordPress
 * Settings API. Owns: the option patron_wc_settings (socket, timeouts, what to show) and its
 * sanitising. Invariant: stored values are always in range (timeouts 10..5000 ms, limit 1..20),
 * so Plugin never has to re-check them. */
declare(strict_types=1);

namespace Patron\WooCommerce;

final class Settings
{
    public static function register(): void
    {
        add_action('admin_menu', static function (): void {
            add_submenu_page('woocommerce', 'Patron', 'Patron', 'manage_woocommerce', 'patron',
                [self::class, 'render']);
        });
        add_action('admin_init', static function (): void {
            register_setting('patron', Plugin::OPTION, ['type' => 'array',
                'sanitize_callback' => [self::class, 'sanitize'], 'default' => Plugin::DEFAULTS]);
        });
    }

    public static function sanitize(mixed $in): array
    {
        $in = is_array($in) ? $in : [];
        $out = Plugin::DEFAULTS;
        $out['socket'] = sanitize_text_field((string)($in['socket'] ?? $out['socket']));
        $out['timeout_ms'] = max(10, min(5000, (int)($in['timeout_ms'] ?? $out['timeout_ms'])));
        $out['budget_ms'] = max(10, min(5000, (int)($in['budget_ms'] ?? $out['budget_ms'])));
        $out['cooldown_ms'] = max(0, min(600000, (int)($in['cooldown_ms'] ?? $out['cooldown_ms'])));
        $out['limit'] = max(1, min(20, (int)($in['limit'] ?? $out['limit'])));
        foreach (['show_cross_sells', 'show_upsells', 'show_related', 'show_tier', 'apply_offers', 'redeem_points'] as $k) {
            $out[$k] = !empty($in[$k]);
        }
        return $out;
    }

    public static function render(): void
    {
        $s = Plugin::settings();
        $name = Plugin::OPTION;
        echo '<div class="wrap"><h1>Patron</h1><form method="post" action="options.php">';
        settings_fields('patron');
        echo '<table class="form-table">';
        printf('<tr><th>Socket</th><td><input name="%s[socket]" value="%s" class="regular-text"></td></tr>',
            esc_attr($name), esc_attr($s['socket']));
        foreach (['timeout_ms' => 'Timeout per call (ms)', 'budget_ms' => 'Budget per page (ms)',
                     'cooldown_ms' => 'Circuit cool-down (ms)', 'limit' => 'Items shown'] as $k => $label) {
            printf('<tr><th>%s</th><td><input type="number" name="%s[%s]" value="%d"></td></tr>',
                esc_html($label), esc_attr($name), $k, (int)$s[$k]);
        }
        foreach (['show_cross_sells' => 'Cart cross-sells', 'show_upsells' => 'Product upsells',
                     'show_related' => 'Related products', 'show_tier' => 'Tier on My Account',
                     'apply_offers' => 'Apply the decided offer', 'redeem_points' => 'Points redemption at checkout'] as $k => $label) {
            printf('<tr><th>%s</th><td><input type="checkbox" name="%s[%s]" value="1"%s></td></tr>',
                esc_html($label), esc_attr($name), $k, $s[$k] ? ' checked' : '');
        }
        echo '</table>';
        submit_button();
        echo '</form></div>';
    }
}
