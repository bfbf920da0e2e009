<?php
/**
 * WordPress privacy tools: personal data export and erasure for data held by Basketry.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Forwards Tools > Export/Erase Personal Data requests to the backend.
 */
final class Basketry_Privacy {

	const KEY = 'basketry';

	/**
	 * Single instance.
	 *
	 * @var Basketry_Privacy|null
	 */
	private static $instance = null;

	/**
	 * Returns the single instance.
	 *
	 * @return Basketry_Privacy
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Registers the exporter, the eraser and the suggested privacy policy text.
	 */
	public function register_hooks() {
		add_filter( 'wp_privacy_personal_data_exporters', array( $this, 'register_exporter' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( $this, 'register_eraser' ) );
		add_action( 'admin_init', array( $this, 'add_policy_text' ) );
	}

	/**
	 * Adds the Basketry exporter.
	 *
	 * @param array $exporters Registered exporters.
	 * @return array
	 */
	public function register_exporter( $exporters ) {
		$exporters[ self::KEY ] = array(
			'exporter_friendly_name' => __( 'Basketry recommendations', 'basketry' ),
			'callback'               => array( $this, 'export' ),
		);
		return $exporters;
	}

	/**
	 * Adds the Basketry eraser.
	 *
	 * @param array $erasers Registered erasers.
	 * @return array
	 */
	public function register_eraser( $erasers ) {
		$erasers[ self::KEY ] = array(
			'eraser_friendly_name' => __( 'Basketry recommendations', 'basketry' ),
			'callback'             => array( $this, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * Backend customer id for an email address: the WordPress user id, which is what WooCommerce
	 * orders carry as customer_id. Guest orders have none, so Basketry holds nothing linkable to them.
	 *
	 * @param string $email_address Requester's email address.
	 * @return string '' when no account uses the address.
	 */
	private function customer_id( $email_address ) {
		$user = get_user_by( 'email', $email_address );
		return $user ? (string) $user->ID : '';
	}

	/**
	 * Exports what Basketry holds about the requester.
	 *
	 * A backend failure is returned as an error rather than an empty export, so the request is not
	 * marked complete while data is missing from it.
	 *
	 * @param string $email_address Requester's email address.
	 * @param int    $page          Page number; the backend answers in one page.
	 * @return array|WP_Error
	 */
	public function export( $email_address, $page = 1 ) {
		$done        = array(
			'data' => array(),
			'done' => true,
		);
		$customer_id = $this->customer_id( $email_address );
		if ( '' === $customer_id || ! Basketry_Settings::has_plugin_key() ) {
			return $done;
		}

		$result = Basketry_Client::post( '/api/plugin/v1/privacy/export', array( 'customer_id' => $customer_id ) );
		if ( is_wp_error( $result ) ) {
			return $result;
		}

		$items = isset( $result['items'] ) && is_array( $result['items'] ) ? $result['items'] : array();
		foreach ( array_values( $items ) as $index => $item ) {
			if ( ! is_array( $item ) ) {
				continue;
			}
			$label = isset( $item['group'] ) && is_scalar( $item['group'] ) ? (string) $item['group'] : __( 'Basketry', 'basketry' );
			$data  = array();
			foreach ( isset( $item['data'] ) && is_array( $item['data'] ) ? $item['data'] : array() as $pair ) {
				if ( ! is_array( $pair ) || ! isset( $pair['name'] ) || ! is_scalar( $pair['name'] ) ) {
					continue;
				}
				$value = isset( $pair['value'] ) ? $pair['value'] : '';
				// WordPress prints export values as text; structured values are kept readable as JSON.
				$data[] = array(
					'name'  => (string) $pair['name'],
					'value' => is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value ),
				);
			}
			if ( ! $data ) {
				continue;
			}
			$done['data'][] = array(
				'group_id'    => 'basketry-' . sanitize_title( $label ),
				'group_label' => $label,
				'item_id'     => isset( $item['item_id'] ) && is_scalar( $item['item_id'] ) ? (string) $item['item_id'] : 'basketry-' . $customer_id . '-' . $index,
				'data'        => $data,
			);
		}
		return $done;
	}

	/**
	 * Asks the backend to erase what it holds about the requester.
	 *
	 * @param string $email_address Requester's email address.
	 * @param int    $page          Page number; the backend erases in one call.
	 * @return array|WP_Error
	 */
	public function erase( $email_address, $page = 1 ) {
		$response    = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
		$customer_id = $this->customer_id( $email_address );
		if ( '' === $customer_id || ! Basketry_Settings::has_plugin_key() ) {
			return $response;
		}

		$result = Basketry_Client::post( '/api/plugin/v1/privacy/erase', array( 'customer_id' => $customer_id ) );
		if ( is_wp_error( $result ) ) {
			return $result;
		}

		// WordPress expects booleans here; the backend's counts only say whether anything happened.
		$response['items_removed']  = isset( $result['removed'] ) && 0 < (int) $result['removed'];
		$response['items_retained'] = isset( $result['retained'] ) && 0 < (int) $result['retained'];
		if ( isset( $result['messages'] ) && is_array( $result['messages'] ) ) {
			foreach ( $result['messages'] as $message ) {
				if ( is_scalar( $message ) && '' !== (string) $message ) {
					$response['messages'][] = (string) $message;
				}
			}
		}
		return $response;
	}

	/**
	 * Suggests privacy policy text under Settings > Privacy.
	 */
	public function add_policy_text() {
		if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
			return;
		}
		$content = '<p>' . esc_html__( 'This store uses Basketry to recommend products. Basketry receives the store\'s products and orders so that it can learn which products are bought together.', 'basketry' ) . '</p>'
			. '<p>' . esc_html__( 'When you are logged in, pages with personal recommendations identify your account to Basketry by its number, so that the list can be based on your past orders.', 'basketry' ) . '</p>'
			. '<p>' . esc_html__( 'If you allow statistics, the recommendations you see, click and add to your cart are reported to Basketry to improve them. These reports contain product numbers only, not your name, email address or payment details.', 'basketry' ) . '</p>';
		wp_add_privacy_policy_content( __( 'Basketry', 'basketry' ), wp_kses_post( $content ) );
	}
}
