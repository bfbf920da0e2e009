<?php
/**
 * HTTP client for the Basketry backend.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Sends JSON requests to the backend, signed with the plugin key where the endpoint requires it.
 */
final class Basketry_Client {

	const TIMEOUT = 15;

	/**
	 * Asks the backend to start the WooCommerce key exchange for this store.
	 *
	 * Unsigned on purpose: this call is what introduces the plugin key to the backend.
	 *
	 * @param string $plugin_key Shared secret to register.
	 * @return array|WP_Error Decoded JSON body, e.g. array( 'authorize_url' => ... ).
	 */
	public static function start_connect( $plugin_key ) {
		$body = wp_json_encode(
			array(
				'store_url'  => Basketry_Settings::store_url(),
				'return_url' => Basketry_Settings::page_url(),
				'plugin_key' => $plugin_key,
			)
		);

		$response = wp_remote_post(
			Basketry_Settings::backend_url() . '/woocommerce/connect/start',
			array(
				'timeout' => self::TIMEOUT,
				'headers' => self::json_headers(),
				'body'    => $body,
			)
		);
		return self::decode( $response );
	}

	/**
	 * Connects with a key pair the merchant created in WooCommerce and pasted into the settings
	 * page; the backend checks the keys with a test call before keeping anything.
	 *
	 * @param string $plugin_key      Shared secret to register.
	 * @param string $consumer_key    WooCommerce consumer key (ck_...).
	 * @param string $consumer_secret WooCommerce consumer secret (cs_...).
	 * @return array|WP_Error Decoded JSON body, e.g. array( 'connected' => true ).
	 */
	public static function connect_manual( $plugin_key, $consumer_key, $consumer_secret ) {
		$body = wp_json_encode(
			array(
				'store_url'       => Basketry_Settings::store_url(),
				'consumer_key'    => $consumer_key,
				'consumer_secret' => $consumer_secret,
				'plugin_key'      => $plugin_key,
			)
		);

		$response = wp_remote_post(
			Basketry_Settings::backend_url() . '/woocommerce/connect/manual',
			array(
				'timeout' => self::TIMEOUT,
				'headers' => self::json_headers(),
				'body'    => $body,
			)
		);
		return self::decode( $response );
	}

	/**
	 * Signed GET.
	 *
	 * @param string $path Path under the backend URL, with its query string if any.
	 * @return array|WP_Error
	 */
	public static function get( $path ) {
		return self::signed_request( 'GET', $path, null );
	}

	/**
	 * Signed POST with a JSON body.
	 *
	 * @param string $path Path under the backend URL.
	 * @param array  $data Body to encode as JSON.
	 * @return array|WP_Error
	 */
	public static function post( $path, $data = array() ) {
		return self::signed_request( 'POST', $path, $data );
	}

	/**
	 * Sends a request signed over exactly the bytes that go on the wire.
	 *
	 * @param string     $method GET or POST.
	 * @param string     $path   Path under the backend URL.
	 * @param array|null $data   JSON body for POST.
	 * @return array|WP_Error
	 */
	private static function signed_request( $method, $path, $data ) {
		$key = Basketry_Settings::plugin_key();
		if ( '' === $key ) {
			return new WP_Error( 'basketry_not_connected', __( 'This store is not connected to Basketry yet.', 'basketry' ) );
		}

		$url  = Basketry_Settings::backend_url() . $path;
		$body = ( null === $data ) ? '' : (string) wp_json_encode( (object) $data );

		// The backend verifies against the path it receives, which includes any prefix in the backend URL.
		$signed_path = (string) wp_parse_url( $url, PHP_URL_PATH );
		$query       = wp_parse_url( $url, PHP_URL_QUERY );
		if ( ! empty( $query ) ) {
			$signed_path .= '?' . $query;
		}

		$headers = array_merge(
			self::json_headers(),
			Basketry_Signing::request_headers( $key, Basketry_Settings::shop_domain(), time(), $method, $signed_path, $body )
		);

		$args = array(
			'timeout' => self::TIMEOUT,
			'headers' => $headers,
		);
		if ( 'GET' === $method ) {
			$response = wp_remote_get( $url, $args );
		} else {
			$args['body'] = $body;
			$response     = wp_remote_post( $url, $args );
		}
		return self::decode( $response );
	}

	/**
	 * Headers common to every request.
	 *
	 * @return array<string, string>
	 */
	private static function json_headers() {
		return array(
			'Content-Type' => 'application/json',
			'Accept'       => 'application/json',
		);
	}

	/**
	 * Turns a response into its JSON object, or a WP_Error carrying the backend's error message.
	 *
	 * @param array|WP_Error $response Result of wp_remote_*.
	 * @return array|WP_Error
	 */
	private static function decode( $response ) {
		if ( is_wp_error( $response ) ) {
			return $response;
		}

		$status = (int) wp_remote_retrieve_response_code( $response );
		$data   = json_decode( wp_remote_retrieve_body( $response ), true );

		if ( 200 <= $status && 300 > $status ) {
			if ( is_array( $data ) ) {
				return $data;
			}
			return new WP_Error( 'basketry_bad_response', __( 'Basketry sent a response that could not be read.', 'basketry' ), array( 'status' => $status ) );
		}

		// Plugin endpoints answer {"error": ...}; their authentication layer answers {"detail": ...}.
		if ( is_array( $data ) && isset( $data['error'] ) && is_string( $data['error'] ) && '' !== $data['error'] ) {
			$message = $data['error'];
		} elseif ( is_array( $data ) && isset( $data['detail'] ) && is_string( $data['detail'] ) && '' !== $data['detail'] ) {
			$message = $data['detail'];
		} else {
			/* translators: %d: HTTP status code. */
			$message = sprintf( __( 'Basketry answered with HTTP status %d.', 'basketry' ), $status );
		}
		return new WP_Error( 'basketry_http_' . $status, $message, array( 'status' => $status ) );
	}
}
