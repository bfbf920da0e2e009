<?php
/**
 * Plugin options and the values derived from them.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Typed access to the basketry_* options.
 */
final class Basketry_Settings {

	const OPTION_BACKEND_URL     = 'basketry_backend_url';
	const OPTION_PLUGIN_KEY      = 'basketry_plugin_key';
	const OPTION_REQUIRE_CONSENT = 'basketry_require_consent';
	const OPTION_REPLACE_RELATED = 'basketry_replace_related';
	// The WooCommerce key Basketry used at the last connect, and the webhooks deactivation paused.
	const OPTION_KEY_ID          = 'basketry_key_id';
	const OPTION_PAUSED_WEBHOOKS = 'basketry_paused_webhooks';

	/**
	 * Every option the plugin may create; uninstall.php deletes exactly these.
	 *
	 * @return string[]
	 */
	public static function option_names() {
		return array(
			self::OPTION_BACKEND_URL,
			self::OPTION_PLUGIN_KEY,
			self::OPTION_REQUIRE_CONSENT,
			self::OPTION_REPLACE_RELATED,
			self::OPTION_KEY_ID,
			self::OPTION_PAUSED_WEBHOOKS,
		);
	}

	/**
	 * Whether a URL may be used as the backend.
	 *
	 * The plugin key and shopper data travel to this URL, so plain HTTP is only tolerated on
	 * development sites.
	 *
	 * @param string $url Candidate URL.
	 * @return bool
	 */
	public static function is_allowed_backend_url( $url ) {
		if ( ! is_string( $url ) || '' === $url ) {
			return false;
		}
		$scheme = wp_parse_url( $url, PHP_URL_SCHEME );
		$host   = wp_parse_url( $url, PHP_URL_HOST );
		if ( empty( $host ) ) {
			return false;
		}
		return 'https' === $scheme || ( 'http' === $scheme && self::is_debug() );
	}

	/**
	 * Whether WooCommerce's approval screen can send keys to the backend: it only posts them to an
	 * https callback URL ("The callback_url needs to be over SSL").
	 *
	 * @return bool
	 */
	public static function backend_is_https() {
		return 'https' === wp_parse_url( self::backend_url(), PHP_URL_SCHEME );
	}

	/**
	 * Backend base URL without a trailing slash.
	 *
	 * @return string
	 */
	public static function backend_url() {
		$url = untrailingslashit( (string) get_option( self::OPTION_BACKEND_URL, '' ) );
		if ( ! self::is_allowed_backend_url( $url ) ) {
			$url = untrailingslashit( BASKETRY_DEFAULT_BACKEND_URL );
		}
		return $url;
	}

	/**
	 * Shop domain as the backend knows it, e.g. shop.example.com or 127.0.0.1:8080.
	 *
	 * @return string
	 */
	public static function shop_domain() {
		return Basketry_Signing::shop_domain( home_url( '/' ) );
	}

	/**
	 * Store URL sent when connecting; the backend builds the WooCommerce REST and auth URLs from it.
	 *
	 * @return string
	 */
	public static function store_url() {
		return untrailingslashit( home_url( '/' ) );
	}

	/**
	 * Shared secret, or '' before the first Connect.
	 *
	 * @return string
	 */
	public static function plugin_key() {
		$key = get_option( self::OPTION_PLUGIN_KEY, '' );
		return Basketry_Signing::is_valid_key( $key ) ? $key : '';
	}

	/**
	 * Returns the shared secret, creating it on first use.
	 *
	 * The key is kept across reconnects: the backend matches it to the shop, and changing it would
	 * invalidate every customer token already handed out.
	 *
	 * @return string
	 */
	public static function ensure_plugin_key() {
		$key = self::plugin_key();
		if ( '' !== $key ) {
			return $key;
		}
		$key = Basketry_Signing::generate_key();
		// Not autoloaded: the key is only needed on the few requests that sign something.
		if ( ! add_option( self::OPTION_PLUGIN_KEY, $key, '', 'no' ) ) {
			update_option( self::OPTION_PLUGIN_KEY, $key, false );
		}
		return $key;
	}

	/**
	 * Whether the Connect flow has been started at least once.
	 *
	 * @return bool
	 */
	public static function has_plugin_key() {
		return '' !== self::plugin_key();
	}

	/**
	 * Whether the widget must wait for the shopper's consent before sending analytics events.
	 *
	 * @return bool
	 */
	public static function requires_consent() {
		return 'no' !== get_option( self::OPTION_REQUIRE_CONSENT, 'yes' );
	}

	/**
	 * Whether WooCommerce's own related products are hidden in favour of Basketry's.
	 *
	 * @return bool
	 */
	public static function replaces_related() {
		return 'yes' === get_option( self::OPTION_REPLACE_RELATED, 'no' );
	}

	/**
	 * Settings page URL, also used as the return URL of the WooCommerce authorisation screen.
	 *
	 * @param array $args Extra query arguments.
	 * @return string
	 */
	public static function page_url( $args = array() ) {
		return add_query_arg( array_merge( array( 'page' => 'basketry' ), $args ), admin_url( 'admin.php' ) );
	}

	/**
	 * Whether the site runs in debug mode.
	 *
	 * @return bool
	 */
	public static function is_debug() {
		return defined( 'WP_DEBUG' ) && WP_DEBUG;
	}
}
