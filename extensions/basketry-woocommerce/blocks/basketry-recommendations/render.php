<?php
/**
 * Server rendering of the basketry/recommendations block.
 *
 * The block only outputs the placeholder; the widget fills it in the browser, so nothing
 * shopper-specific is stored in post content.
 *
 * @package Basketry
 *
 * @var array    $attributes Block attributes.
 * @var WP_Block $block      Block instance.
 */

defined( 'ABSPATH' ) || exit;

if ( ! class_exists( 'Basketry_Storefront' ) ) {
	return;
}

$basketry_storefront = Basketry_Storefront::instance();
$basketry_classes    = array( 'wp-block-basketry-recommendations' );
if ( ! empty( $attributes['align'] ) ) {
	$basketry_classes[] = 'align' . sanitize_html_class( $attributes['align'] );
}
if ( ! empty( $attributes['className'] ) ) {
	foreach ( preg_split( '/\s+/', (string) $attributes['className'] ) as $basketry_class ) {
		$basketry_classes[] = sanitize_html_class( $basketry_class );
	}
}

$basketry_storefront->print_placeholder(
	isset( $attributes['type'] ) ? sanitize_key( $attributes['type'] ) : 'related',
	array(
		'limit'      => isset( $attributes['limit'] ) ? $attributes['limit'] : 0,
		'title'      => isset( $attributes['title'] ) ? $attributes['title'] : '',
		'product_id' => $basketry_storefront->current_product_id( isset( $block->context['postId'] ) ? $block->context['postId'] : 0 ),
		'class'      => implode( ' ', array_filter( $basketry_classes ) ),
	)
);
