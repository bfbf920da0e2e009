<?php
/**
 * Storefront placeholders, the widget script and add-to-cart attribution.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Renders the empty [data-basketry] elements the widget fills in, and loads the widget only where one is rendered.
 */
final class Basketry_Storefront {

	const SCRIPT_HANDLE = 'basketry-widget';
	const TYPES         = array( 'related', 'bought_together', 'cart', 'personal' );
	const DEFAULT_LIMIT = 4;
	// The backend's own ceilings; larger values only earn a 400.
	const MAX_LIMIT      = 24;
	const MAX_CART_ITEMS = 50;
	// Matches the widget's default reserved height so the page does not jump when cards arrive.
	const MIN_HEIGHT = 300;
	const ITEM_KEY   = '_basketry';

	/** The order meta and the widget's cookie of an A/B test mark. */
	const EXPERIMENT_KEY    = '_basketry_experiment';
	const EXPERIMENT_COOKIE = 'basketry_experiment';

	/**
	 * Single instance.
	 *
	 * @var Basketry_Storefront|null
	 */
	private static $instance = null;

	/**
	 * This page's token for widget events, made once per request so every block shares it.
	 *
	 * @var string
	 */
	private $page_token = '';

	/**
	 * Returns the single instance.
	 *
	 * @return Basketry_Storefront
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Hooks into WooCommerce's templates, the Cart block and the cart/checkout flow.
	 */
	public function register_hooks() {
		add_action( 'template_redirect', array( $this, 'maybe_replace_related' ) );
		add_action( 'woocommerce_after_single_product_summary', array( $this, 'render_bought_together' ), 19 );
		add_action( 'woocommerce_after_single_product_summary', array( $this, 'render_related' ), 21 );
		add_action( 'woocommerce_after_cart_table', array( $this, 'render_cart' ) );
		add_filter( 'render_block_woocommerce/cart', array( $this, 'append_to_cart_block' ), 10, 2 );

		add_filter( 'script_loader_tag', array( $this, 'script_tag' ), 10, 2 );
		// Tells the WP Consent API that this plugin waits for consent itself, so it is not flagged as non-compliant.
		add_filter( 'wp_consent_api_registered_' . plugin_basename( BASKETRY_FILE ), '__return_true' );

		add_filter( 'woocommerce_add_cart_item_data', array( $this, 'tag_cart_item' ), 10, 3 );
		// The order screen lists item meta with get_all_formatted_meta_data( '' ), which hides no "_" key by itself.
		add_filter( 'woocommerce_hidden_order_itemmeta', array( $this, 'hide_item_meta' ) );
		// Fires for the classic checkout and for the Store API (Checkout block) alike.
		add_action( 'woocommerce_checkout_create_order_line_item', array( $this, 'tag_order_item' ), 10, 3 );
		// An A/B test the shopper took part in: the widget keeps its mark in a cookie. The classic
		// checkout saves the order after this hook; the Checkout block's Store API hook does not.
		add_action( 'woocommerce_checkout_create_order', array( $this, 'tag_order_experiment' ), 10, 1 );
		add_action( 'woocommerce_store_api_checkout_order_processed', array( $this, 'tag_block_order_experiment' ), 10, 1 );
	}

	/**
	 * Hides WooCommerce's related products when the merchant chose Basketry's instead.
	 *
	 * Runs on template_redirect because WooCommerce adds its template hooks after plugins load.
	 */
	public function maybe_replace_related() {
		if ( Basketry_Settings::replaces_related() ) {
			remove_action( 'woocommerce_after_single_product_summary', 'woocommerce_output_related_products', 20 );
		}
	}

	/**
	 * Prints "Frequently bought together" under the product summary.
	 */
	public function render_bought_together() {
		$this->print_placeholder( 'bought_together', array( 'product_id' => $this->current_product_id() ) );
	}

	/**
	 * Prints related products under the product summary.
	 */
	public function render_related() {
		$this->print_placeholder( 'related', array( 'product_id' => $this->current_product_id() ) );
	}

	/**
	 * Prints cart suggestions under the classic cart table.
	 */
	public function render_cart() {
		$this->print_placeholder( 'cart' );
	}

	/**
	 * Appends cart suggestions after the Cart block, which has no template hooks of its own.
	 *
	 * The placeholder sits outside the block's markup so that the block's client-side rendering
	 * does not replace it.
	 *
	 * @param string $block_content Rendered Cart block.
	 * @param array  $block         Parsed block.
	 * @return string
	 */
	public function append_to_cart_block( $block_content, $block ) {
		if ( is_admin() || empty( $block['blockName'] ) || 'woocommerce/cart' !== $block['blockName'] ) {
			return $block_content;
		}
		return $block_content . $this->placeholder( 'cart' );
	}

