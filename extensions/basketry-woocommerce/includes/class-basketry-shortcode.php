<?php
/**
 * The [basketry] shortcode.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * [basketry type="related|bought_together|cart|personal" limit="" title="" product_id=""]
 * Without limit or title the block follows the Basketry dashboard's widget settings.
 */
final class Basketry_Shortcode {

	const TAG = 'basketry';

	/**
	 * Single instance.
	 *
	 * @var Basketry_Shortcode|null
	 */
	private static $instance = null;

	/**
	 * Returns the single instance.
	 *
	 * @return Basketry_Shortcode
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Registers the shortcode.
	 */
	public function register_hooks() {
		add_shortcode( self::TAG, array( $this, 'render' ) );
	}

	/**
	 * Returns the placeholder markup.
	 *
	 * product_id lets a landing page show the lists of a product other than the one being viewed.
	 *
	 * @param array|string $atts Shortcode attributes; a string when none were given.
	 * @return string
	 */
	public function render( $atts ) {
		$atts = shortcode_atts(
			array(
				'type'       => 'related',
				'limit'      => 0,
				'title'      => '',
				'product_id' => '',
			),
			is_array( $atts ) ? $atts : array(),
			self::TAG
		);

		$storefront = Basketry_Storefront::instance();
		$type       = sanitize_key( $atts['type'] );
		$product_id = absint( $atts['product_id'] );
		if ( ! $product_id ) {
			$product_id = $storefront->current_product_id();
		}

		$html = $storefront->placeholder(
			$type,
			array(
				'limit'      => $atts['limit'],
				'title'      => $atts['title'],
				'product_id' => $product_id,
			)
		);
		return wp_kses( $html, Basketry_Storefront::allowed_html() );
	}
}
