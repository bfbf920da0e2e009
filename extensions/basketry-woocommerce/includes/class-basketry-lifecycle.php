<?php
/**
 * What deactivating, activating, reconnecting and deleting the plugin do to the connection.
 *
 * Deactivating pauses: Basketry's webhooks are paused in WooCommerce and the backend stops
 * processing this store, but keeps the key and the data, so activating again resumes. Deleting
 * disconnects: the backend is told first (signed), then the webhooks are deleted and the key is
 * revoked here, so that nothing reaches Basketry afterwards even when the backend could not be
 * told. A reconnect revokes the key it replaced.
 *
 * Works on WooCommerce's own tables when WooCommerce is not loaded (it may be deactivated before
 * this plugin is deleted), and touches only rows Basketry created.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Static helpers run from the activation, deactivation and uninstall hooks and after a connect.
 */
final class Basketry_Lifecycle {

	/**
	 * How WooCommerce describes a key made through its approval screen for the app "Basketry".
	 */
	const KEY_DESCRIPTION_PREFIX = 'Basketry - API (';

	/**
	 * What the backend names its webhooks ("Basketry product.updated"); their delivery URL ends in
	 * /webhooks/woocommerce/<shop id>.
	 */
	const WEBHOOK_NAME_PREFIX = 'Basketry ';
	const WEBHOOK_URL_PATTERN = '#/webhooks/woocommerce/[0-9]+$#';

	/**
	 * The plugin was deactivated: pause the webhooks that are on, remember which, tell the backend.
	 */
	public static function deactivate() {
		$paused = array();
		foreach ( self::webhooks() as $webhook ) {
			if ( 'active' === $webhook['status'] ) {
				$paused[] = (int) $webhook['webhook_id'];
			}
		}
		self::set_webhook_status( $paused, 'paused' );
		update_option( Basketry_Settings::OPTION_PAUSED_WEBHOOKS, $paused, false );
		if ( Basketry_Settings::has_plugin_key() ) {
			// The webhooks are paused here either way; the backend only learns why.
			Basketry_Client::post( '/api/plugin/v1/pause' );
		}
	}

	/**
	 * The plugin was activated (again): switch back on what deactivation paused, tell the backend,
	 * which also re-enables anything else it needs and catches up on what changed meanwhile.
	 */
	public static function activate() {
		$paused = get_option( Basketry_Settings::OPTION_PAUSED_WEBHOOKS, array() );
		if ( is_array( $paused ) && $paused ) {
			$ours = wp_list_pluck( self::webhooks(), 'webhook_id' );
			self::set_webhook_status( array_intersect( array_map( 'intval', $paused ), array_map( 'intval', $ours ) ), 'active' );
		}
		delete_option( Basketry_Settings::OPTION_PAUSED_WEBHOOKS );
		if ( Basketry_Settings::has_plugin_key() ) {
			Basketry_Client::post( '/api/plugin/v1/resume' );
		}
	}

	/**
	 * The plugin is being deleted (from uninstall.php, once per site): disconnect and clean up.
	 */
	public static function uninstall() {
		$ending = '';
		if ( Basketry_Settings::has_plugin_key() ) {
			$result = Basketry_Client::post( '/api/plugin/v1/uninstall' );
			if ( is_array( $result ) && isset( $result['key_ending'] ) && is_string( $result['key_ending'] ) ) {
				$ending = $result['key_ending'];
			}
		}
		self::delete_webhooks();
		self::revoke_keys( '', $ending );
		foreach ( Basketry_Settings::option_names() as $option ) {
			delete_option( $option );
		}
	}

	/**
	 * After the backend confirms a connection: revoke every key Basketry had before the one it now
	 * uses, and remember that one.
	 *
	 * @param array $status The backend's status answer.
	 * @return int Keys revoked.
	 */
	public static function after_connect( $status ) {
		if ( ! is_array( $status ) || empty( $status['connected'] ) || empty( $status['key_ending'] ) || ! is_string( $status['key_ending'] ) ) {
			return 0;
		}
		$ending  = $status['key_ending'];
		$current = self::key_id( $ending );
		if ( ! $current ) {
			return 0;
		}
		$revoked = self::revoke_keys( $ending, '' );
		update_option( Basketry_Settings::OPTION_KEY_ID, $current, false );
		return $revoked;
	}

