<?php
/**
 * Request signatures and shopper tokens shared with the Basketry backend.
 *
 * Deliberately free of WordPress calls so that the exact byte layout of what gets signed can be
 * checked outside WordPress against the backend's own implementation.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Pure HMAC helpers.
 */
final class Basketry_Signing {

	/**
	 * Version prefix of customer tokens; bumping it lets the backend reject an old format outright.
	 */
	const TOKEN_VERSION = 'v1';

	/**
	 * How long a customer token stays valid, in seconds.
	 */
	const TOKEN_TTL = 3600;

	/**
	 * How long a page token lets a rendered page post widget events, in seconds. The backend
	 * refuses tokens that promise more.
	 */
	const PAGE_TOKEN_TTL = 7200;

	/**
	 * Creates a new shared secret.
	 *
	 * @return string 64 lower-case hex characters.
	 */
	public static function generate_key() {
		return bin2hex( random_bytes( 32 ) );
	}

	/**
	 * Whether a stored value looks like a key made by generate_key().
	 *
	 * @param mixed $key Candidate key.
	 * @return bool
	 */
	public static function is_valid_key( $key ) {
		return is_string( $key ) && 1 === preg_match( '/^[0-9a-f]{64}$/', $key );
	}

	/**
	 * Signature of one plugin-to-backend request.
	 *
	 * The timestamp is part of the message so that a captured request cannot be replayed later, and
	 * the method and path are so that a signature cannot be moved to another endpoint.
	 *
	 * @param string     $key       Shared secret.
	 * @param int|string $timestamp Unix time in seconds, as sent in X-Basketry-Timestamp.
	 * @param string     $method    HTTP method.
	 * @param string     $path      Path with its query string, exactly as requested.
	 * @param string     $body      Raw request body, empty for GET.
	 * @return string Lower-case hex HMAC-SHA256.
	 */
	public static function request_signature( $key, $timestamp, $method, $path, $body ) {
		$message = (string) $timestamp . "\n" . strtoupper( $method ) . "\n" . $path . "\n" . $body;
		return hash_hmac( 'sha256', $message, $key );
	}

	/**
	 * Headers that authenticate a request to the backend.
	 *
	 * @param string $key       Shared secret.
	 * @param string $shop      Shop domain as the backend knows it.
	 * @param int    $timestamp Unix time in seconds.
	 * @param string $method    HTTP method.
	 * @param string $path      Path with its query string.
	 * @param string $body      Raw request body.
	 * @return array<string, string>
	 */
	public static function request_headers( $key, $shop, $timestamp, $method, $path, $body ) {
		return array(
			'X-Basketry-Shop'      => $shop,
			'X-Basketry-Timestamp' => (string) $timestamp,
			'X-Basketry-Signature' => self::request_signature( $key, $timestamp, $method, $path, $body ),
		);
	}

	/**
	 * Token that lets the storefront widget ask for one logged-in shopper's personal recommendations.
	 *
	 * The shop domain is signed but not included, so a token minted for one store is useless on
	 * another store that happens to share a user id.
	 *
	 * @param string $key     Shared secret.
	 * @param string $shop    Shop domain as the backend knows it.
	 * @param int    $user_id WordPress user id.
	 * @param int    $expires Unix time after which the backend refuses the token.
	 * @return string v1.<user id>.<expires>.<hex hmac>
	 */
	public static function customer_token( $key, $shop, $user_id, $expires ) {
		$user_id = (int) $user_id;
		$expires = (int) $expires;
		$message = self::TOKEN_VERSION . '|' . $shop . '|' . $user_id . '|' . $expires;
		return self::TOKEN_VERSION . '.' . $user_id . '.' . $expires . '.' . hash_hmac( 'sha256', $message, $key );
	}

	/**
	 * Token that lets the widget on one rendered page post its events (impressions, clicks, A/B
	 * test exposures) to the backend, which refuses unsigned events for a WooCommerce shop.
	 *
	 * The shop domain and expiry are signed, so a token is useless for another store and stops
	 * working after PAGE_TOKEN_TTL; the random nonce lets the backend rate-limit one page's token
	 * wherever it is posted from. The "page" prefix keeps the MAC apart from customer tokens'.
	 *
	 * @param string $key     Shared secret.
	 * @param string $shop    Shop domain as the backend knows it.
	 * @param int    $expires Unix time after which the backend refuses the token.
	 * @param string $nonce   Random letters and digits, 8 to 64 of them.
	 * @return string v1.<expires>.<nonce>.<hex hmac>
	 */
	public static function page_token( $key, $shop, $expires, $nonce ) {
		$expires = (int) $expires;
		$message = 'page|' . self::TOKEN_VERSION . '|' . $shop . '|' . $expires . '|' . $nonce;
		return self::TOKEN_VERSION . '.' . $expires . '.' . $nonce . '.' . hash_hmac( 'sha256', $message, $key );
	}

	/**
	 * A fresh nonce for page_token().
	 *
	 * @return string 16 lower-case hex characters.
	 */
	public static function page_nonce() {
		return bin2hex( random_bytes( 8 ) );
	}

	/**
	 * The store's identity on the backend: host, plus the port when it is not the scheme's default.
	 *
	 * @param string $url Store home URL.
	 * @return string Lower-case host[:port], or '' when the URL has no host.
	 */
	public static function shop_domain( $url ) {
		// phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url -- must run without WordPress loaded.
		$parts = parse_url( (string) $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) ) {
			return '';
		}
		$domain = strtolower( $parts['host'] );
		$scheme = isset( $parts['scheme'] ) ? strtolower( $parts['scheme'] ) : 'https';
		if ( isset( $parts['port'] ) ) {
			$default = ( 'http' === $scheme ) ? 80 : 443;
			if ( (int) $parts['port'] !== $default ) {
				$domain .= ':' . (int) $parts['port'];
			}
		}
		return $domain;
	}
}
