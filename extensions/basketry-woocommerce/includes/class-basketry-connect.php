<?php
/**
 * The "Connect" button: hands the merchant over to WooCommerce's key approval screen.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Handles the connect form posted from the settings page.
 */
final class Basketry_Connect {

	const ACTION = 'basketry_connect';

	const MANUAL_ACTION = 'basketry_connect_manual';

	/**
	 * Single instance.
	 *
	 * @var Basketry_Connect|null
	 */
	private static $instance = null;

	/**
	 * Returns the single instance.
	 *
	 * @return Basketry_Connect
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Hooks the form handler.
	 */
	public function register_hooks() {
		add_action( 'admin_post_' . self::ACTION, array( $this, 'handle_connect' ) );
		add_action( 'admin_post_' . self::MANUAL_ACTION, array( $this, 'handle_connect_manual' ) );
	}

	/**
	 * Creates the plugin key if needed, registers it with the backend and redirects to the
	 * authorisation URL the backend answers with.
	 */
	public function handle_connect() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to connect this store.', 'basketry' ), 403 );
		}
		check_admin_referer( self::ACTION );

		if ( ! Basketry_Settings::backend_is_https() ) {
			// WooCommerce would refuse the approval with "The callback_url needs to be over SSL", after the merchant left this page.
			Basketry_Admin::flash( 'error', __( 'Connect needs a Basketry backend on https: WooCommerce only sends the keys to an https address, and the backend URL is not one. Use an https backend URL, or connect with keys you created yourself (below).', 'basketry' ) );
			wp_safe_redirect( Basketry_Settings::page_url() );
			exit;
		}

		$result = Basketry_Client::start_connect( Basketry_Settings::ensure_plugin_key() );

		if ( is_wp_error( $result ) ) {
			Basketry_Admin::flash( 'error', $result->get_error_message() );
			wp_safe_redirect( Basketry_Settings::page_url() );
			exit;
		}

		$authorize_url = isset( $result['authorize_url'] ) && is_string( $result['authorize_url'] ) ? $result['authorize_url'] : '';
		if ( ! self::is_own_store_url( $authorize_url ) ) {
			// Only this store's own approval screen is expected; anything else would turn the button into an open redirect.
			Basketry_Admin::flash( 'error', __( 'Basketry answered with an unexpected authorisation address. Check the backend URL and try again.', 'basketry' ) );
			wp_safe_redirect( Basketry_Settings::page_url() );
			exit;
		}

		// is_own_store_url() is stricter than wp_safe_redirect()'s host allow-list: it also pins the scheme and the site path.
		wp_redirect( $authorize_url ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}

	/**
	 * The manual path: a key pair created under WooCommerce > Settings > Advanced > REST API and
	 * pasted here, for stores where the approval screen cannot reach the backend.
	 */
	public function handle_connect_manual() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to connect this store.', 'basketry' ), 403 );
		}
		check_admin_referer( self::MANUAL_ACTION );

		$consumer_key    = isset( $_POST['basketry_consumer_key'] ) ? sanitize_text_field( wp_unslash( $_POST['basketry_consumer_key'] ) ) : '';
		$consumer_secret = isset( $_POST['basketry_consumer_secret'] ) ? sanitize_text_field( wp_unslash( $_POST['basketry_consumer_secret'] ) ) : '';
		if ( 1 !== preg_match( '/^ck_[0-9a-f]{40}$/', $consumer_key ) || 1 !== preg_match( '/^cs_[0-9a-f]{40}$/', $consumer_secret ) ) {
			Basketry_Admin::flash( 'error', __( 'Paste a consumer key (ck_...) and consumer secret (cs_...) created with Read/Write permissions.', 'basketry' ) );
			wp_safe_redirect( Basketry_Settings::page_url() );
			exit;
		}

		$result = Basketry_Client::connect_manual( Basketry_Settings::ensure_plugin_key(), $consumer_key, $consumer_secret );
		if ( is_wp_error( $result ) ) {
			Basketry_Admin::flash( 'error', $result->get_error_message() );
		} else {
			// The key pasted here replaces whatever key Basketry had before: that one is revoked.
			Basketry_Lifecycle::after_connect( Basketry_Client::get( '/api/plugin/v1/status' ) );
			Basketry_Admin::flash( 'success', __( 'Connected. Basketry is importing your products and orders.', 'basketry' ) );
		}
		wp_safe_redirect( Basketry_Settings::page_url() );
		exit;
	}

	/**
	 * Whether a URL points at this store, i.e. starts with its home URL.
	 *
	 * The trailing slash matters: without it https://shop.example.com.evil.test would pass. The
	 * comparison ignores case because the backend lower-cases the host it sends back.
	 *
	 * @param string $url Candidate URL.
	 * @return bool
	 */
	public static function is_own_store_url( $url ) {
		if ( '' === $url ) {
			return false;
		}
		$home = trailingslashit( home_url( '/' ) );
		return 0 === stripos( $url, $home );
	}
}
