<?php
/**
 * Removes the plugin's options when it is deleted from the Plugins screen.
 *
 * Order line items keep their _basketry meta: it is part of the merchant's order history, and
 * deleting the plugin must not rewrite orders.
 *
 * @package Basketry
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

/**
 * Deletes the basketry_* options of the current site.
 *
 * Listed by name rather than matched with a LIKE query, so that nothing belonging to another
 * plugin with a similar prefix can be caught.
 */
function basketry_uninstall_site() {
	$basketry_options = array(
		'basketry_backend_url',
		'basketry_plugin_key',
		'basketry_require_consent',
		'basketry_replace_related',
	);
	foreach ( $basketry_options as $basketry_option ) {
		delete_option( $basketry_option );
	}
}

if ( is_multisite() ) {
	$basketry_site_ids = get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	);
	foreach ( $basketry_site_ids as $basketry_site_id ) {
		switch_to_blog( $basketry_site_id );
		basketry_uninstall_site();
		restore_current_blog();
	}
} else {
	basketry_uninstall_site();
}