	/**
	 * Basketry's webhooks in this store.
	 *
	 * @return array[] Rows with webhook_id, status, name and delivery_url.
	 */
	public static function webhooks() {
		global $wpdb;
		$table = $wpdb->prefix . 'wc_webhooks';
		if ( ! self::table_exists( $table ) ) {
			return array();
		}
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- WooCommerce may not be loaded; its table is read directly.
		$rows = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT webhook_id, status, name, delivery_url FROM {$table} WHERE name LIKE %s", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- a table name.
				$wpdb->esc_like( self::WEBHOOK_NAME_PREFIX ) . '%'
			),
			ARRAY_A
		);
		$ours = array();
		foreach ( (array) $rows as $row ) {
			if ( 1 === preg_match( self::WEBHOOK_URL_PATTERN, (string) $row['delivery_url'] ) ) {
				$ours[] = $row;
			}
		}
		return $ours;
	}

	/**
	 * Sets the status of some of Basketry's webhooks, through WooCommerce when it is loaded.
	 *
	 * @param int[]  $ids    Webhook ids.
	 * @param string $status active or paused.
	 */
	private static function set_webhook_status( $ids, $status ) {
		global $wpdb;
		foreach ( $ids as $id ) {
			$webhook = function_exists( 'wc_get_webhook' ) ? wc_get_webhook( $id ) : null;
			if ( $webhook ) {
				$webhook->set_status( $status );
				$webhook->save();
				continue;
			}
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- WooCommerce is not loaded.
			$wpdb->update( $wpdb->prefix . 'wc_webhooks', array( 'status' => $status ), array( 'webhook_id' => (int) $id ) );
		}
		self::forget_cached_webhooks( $ids );
	}

	/**
	 * Deletes Basketry's webhooks.
	 *
	 * @return int Webhooks deleted.
	 */
	public static function delete_webhooks() {
		global $wpdb;
		$ids = array_map( 'intval', wp_list_pluck( self::webhooks(), 'webhook_id' ) );
		foreach ( $ids as $id ) {
			$webhook = function_exists( 'wc_get_webhook' ) ? wc_get_webhook( $id ) : null;
			if ( $webhook ) {
				$webhook->delete( true );
				continue;
			}
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- WooCommerce is not loaded.
			$wpdb->delete( $wpdb->prefix . 'wc_webhooks', array( 'webhook_id' => $id ) );
		}
		self::forget_cached_webhooks( $ids );
		return count( $ids );
	}

	/**
	 * WooCommerce keeps the ids of webhooks per status in transients and loads each on every
	 * request; a row changed behind its back must not stay listed there.
	 *
	 * @param int[] $ids Changed webhook ids.
	 */
	private static function forget_cached_webhooks( $ids ) {
		foreach ( array( 'active', 'paused', 'disabled' ) as $status ) {
			delete_transient( 'woocommerce_webhook_ids_status_' . $status );
		}
		foreach ( $ids as $id ) {
			wp_cache_delete( (int) $id, 'webhooks' );
		}
	}

	/**
	 * Revokes Basketry's keys: those made through the approval screen for Basketry, the one
	 * remembered from the last connect and the one named by $also_ending, except $keep_ending.
	 *
	 * @param string $keep_ending Last 7 characters of the key to keep, '' for none.
	 * @param string $also_ending Last 7 characters of another key to revoke, '' for none.
	 * @return int Keys revoked.
	 */
	public static function revoke_keys( $keep_ending, $also_ending ) {
		global $wpdb;
		$table = $wpdb->prefix . 'woocommerce_api_keys';
		if ( ! self::table_exists( $table ) ) {
			return 0;
		}
		$remembered = (int) get_option( Basketry_Settings::OPTION_KEY_ID, 0 );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- WooCommerce has no API to list or revoke keys.
		$rows    = $wpdb->get_results( "SELECT key_id, description, truncated_key FROM {$table}", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- a table name.
		$revoked = 0;
		foreach ( (array) $rows as $row ) {
			$ending = (string) $row['truncated_key'];
			$ours   = 0 === strpos( (string) $row['description'], self::KEY_DESCRIPTION_PREFIX )
				|| ( $remembered && (int) $row['key_id'] === $remembered )
				|| ( '' !== $also_ending && hash_equals( $also_ending, $ending ) );
			if ( ! $ours || ( '' !== $keep_ending && hash_equals( $keep_ending, $ending ) ) ) {
				continue;
			}
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- see above.
			$revoked += (int) $wpdb->delete( $table, array( 'key_id' => (int) $row['key_id'] ) );
		}
		return $revoked;
	}

	/**
	 * Id of the key whose consumer key ends in $ending, or 0.
	 *
	 * @param string $ending Last 7 characters of a consumer key.
	 * @return int
	 */
	private static function key_id( $ending ) {
		global $wpdb;
		$table = $wpdb->prefix . 'woocommerce_api_keys';
		if ( ! self::table_exists( $table ) ) {
			return 0;
		}
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- see revoke_keys().
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT key_id FROM {$table} WHERE truncated_key = %s ORDER BY key_id DESC LIMIT 1", $ending ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- a table name.
	}

	/**
	 * Whether one of WooCommerce's tables exists (WooCommerce may never have been installed).
	 *
	 * @param string $table Full table name.
	 * @return bool
	 */
	private static function table_exists( $table ) {
		global $wpdb;
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- a schema check.
		return $table === $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) );
	}
}
