<?php
/**
 * Plugin Name:          Basketry
 * Description:          Product recommendations for WooCommerce: "Frequently bought together", related products, cart suggestions and personal picks, learnt from your store's orders.
 * Version:              0.1.0
 * Requires at least:    6.3
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * WC requires at least: 8.0
 * WC tested up to:      9.8
 * Text Domain:          basketry
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

define( 'BASKETRY_VERSION', '0.1.0' );
define( 'BASKETRY_FILE', __FILE__ );
define( 'BASKETRY_DIR', plugin_dir_path( __FILE__ ) );

if ( ! defined( 'BASKETRY_DEFAULT_BACKEND_URL' ) ) {
	// Overridable from wp-config.php so staging sites can point at a staging backend before any setting exists.
	define( 'BASKETRY_DEFAULT_BACKEND_URL', 'https://app.basketry.example' );
}

require_once BASKETRY_DIR . 'includes/class-basketry-signing.php';
require_once BASKETRY_DIR . 'includes/class-basketry-settings.php';
require_once BASKETRY_DIR . 'includes/class-basketry-client.php';
require_once BASKETRY_DIR . 'includes/class-basketry-connect.php';
require_once BASKETRY_DIR . 'includes/class-basketry-admin.php';
require_once BASKETRY_DIR . 'includes/class-basketry-storefront.php';
require_once BASKETRY_DIR . 'includes/class-basketry-shortcode.php';
require_once BASKETRY_DIR . 'includes/class-basketry-privacy.php';
require_once BASKETRY_DIR . 'includes/class-basketry-lifecycle.php';

// Deactivating pauses the connection, activating resumes it; uninstall.php disconnects.
register_activation_hook( __FILE__, array( 'Basketry_Lifecycle', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'Basketry_Lifecycle', 'deactivate' ) );

/**
 * Declares compatibility with WooCommerce features.
 *
 * Has to run on before_woocommerce_init, which fires while WooCommerce itself loads, so it is hooked
 * before the "is WooCommerce active" check below can be made.
 */
function basketry_declare_wc_compatibility() {
	if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
		// Order data is only touched through WC_Order_Item APIs, which work with either order storage.
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', BASKETRY_FILE, true );
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', BASKETRY_FILE, true );
	}
}
add_action( 'before_woocommerce_init', 'basketry_declare_wc_compatibility' );

/**
 * Starts the plugin once every plugin is loaded, or only warns when WooCommerce is missing.
 */
function basketry_init() {
	if ( ! class_exists( 'WooCommerce' ) ) {
		add_action( 'admin_notices', 'basketry_missing_woocommerce_notice' );
		return;
	}

	Basketry_Admin::instance()->register_hooks();
	Basketry_Connect::instance()->register_hooks();
	Basketry_Storefront::instance()->register_hooks();
	Basketry_Shortcode::instance()->register_hooks();
	Basketry_Privacy::instance()->register_hooks();

	add_action( 'init', 'basketry_register_block' );
}
add_action( 'plugins_loaded', 'basketry_init' );

/**
 * Registers the dynamic "Basketry recommendations" block from its block.json.
 */
function basketry_register_block() {
	register_block_type( BASKETRY_DIR . 'blocks/basketry-recommendations' );
}

/**
 * Tells administrators why the plugin does nothing.
 */
function basketry_missing_woocommerce_notice() {
	if ( ! current_user_can( 'activate_plugins' ) ) {
		return;
	}
	printf(
		'<div class="notice notice-error"><p>%s</p></div>',
		esc_html__( 'Basketry needs WooCommerce. Install and activate WooCommerce to use it.', 'basketry' )
	);
}
