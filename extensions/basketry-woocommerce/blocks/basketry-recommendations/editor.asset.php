<?php
/**
 * Script dependencies of editor.js, read by register_block_type().
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

return array(
	'dependencies' => array( 'wp-blocks', 'wp-element', 'wp-block-editor', 'wp-components', 'wp-i18n' ),
	'version'      => '0.1.0',
);
