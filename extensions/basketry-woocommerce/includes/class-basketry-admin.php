<?php
/**
 * Settings page under the WooCommerce menu.
 *
 * @package Basketry
 */

defined( 'ABSPATH' ) || exit;

/**
 * Connection status, the Connect and dashboard buttons, and the plugin's options.
 */
final class Basketry_Admin {

	const PAGE             = 'basketry';
	const CAPABILITY       = 'manage_woocommerce';
	const DASHBOARD_ACTION = 'basketry_dashboard';

	/**
	 * Single instance.
	 *
	 * @var Basketry_Admin|null
	 */
	private static $instance = null;

	/**
	 * Returns the single instance.
	 *
	 * @return Basketry_Admin
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Hooks the page, its settings and its form handlers.
	 */
	public function register_hooks() {
		add_action( 'admin_menu', array( $this, 'add_menu' ) );
		add_action( 'admin_init', array( $this, 'register_settings' ) );
		add_action( 'admin_post_' . self::DASHBOARD_ACTION, array( $this, 'handle_dashboard' ) );
		// options.php checks manage_options by default, which shop managers do not have.
		add_filter( 'option_page_capability_' . self::PAGE, array( $this, 'settings_capability' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( BASKETRY_FILE ), array( $this, 'action_links' ) );
	}

	/**
	 * Adds WooCommerce > Basketry.
	 */
	public function add_menu() {
		add_submenu_page(
			'woocommerce',
			__( 'Basketry', 'basketry' ),
			__( 'Basketry', 'basketry' ),
			self::CAPABILITY,
			self::PAGE,
			array( $this, 'render_page' )
		);
	}

	/**
	 * Capability needed to save the settings form.
	 *
	 * @return string
	 */
	public function settings_capability() {
		return self::CAPABILITY;
	}

	/**
	 * Adds a Settings link on the Plugins screen.
	 *
	 * @param string[] $links Existing links.
	 * @return string[]
	 */
	public function action_links( $links ) {
		if ( current_user_can( self::CAPABILITY ) ) {
			array_unshift(
				$links,
				sprintf( '<a href="%s">%s</a>', esc_url( Basketry_Settings::page_url() ), esc_html__( 'Settings', 'basketry' ) )
			);
		}
		return $links;
	}

	/**
	 * Registers the options and their fields with the Settings API.
	 */
	public function register_settings() {
		register_setting(
			self::PAGE,
			Basketry_Settings::OPTION_BACKEND_URL,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( $this, 'sanitize_backend_url' ),
				'default'           => BASKETRY_DEFAULT_BACKEND_URL,
				'show_in_rest'      => false,
			)
		);
		register_setting(
			self::PAGE,
			Basketry_Settings::OPTION_REQUIRE_CONSENT,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( $this, 'sanitize_yes_no' ),
				'default'           => 'yes',
				'show_in_rest'      => false,
			)
		);
		register_setting(
			self::PAGE,
			Basketry_Settings::OPTION_REPLACE_RELATED,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( $this, 'sanitize_yes_no' ),
				'default'           => 'no',
				'show_in_rest'      => false,
			)
		);

		add_settings_section( 'basketry_settings', __( 'Settings', 'basketry' ), '__return_false', self::PAGE );

		add_settings_field(
			Basketry_Settings::OPTION_REPLACE_RELATED,
			__( 'Related products', 'basketry' ),
			array( $this, 'render_checkbox_field' ),
			self::PAGE,
			'basketry_settings',
			array(
				'option'  => Basketry_Settings::OPTION_REPLACE_RELATED,
				'checked' => Basketry_Settings::replaces_related(),
				'label'   => __( "Replace WooCommerce's related products", 'basketry' ),
				'help'    => __( 'Hides the related products WooCommerce shows under classic product pages, so shoppers see only Basketry\'s list. In block themes, remove the Related Products block from the Single Product template instead.', 'basketry' ),
			)
		);
		add_settings_field(
			Basketry_Settings::OPTION_REQUIRE_CONSENT,
			__( 'Consent', 'basketry' ),
			array( $this, 'render_checkbox_field' ),
			self::PAGE,
			'basketry_settings',
			array(
				'option'  => Basketry_Settings::OPTION_REQUIRE_CONSENT,
				'checked' => Basketry_Settings::requires_consent(),
				'label'   => __( 'Require consent for analytics', 'basketry' ),
				'help'    => __( 'Views and clicks on recommendations are only counted once the shopper allows statistics through a consent plugin that supports the WP Consent API. Recommendations are shown either way.', 'basketry' ),
			)
		);
		add_settings_field(
			Basketry_Settings::OPTION_BACKEND_URL,
			__( 'Backend URL', 'basketry' ),
			array( $this, 'render_backend_url_field' ),
			self::PAGE,
			'basketry_settings',
			array( 'label_for' => Basketry_Settings::OPTION_BACKEND_URL )
		);
	}

	/**
	 * Keeps the backend URL on HTTPS, except on debug sites.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public function sanitize_backend_url( $value ) {
		$value = is_string( $value ) ? trim( $value ) : '';
		if ( '' === $value ) {
			return BASKETRY_DEFAULT_BACKEND_URL;
		}

		$url = untrailingslashit( esc_url_raw( $value, array( 'http', 'https' ) ) );
		if ( Basketry_Settings::is_allowed_backend_url( $url ) ) {
			return $url;
		}

		// WordPress sanitises a brand-new option twice; one message is enough.
		if ( ! get_settings_errors( Basketry_Settings::OPTION_BACKEND_URL ) ) {
			add_settings_error(
				Basketry_Settings::OPTION_BACKEND_URL,
				'basketry_backend_url_invalid',
				__( 'The backend URL must be a full https:// address. It was not changed.', 'basketry' )
			);
		}
		return (string) get_option( Basketry_Settings::OPTION_BACKEND_URL, BASKETRY_DEFAULT_BACKEND_URL );
	}

	/**
	 * Normalises a checkbox to the yes/no strings WooCommerce also uses.
	 *
	 * @param mixed $value Submitted value; absent when the box is unticked.
	 * @return string
	 */
	public function sanitize_yes_no( $value ) {
		return ( 'yes' === $value ) ? 'yes' : 'no';
	}

	/**
	 * Prints a checkbox field.
	 *
	 * @param array $args Field arguments from register_settings().
	 */
	public function render_checkbox_field( $args ) {
		?>
		<label>
			<input type="checkbox" name="<?php echo esc_attr( $args['option'] ); ?>" value="yes" <?php checked( $args['checked'] ); ?> />
			<?php echo esc_html( $args['label'] ); ?>
		</label>
		<p class="description"><?php echo esc_html( $args['help'] ); ?></p>
		<?php
	}

	/**
	 * Prints the backend URL field.
	 */
	public function render_backend_url_field() {
		?>
		<input type="url" class="regular-text code" id="<?php echo esc_attr( Basketry_Settings::OPTION_BACKEND_URL ); ?>" name="<?php echo esc_attr( Basketry_Settings::OPTION_BACKEND_URL ); ?>" value="<?php echo esc_attr( Basketry_Settings::backend_url() ); ?>" />
		<p class="description"><?php esc_html_e( 'Only change this if Basketry support asks you to. After changing it, connect again.', 'basketry' ); ?></p>
		<?php
	}

	/**
	 * Opens a short-lived sign-in link to the Basketry dashboard.
	 *
	 * The link is fetched on click rather than printed in the page because it expires within minutes.
	 */
	public function handle_dashboard() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to open the Basketry dashboard.', 'basketry' ), 403 );
		}
		check_admin_referer( self::DASHBOARD_ACTION );

		$back   = array(
			'response'  => 502,
			'link_url'  => Basketry_Settings::page_url(),
			'link_text' => esc_html__( 'Back to the Basketry settings', 'basketry' ),
		);
		$result = Basketry_Client::post( '/api/plugin/v1/dashboard-link' );
		if ( is_wp_error( $result ) ) {
			wp_die( esc_html( $result->get_error_message() ), esc_html__( 'Basketry', 'basketry' ), $back );
		}

		$url = isset( $result['url'] ) && is_string( $result['url'] ) ? $result['url'] : '';
		if ( ! $this->is_backend_url( $url ) ) {
			wp_die( esc_html__( 'Basketry answered with an unexpected dashboard address.', 'basketry' ), esc_html__( 'Basketry', 'basketry' ), $back );
		}

		// The dashboard lives on the backend's host, which wp_safe_redirect() would refuse; is_backend_url() pins it instead.
		wp_redirect( $url ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}

	/**
	 * Whether a URL is on the configured backend, with the same scheme and host.
	 *
	 * @param string $url Candidate URL.
	 * @return bool
	 */
	private function is_backend_url( $url ) {
		if ( '' === $url ) {
			return false;
		}
		$backend = Basketry_Settings::backend_url();
		return wp_parse_url( $url, PHP_URL_SCHEME ) === wp_parse_url( $backend, PHP_URL_SCHEME )
			&& wp_parse_url( $url, PHP_URL_HOST ) === wp_parse_url( $backend, PHP_URL_HOST )
			&& wp_parse_url( $url, PHP_URL_PORT ) === wp_parse_url( $backend, PHP_URL_PORT );
	}

	/**
	 * Keeps a notice for the current user's next page view (the form handlers redirect).
	 *
	 * @param string $type    error, warning, success or info.
	 * @param string $message Plain-text message.
	 */
	public static function flash( $type, $message ) {
		set_transient(
			'basketry_notice_' . get_current_user_id(),
			array(
				'type'    => $type,
				'message' => $message,
			),
			5 * MINUTE_IN_SECONDS
		);
	}

	/**
	 * Prints and forgets the current user's pending notice.
	 */
	private function print_flash() {
		$key    = 'basketry_notice_' . get_current_user_id();
		$notice = get_transient( $key );
		if ( ! is_array( $notice ) || empty( $notice['message'] ) ) {
			return;
		}
		delete_transient( $key );
		$this->print_notice( isset( $notice['type'] ) ? $notice['type'] : 'info', $notice['message'] );
	}

	/**
	 * Prints one admin notice.
	 *
	 * @param string $type    error, warning, success or info.
	 * @param string $message Plain-text message.
	 */
	private function print_notice( $type, $message ) {
		$type = in_array( $type, array( 'error', 'warning', 'success', 'info' ), true ) ? $type : 'info';
		printf(
			'<div class="notice notice-%1$s"><p>%2$s</p></div>',
			esc_attr( $type ),
			esc_html( $message )
		);
	}

	/**
	 * Shows the outcome of WooCommerce's approval screen, which sends the merchant back here.
	 */
	private function print_return_notice() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- set by WooCommerce's redirect, only selects a message.
		if ( ! isset( $_GET['success'] ) ) {
			return;
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- see above.
		$success = sanitize_key( wp_unslash( $_GET['success'] ) );
		if ( '1' === $success ) {
			$this->print_notice( 'success', __( 'Your store is connected. Basketry is importing your products and orders; recommendations appear once the first model is trained.', 'basketry' ) );
		} elseif ( '0' === $success ) {
			$this->print_notice( 'warning', __( 'The connection was not approved, so Basketry cannot read your catalogue. Click Connect to try again.', 'basketry' ) );
		}
	}

	/**
	 * Renders the settings page.
	 */
	public function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$status = Basketry_Settings::has_plugin_key() ? Basketry_Client::get( '/api/plugin/v1/status' ) : null;
		if ( is_array( $status ) ) {
			// After a reconnect (the approval screen sends the merchant back here) the replaced key is revoked.
			Basketry_Lifecycle::after_connect( $status );
		}
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'Basketry', 'basketry' ); ?></h1>
			<?php
			settings_errors();
			$this->print_flash();
			$this->print_return_notice();
			?>

			<h2><?php esc_html_e( 'Connection', 'basketry' ); ?></h2>
			<?php $this->render_status( $status ); ?>

			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" style="display:inline-block;margin-right:8px">
				<input type="hidden" name="action" value="<?php echo esc_attr( Basketry_Connect::ACTION ); ?>" />
				<?php
				wp_nonce_field( Basketry_Connect::ACTION );
				$connected = is_array( $status ) && ! empty( $status['connected'] );
				submit_button( $connected ? __( 'Reconnect', 'basketry' ) : __( 'Connect', 'basketry' ), $connected ? 'secondary' : 'primary', 'submit', false );
				?>
			</form>
			<?php if ( $connected ) : ?>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" target="_blank" style="display:inline-block">
					<input type="hidden" name="action" value="<?php echo esc_attr( self::DASHBOARD_ACTION ); ?>" />
					<?php
					wp_nonce_field( self::DASHBOARD_ACTION );
					submit_button( __( 'Open the Basketry dashboard', 'basketry' ), 'primary', 'submit', false );
					?>
				</form>
			<?php endif; ?>
			<p class="description">
				<?php esc_html_e( 'Connecting asks you to approve read and write access to your store for Basketry. It reads products and orders to learn what sells together and registers webhooks to stay up to date.', 'basketry' ); ?>
			</p>
			<?php if ( ! Basketry_Settings::backend_is_https() ) : ?>
				<?php $this->print_notice( 'warning', __( 'The backend URL is not https, and WooCommerce only sends keys to an https address, so Connect cannot work with it. Use an https backend URL, or connect with keys you created yourself (below).', 'basketry' ) ); ?>
			<?php endif; ?>
			<details>
				<summary><?php esc_html_e( 'Connect with keys you created yourself', 'basketry' ); ?></summary>
				<p class="description"><?php esc_html_e( 'Create a key with Read/Write permissions under WooCommerce > Settings > Advanced > REST API and paste it here. Basketry checks it with a test call before keeping it.', 'basketry' ); ?></p>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
					<input type="hidden" name="action" value="<?php echo esc_attr( Basketry_Connect::MANUAL_ACTION ); ?>" />
					<?php wp_nonce_field( Basketry_Connect::MANUAL_ACTION ); ?>
					<p>
						<label for="basketry_consumer_key"><?php esc_html_e( 'Consumer key', 'basketry' ); ?></label><br />
						<input type="text" id="basketry_consumer_key" name="basketry_consumer_key" class="regular-text" autocomplete="off" pattern="ck_[0-9a-f]{40}" required />
					</p>
					<p>
						<label for="basketry_consumer_secret"><?php esc_html_e( 'Consumer secret', 'basketry' ); ?></label><br />
						<input type="password" id="basketry_consumer_secret" name="basketry_consumer_secret" class="regular-text" autocomplete="off" pattern="cs_[0-9a-f]{40}" required />
					</p>
					<?php submit_button( __( 'Connect with these keys', 'basketry' ), 'secondary', 'submit', false ); ?>
				</form>
			</details>

			<h2><?php esc_html_e( 'Where recommendations appear', 'basketry' ); ?></h2>
			<p><?php esc_html_e( 'Product pages show "Frequently bought together" and related products, and the cart shows suggestions for its contents. Anywhere else, add the "Basketry recommendations" block or a shortcode such as:', 'basketry' ); ?></p>
			<p><code>[basketry type="personal" limit="4" title=""]</code></p>
			<p class="description"><?php esc_html_e( 'type is one of related, bought_together, cart or personal. Personal picks need a logged-in shopper.', 'basketry' ); ?></p>

			<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
				<?php
				settings_fields( self::PAGE );
				do_settings_sections( self::PAGE );
				submit_button();
				?>
			</form>
		</div>
		<?php
	}

	/**
	 * Prints the connection status table.
	 *
	 * @param array|WP_Error|null $status Backend status, an error, or null before the first Connect.
	 */
	private function render_status( $status ) {
		if ( null === $status ) {
			echo '<p>' . esc_html__( 'This store is not connected to Basketry yet.', 'basketry' ) . '</p>';
			return;
		}
		if ( is_wp_error( $status ) ) {
			$error_data = $status->get_error_data();
			if ( is_array( $error_data ) && isset( $error_data['status'] ) && in_array( (int) $error_data['status'], array( 401, 403, 404 ), true ) ) {
				// The backend only recognises the store once the merchant has approved access in WooCommerce.
				echo '<p>' . esc_html__( 'Not connected yet: click Connect and approve the access request that WooCommerce shows.', 'basketry' ) . '</p>';
				return;
			}
			/* translators: %s: error message. */
			$message = sprintf( __( 'Could not reach Basketry: %s', 'basketry' ), $status->get_error_message() );
			$this->print_notice( 'warning', $message );
			return;
		}

		$rows = array(
			__( 'Status', 'basketry' )    => empty( $status['connected'] ) ? __( 'Waiting for approval', 'basketry' ) : __( 'Connected', 'basketry' ),
			__( 'Currency', 'basketry' )  => isset( $status['currency'] ) && is_string( $status['currency'] ) ? $status['currency'] : '',
			__( 'Products', 'basketry' )  => number_format_i18n( isset( $status['products'] ) ? (int) $status['products'] : 0 ),
			__( 'Orders', 'basketry' )    => number_format_i18n( isset( $status['orders'] ) ? (int) $status['orders'] : 0 ),
			__( 'Last sync', 'basketry' ) => $this->describe( isset( $status['last_sync'] ) ? $status['last_sync'] : null ),
			__( 'Training', 'basketry' )  => $this->describe( isset( $status['training'] ) ? $status['training'] : null ),
		);
		?>
		<table class="widefat striped" style="max-width:640px;margin-bottom:1em">
			<tbody>
				<?php foreach ( $rows as $label => $value ) : ?>
					<tr>
						<th scope="row"><?php echo esc_html( $label ); ?></th>
						<td><?php echo esc_html( $value ); ?></td>
					</tr>
				<?php endforeach; ?>
			</tbody>
		</table>
		<?php
	}

	/**
	 * One-line, plain-text summary of a sync or training record.
	 *
	 * The backend owns the shape of these records, so every scalar field is shown rather than a
	 * fixed selection that would go stale.
	 *
	 * @param mixed $record Associative array or null.
	 * @return string
	 */
	private function describe( $record ) {
		if ( ! is_array( $record ) || ! $record ) {
			return __( 'Not yet', 'basketry' );
		}
		$parts = array();
		foreach ( $record as $key => $value ) {
			// Empty fields (e.g. no error) would only add noise.
			if ( ! is_scalar( $value ) || '' === $value ) {
				continue;
			}
			if ( is_bool( $value ) ) {
				$value = $value ? __( 'yes', 'basketry' ) : __( 'no', 'basketry' );
			} elseif ( is_string( $value ) && '_at' === substr( (string) $key, -3 ) && false !== strtotime( $value ) ) {
				$value = wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), strtotime( $value ) );
			}
			$parts[] = ucfirst( str_replace( '_', ' ', (string) $key ) ) . ': ' . $value;
		}
		return $parts ? implode( ' · ', $parts ) : __( 'Not yet', 'basketry' );
	}
}
