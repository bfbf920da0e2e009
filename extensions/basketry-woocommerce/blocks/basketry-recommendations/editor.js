/**
 * Editor side of the basketry/recommendations block. Plain ES5 on the wp.* globals, so the plugin
 * needs no build step. The storefront list only exists in the shopper's browser, so the editor
 * shows a labelled placeholder instead of a preview.
 */
( function ( blocks, element, blockEditor, components, i18n ) {
	'use strict';

	var el = element.createElement;
	var __ = i18n.__;

	var TYPES = [
		{ value: 'related', label: __( 'Related products', 'basketry' ) },
		{ value: 'bought_together', label: __( 'Frequently bought together', 'basketry' ) },
		{ value: 'cart', label: __( 'Cart suggestions', 'basketry' ) },
		{ value: 'personal', label: __( 'Personal picks (logged-in shoppers)', 'basketry' ) },
	];

	function typeLabel( value ) {
		for ( var i = 0; i < TYPES.length; i++ ) {
			if ( TYPES[ i ].value === value ) {
				return TYPES[ i ].label;
			}
		}
		return value;
	}

	blocks.registerBlockType( 'basketry/recommendations', {
		edit: function ( props ) {
			var attributes = props.attributes;
			var setAttributes = props.setAttributes;

			var controls = el(
				blockEditor.InspectorControls,
				null,
				el(
					components.PanelBody,
					{ title: __( 'Recommendations', 'basketry' ) },
					el( components.SelectControl, {
						label: __( 'List', 'basketry' ),
						value: attributes.type,
						options: TYPES,
						onChange: function ( value ) {
							setAttributes( { type: value } );
						},
					} ),
					el( components.RangeControl, {
						label: __( 'Number of products', 'basketry' ),
						help: __( '0 shows as many as set in the Basketry dashboard.', 'basketry' ),
						value: attributes.limit,
						min: 0,
						max: 24,
						onChange: function ( value ) {
							setAttributes( { limit: value || 0 } );
						},
					} ),
					el( components.TextControl, {
						label: __( 'Title', 'basketry' ),
						help: __( 'Leave empty for the title set in the Basketry dashboard.', 'basketry' ),
						value: attributes.title,
						onChange: function ( value ) {
							setAttributes( { title: value } );
						},
					} )
				)
			);

			var instructions =
				'related' === attributes.type || 'bought_together' === attributes.type
					? __( 'Shows on product pages, or in a product template.', 'basketry' )
					: 'cart' === attributes.type
					? __( 'Shows when the cart has products.', 'basketry' )
					: __( 'Shows to logged-in shoppers only.', 'basketry' );

			return el(
				element.Fragment,
				null,
				controls,
				el(
					'div',
					blockEditor.useBlockProps(),
					el( components.Placeholder, {
						icon: 'products',
						label: attributes.title || typeLabel( attributes.type ),
						instructions: instructions,
					} )
				)
			);
		},
		save: function () {
			return null;
		},
	} );
} )( window.wp.blocks, window.wp.element, window.wp.blockEditor, window.wp.components, window.wp.i18n );