	/**
	 * Prints a placeholder through an allow-list, so escaping is enforced at the point of output too.
	 *
	 * @param string $type Block type.
	 * @param array  $args See placeholder().
	 */
	public function print_placeholder( $type, $args = array() ) {
		echo wp_kses( $this->placeholder( $type, $args ), self::allowed_html() );
	}

	/**
	 * Markup of one placeholder, or '' when there is nothing to recommend from.
	 *
	 * @param string $type Block type: related, bought_together, cart or personal.
	 * @param array  $args {
	 *     Optional.
	 *
	 *     @type int    $limit      Number of products; 0 for the dashboard's setting.
	 *     @type string $title      Heading; empty for the widget's translated default.
	 *     @type int    $product_id Anchor product for related and bought_together.
	 *     @type string $class      Extra CSS classes.
	 * }
	 * @return string
	 */
	public function placeholder( $type, $args = array() ) {
		$args = wp_parse_args(
			$args,
			array(
				'limit'      => 0,
				'title'      => '',
				'product_id' => 0,
				'class'      => '',
			)
		);

		// Before the first Connect the backend does not know this shop; a placeholder would only cost a failing request.
		if ( ! in_array( $type, self::TYPES, true ) || ! Basketry_Settings::has_plugin_key() ) {
			return '';
		}

		$attributes = array(
			'class'           => trim( 'basketry-recommendations ' . $args['class'] ),
			'data-basketry'   => $type,
			'data-shop'       => Basketry_Settings::shop_domain(),
			'data-platform'   => 'woocommerce',
			'data-cart-url'   => home_url( '/' ),
			'data-page-token' => $this->page_token(),
		);
		// Without a count of its own the block shows as many products as the Basketry dashboard says.
		if ( absint( $args['limit'] ) > 0 ) {
			$attributes['data-limit'] = (string) self::clamp_limit( $args['limit'] );
		}

		if ( 'cart' === $type ) {
			$ids = $this->cart_product_ids();
			if ( ! $ids ) {
				return '';
			}
			// The backend takes the basket as one anchor plus the rest.
			$attributes['data-product-id'] = (string) array_shift( $ids );
			if ( $ids ) {
				$attributes['data-cart'] = implode( ',', array_slice( $ids, 0, self::MAX_CART_ITEMS ) );
			}
		} elseif ( 'personal' === $type ) {
			$token = $this->customer_token();
			// The backend refuses personal lists without a token, so anonymous visitors get nothing, which also keeps their cached pages token-free.
			if ( '' === $token ) {
				return '';
			}
			$attributes['data-customer-token'] = $token;
		} else {
			$product_id = absint( $args['product_id'] );
			if ( ! $product_id ) {
				return '';
			}
			$attributes['data-product-id'] = (string) $product_id;
		}

		$title = sanitize_text_field( (string) $args['title'] );
		if ( '' !== $title ) {
			$attributes['data-title'] = $title;
		}

		/**
		 * Filters the height reserved for a recommendations block before it loads, in pixels.
		 *
		 * @param int    $height Reserved height.
		 * @param string $type   Block type.
		 */
		$height              = absint( apply_filters( 'basketry_placeholder_min_height', self::MIN_HEIGHT, $type ) );
		$attributes['style'] = 'min-height:' . $height . 'px';

		$this->enqueue_widget();

		$html = '<div';
		foreach ( $attributes as $name => $value ) {
			$html .= ' ' . $name . '="' . esc_attr( $value ) . '"';
		}
		return $html . '></div>';
	}

	/**
	 * The only markup placeholders may contain.
	 *
	 * @return array
	 */
	public static function allowed_html() {
		return array(
			'div' => array(
				'class'               => true,
				'style'               => true,
				'data-basketry'       => true,
				'data-shop'           => true,
				'data-platform'       => true,
				'data-cart-url'       => true,
				'data-limit'          => true,
				'data-product-id'     => true,
				'data-cart'           => true,
				'data-title'          => true,
				'data-customer-token' => true,
				'data-page-token'     => true,
			),
		);
	}

	/**
	 * Keeps a requested product count within what the backend accepts.
	 *
	 * @param mixed $limit Requested count.
	 * @return int
	 */
	public static function clamp_limit( $limit ) {
		$limit = absint( $limit );
		if ( ! $limit ) {
			return self::DEFAULT_LIMIT;
		}
		return min( $limit, self::MAX_LIMIT );
	}

