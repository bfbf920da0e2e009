<?php
/**
 * Deleting the plugin disconnects the store from Basketry.
 *
 * For each site: Basketry is told (signed), so it stops accepting the store's deliveries at once
 * and purges its data after its retention period; the webhooks Basketry registered are deleted and
 * the WooCommerce key it used is revoked, even when Basketry could not be reached; then the
 * plugin's options go. Order line items keep their _basketry meta: it is part of the merchant's
 * order history, and deleting the plugin must not rewrite orders.
 *
 * @package Basketry
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

// As WordPress does for an uninstall hook: the plugin's main file brings its constants and classes.
require_once __DIR__ . '/basketry.php';

if ( is_multisite() ) {
	$basketry_site_ids = get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	);
	foreach ( $basketry_site_ids as $basketry_site_id ) {
		switch_to_blog( $basketry_site_id );
		Basketry_Lifecycle::uninstall();
		restore_current_blog();
	}
} else {
	Basketry_Lifecycle::uninstall();
}