	/**
	 * Product being viewed: the block's post context, the queried product, or the loop's product.
	 *
	 * @param int $context_post_id Post id from block context, if any.
	 * @return int
	 */
	public function current_product_id( $context_post_id = 0 ) {
		$context_post_id = absint( $context_post_id );
		if ( $context_post_id && 'product' === get_post_type( $context_post_id ) ) {
			return $context_post_id;
		}
		global $product;
		if ( $product instanceof WC_Product ) {
			return $product->get_parent_id() ? $product->get_parent_id() : $product->get_id();
		}
		if ( function_exists( 'is_product' ) && is_product() ) {
			return (int) get_queried_object_id();
		}
		return 0;
	}

	/**
	 * Distinct product ids in the cart, in cart order; variations count as their parent product,
	 * which is what the backend's catalogue is keyed by.
	 *
	 * @return int[]
	 */
	public function cart_product_ids() {
		if ( ! function_exists( 'WC' ) || ! WC()->cart ) {
			return array();
		}
		$ids = array();
		foreach ( WC()->cart->get_cart() as $item ) {
			// WooCommerce stores the parent here and the variation separately under variation_id.
			$id = isset( $item['product_id'] ) ? absint( $item['product_id'] ) : 0;
			if ( $id ) {
				$ids[ $id ] = $id;
			}
		}
		return array_values( $ids );
	}

	/**
	 * Signed token for the logged-in shopper, or '' for visitors.
	 *
	 * @return string
	 */
	private function customer_token() {
		$user_id = get_current_user_id();
		$key     = Basketry_Settings::plugin_key();
		if ( 0 >= $user_id || '' === $key ) {
			return '';
		}
		// Page caches that honour this constant must not serve one shopper's token to another.
		if ( ! defined( 'DONOTCACHEPAGE' ) ) {
			define( 'DONOTCACHEPAGE', true );
		}
		return Basketry_Signing::customer_token( $key, Basketry_Settings::shop_domain(), $user_id, time() + Basketry_Signing::TOKEN_TTL );
	}

	/**
	 * Signed token the widget sends with this page's events; the backend accepts a WooCommerce
	 * shop's events only with one. It names nobody, so cached pages may share it until it expires.
	 *
	 * @return string
	 */
	public function page_token() {
		if ( '' === $this->page_token ) {
			$this->page_token = Basketry_Signing::page_token(
				Basketry_Settings::plugin_key(),
				Basketry_Settings::shop_domain(),
				time() + Basketry_Signing::PAGE_TOKEN_TTL,
				Basketry_Signing::page_nonce()
			);
		}
		return $this->page_token;
	}

	/**
	 * Enqueues the widget once; called while a placeholder renders so that pages without one load nothing.
	 *
	 * Enqueueing this late still works because the script goes in the footer.
	 */
	public function enqueue_widget() {
		if ( wp_script_is( self::SCRIPT_HANDLE, 'enqueued' ) ) {
			return;
		}

		wp_enqueue_script(
			self::SCRIPT_HANDLE,
			Basketry_Settings::backend_url() . '/static/basketry/widget.js',
			array(),
			BASKETRY_VERSION,
			array(
				'strategy'  => 'defer',
				'in_footer' => true,
			)
		);

		// "before" keeps the defer strategy; an "after" inline script would force the widget to load blocking.
		wp_add_inline_script( self::SCRIPT_HANDLE, 'window.BasketryLabels = ' . wp_json_encode( $this->labels() ) . ';', 'before' );

		if ( Basketry_Settings::requires_consent() ) {
			wp_add_inline_script(
				self::SCRIPT_HANDLE,
				'window.BasketryConsent = function () { return !! ( typeof window.wp_has_consent === "function" && window.wp_has_consent( "statistics" ) ); };',
				'before'
			);
		}
	}

	/**
	 * Adds data-api (and data-consent when consent is not required) to the widget's script tag.
	 *
	 * @param string $tag    Markup for the handle, including its inline scripts.
	 * @param string $handle Script handle.
	 * @return string
	 */
	public function script_tag( $tag, $handle ) {
		if ( self::SCRIPT_HANDLE !== $handle ) {
			return $tag;
		}

		$extra = ' data-api="' . esc_attr( Basketry_Settings::backend_url() ) . '"';
		if ( ! Basketry_Settings::requires_consent() ) {
			$extra .= ' data-consent="granted"';
		}

		// $tag also holds the inline "before" scripts; only the element whose id is exactly "<handle>-js" is the widget.
		$pattern = '/<script(?=[^>]*\sid=(["\'])' . preg_quote( self::SCRIPT_HANDLE, '/' ) . '-js\1)/';
		return (string) preg_replace_callback(
			$pattern,
			static function () use ( $extra ) {
				return '<script' . $extra;
			},
			$tag,
			1
		);
	}

	/**
	 * Widget texts in the site's language.
	 *
	 * @return array<string, string>
	 */
	private function labels() {
		$labels = array(
			'related'         => __( 'You may also like', 'basketry' ),
			'bought_together' => __( 'Frequently bought together', 'basketry' ),
			'cart'            => __( 'Goes well with your cart', 'basketry' ),
			'personal'        => __( 'Picked for you', 'basketry' ),
			'include'         => __( 'Include', 'basketry' ),
			'why'             => __( 'Why this?', 'basketry' ),
			'total'           => __( 'Total', 'basketry' ),
			'add'             => __( 'Add selected to cart', 'basketry' ),
			'added'           => __( 'Added to cart', 'basketry' ),
			'failed'          => __( 'Could not add to cart', 'basketry' ),
		);

		/**
		 * Filters the texts the storefront widget shows.
		 *
		 * @param array<string, string> $labels Texts keyed by the widget's label names.
		 */
		return apply_filters( 'basketry_labels', $labels );
	}

	/**
	 * Remembers which Basketry block a product was added from.
	 *
	 * @param array $cart_item_data Extra data for the new cart item.
	 * @param int   $product_id     Product id (the parent for variations).
	 * @param int   $variation_id   Variation id, or 0.
	 * @return array
	 */
	public function tag_cart_item( $cart_item_data, $product_id, $variation_id ) {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- WooCommerce's ?add-to-cart links carry no nonce; this only labels the item being added.
		if ( ! isset( $_GET['basketry'], $_GET['add-to-cart'] ) ) {
			return $cart_item_data;
		}
		$requested = absint( wp_unslash( $_GET['add-to-cart'] ) );
		$block     = sanitize_key( wp_unslash( $_GET['basketry'] ) );
		// phpcs:enable WordPress.Security.NonceVerification.Recommended

		if ( ! in_array( $block, self::TYPES, true ) ) {
			return $cart_item_data;
		}
		// Other products added during the same request (e.g. grouped products) were not recommended.
		if ( (int) $product_id !== $requested && (int) $variation_id !== $requested ) {
			return $cart_item_data;
		}

		$cart_item_data[ self::ITEM_KEY ] = $block;
		return $cart_item_data;
	}

	/**
	 * Keeps the attribution out of the merchant's order screen; the REST API still returns it.
	 *
	 * @param string[] $hidden Meta keys the order screen does not show.
	 * @return string[]
	 */
	public function hide_item_meta( $hidden ) {
		$hidden   = is_array( $hidden ) ? $hidden : array();
		$hidden[] = self::ITEM_KEY;
		return $hidden;
	}

	/**
	 * Copies the attribution onto the order line item, where the backend reads it after import.
	 *
	 * @param WC_Order_Item_Product $item          New line item.
	 * @param string                $cart_item_key Cart item key.
	 * @param array                 $values        Cart item data.
	 */
	public function tag_order_item( $item, $cart_item_key, $values ) {
		if ( empty( $values[ self::ITEM_KEY ] ) || ! is_string( $values[ self::ITEM_KEY ] ) ) {
			return;
		}
		$block = sanitize_key( $values[ self::ITEM_KEY ] );
		if ( in_array( $block, self::TYPES, true ) ) {
			$item->add_meta_data( self::ITEM_KEY, $block, true );
		}
	}

	/**
	 * Copies the widget's A/B test mark ("<test id>:<arm>", nothing about the shopper) into the
	 * order, so that Basketry can count the test's orders per arm. Anything malformed is ignored.
	 *
	 * @param WC_Order $order The order being created.
	 * @return bool Whether the order got the mark.
	 */
	public function tag_order_experiment( $order ) {
		if ( empty( $_COOKIE[ self::EXPERIMENT_COOKIE ] ) ) {
			return false;
		}
		$mark = sanitize_text_field( wp_unslash( $_COOKIE[ self::EXPERIMENT_COOKIE ] ) );
		if ( 1 !== preg_match( '/^[0-9]{1,12}:[A-C]$/', $mark ) ) {
			return false;
		}
		$order->update_meta_data( self::EXPERIMENT_KEY, $mark );
		return true;
	}

	/**
	 * The same for an order placed through the Checkout block, which is saved here.
	 *
	 * @param WC_Order $order The order the Store API placed.
	 */
	public function tag_block_order_experiment( $order ) {
		if ( $this->tag_order_experiment( $order ) ) {
			$order->save();
		}
	}
}
