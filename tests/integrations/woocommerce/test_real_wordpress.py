"""The plugin inside a real WordPress: Debian's `wordpress` package (6.1), MariaDB and PHP's
built-in server, with WP_DEBUG and WP_DEBUG_LOG on.

One test walks a fresh install through the plugin's life: activation without WooCommerce (the
"needs WooCommerce" notice, nothing else registered), then with a stand-in for WooCommerce (see
below) the settings page, the [basketry] shortcode on a page, the privacy exporter and eraser, the
hidden order item meta, the revocation of a key a reconnect replaced, deactivation (webhooks
paused, the backend told), activation (webhooks back on, the backend told) and deletion (the
backend told, Basketry's webhooks and keys gone, every option gone, nothing else touched). The
plugin's signed calls go to a small HTTP receiver here, which checks their signatures with the
backend's own `plugin_signature`. At the end WordPress's debug.log must hold no notice, warning
or deprecation from the plugin's files, and none of WordPress's "called incorrectly" notices.

What it cannot cover, and why:

- WooCommerce itself: Debian does not package it, and CI installs nothing from outside Debian. A
  stand-in plugin (in `woocommerce/woocommerce.php`, so the slug matches) defines the `WooCommerce`
  class, the "woocommerce" admin menu and WooCommerce's two tables the plugin touches
  (`wc_webhooks`, `woocommerce_api_keys`, with WooCommerce's column definitions). So product and
  cart pages, WooCommerce's hooks and templates, checkout attribution, HPOS, the REST API and the
  `WC_Webhook` code path of pausing and deleting webhooks are not exercised here (the direct-table
  path is); tests/fakes/woocommerce.py and the backend tests cover the REST side.
- WordPress 6.3+: the plugin says "Requires at least: 6.3" (its script loading strategy and its
  block's apiVersion 3 are 6.3 features, and WooCommerce 8.0, which it requires, needs 6.2
  anyway). WordPress refuses to activate a plugin below its minimum, so the test's temporary copy
  of the plugin says 6.1; the shipped header is unchanged. On 6.1 the widget script loads in the
  footer without `defer`, and the block editor is not opened (no browser here).
"""

from __future__ import annotations

import http.server
import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from integrations.woocommerce.views import plugin_signature

WORDPRESS = Path("/usr/share/wordpress")
PLUGIN = Path(__file__).resolve().parents[3] / "extensions" / "basketry-woocommerce"
PLUGIN_FILE = "basketry-woocommerce/basketry.php"
PLUGIN_KEY = "ab" * 32
OLD_KEY_END, CURRENT_KEY_END, OTHER_KEY_END = "0ld0ld0", "cur7ent", "0th3r00"

pytestmark = pytest.mark.services("wordpress")

# WooCommerce's definitions of the two tables (class-wc-install.php), and just enough of
# WooCommerce for the plugin to start: the class it checks for and the menu it hangs its page on.
STAND_IN = r"""<?php
/**
 * Plugin Name: WooCommerce (test stand-in)
 * Description: The WooCommerce class, admin menu and the two tables Basketry touches; nothing else.
 */
defined( 'ABSPATH' ) || exit;
class WooCommerce {}
add_action( 'admin_menu', function () {
	add_menu_page( 'WooCommerce', 'WooCommerce', 'manage_woocommerce', 'woocommerce', '__return_null' );
} );
register_activation_hook( __FILE__, function () {
	global $wpdb;
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$collate = $wpdb->get_charset_collate();
	dbDelta( "CREATE TABLE {$wpdb->prefix}woocommerce_api_keys (
  key_id BIGINT UNSIGNED NOT NULL auto_increment,
  user_id BIGINT UNSIGNED NOT NULL,
  description varchar(200) NULL,
  permissions varchar(10) NOT NULL,
  consumer_key char(64) NOT NULL,
  consumer_secret char(43) NOT NULL,
  nonces longtext NULL,
  truncated_key char(7) NOT NULL,
  last_access datetime NULL default null,
  PRIMARY KEY  (key_id),
  KEY consumer_key (consumer_key),
  KEY consumer_secret (consumer_secret)
) $collate;
CREATE TABLE {$wpdb->prefix}wc_webhooks (
  webhook_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  status varchar(200) NOT NULL,
  name text NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  delivery_url text NOT NULL,
  secret text NOT NULL,
  topic varchar(200) NOT NULL,
  date_created datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  date_created_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  date_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  date_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  api_version smallint(4) NOT NULL,
  failure_count smallint(10) NOT NULL DEFAULT '0',
  pending_delivery tinyint(1) NOT NULL DEFAULT '0',
  PRIMARY KEY  (webhook_id),
  KEY user_id (user_id)
) $collate;" );
	get_role( 'administrator' )->add_cap( 'manage_woocommerce' );
} );
"""

WEBHOOKS = (
    ("Basketry product.updated", "https://basketry.test/webhooks/woocommerce/12", "active"),
    ("Basketry order.created", "https://basketry.test/webhooks/woocommerce/12", "active"),
    ("Basketry order.deleted", "https://basketry.test/webhooks/woocommerce/12", "disabled"),
    ("Shipping sync", "https://shipping.example/hook", "active"),
)
KEYS = (
    ("Basketry - API (2026-01-01 10:00:00)", OLD_KEY_END),
    ("Basketry - API (2026-06-01 10:00:00)", CURRENT_KEY_END),
    ("Shipping app - API (2026-02-01 10:00:00)", OTHER_KEY_END),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Backend:
    """Answers the plugin's signed calls as the backend would, and keeps them."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                backend.calls.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                name = self.path.rsplit("/", 1)[-1]
                payload = {
                    "status": {"connected": True, "key_ending": CURRENT_KEY_END, "currency": "EUR", "products": 3},
                    "pause": {"paused": True, "changed": True},
                    "resume": {"paused": False, "changed": True},
                    "uninstall": {"uninstalled": True, "key_ending": CURRENT_KEY_END, "purge_after_hours": 72},
                }.get(name)
                data = json.dumps(payload or {"error": "unknown"}).encode()
                self.send_response(200 if payload else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [call["path"] for call in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Site:
    """A WordPress install in a temporary directory and database, served by `php -S`."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.database = f"basketry_wp_{secrets.token_hex(4)}"
        self.log = root / "debug.log"
        self.prepend = root / "prepend.php"
        self.docroot = root / "site"
        self.server: subprocess.Popen | None = None

    def build(self) -> None:
        docroot = self.docroot
        docroot.mkdir()
        for entry in WORDPRESS.iterdir():
            if entry.name not in ("wp-config.php", "wp-content"):
                (docroot / entry.name).symlink_to(entry)
        content = docroot / "wp-content"
        (content / "plugins").mkdir(parents=True)
        (content / "themes").mkdir()
        for theme in (WORDPRESS / "wp-content" / "themes").iterdir():
            (content / "themes" / theme.name).symlink_to(theme)
        # A copy, never a link: deleting the plugin must not reach the repository.
        copy = content / "plugins" / "basketry-woocommerce"
        shutil.copytree(PLUGIN, copy)
        main = copy / "basketry.php"
        main.write_text(re.sub(r"(Requires at least:\s+)6\.3", r"\g<1>6.1", main.read_text()))
        (content / "plugins" / "woocommerce").mkdir()
        (content / "plugins" / "woocommerce" / "woocommerce.php").write_text(STAND_IN)
        # Debian's wp-config.php reads /etc/wordpress; WordPress finds this one through ABSPATH instead.
        self.prepend.write_text(
            "<?php\n"
            f"if ( ! defined( 'ABSPATH' ) ) {{ define( 'ABSPATH', '{docroot}/' ); }}\n"
            "if ( PHP_SAPI === 'cli' ) {\n"
            f"  $_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}'; $_SERVER['SERVER_NAME'] = '127.0.0.1';\n"
            f"  $_SERVER['SERVER_PORT'] = '{self.port}'; $_SERVER['REQUEST_URI'] = '/';\n"
            "  $_SERVER['REQUEST_METHOD'] = 'GET';\n"
            "}\n"
        )
        salts = "".join(f"define( '{name}', '{secrets.token_hex(32)}' );\n" for name in _SALTS)
        (docroot / "wp-config.php").write_text(
            "<?php\n"
            f"define( 'DB_NAME', '{self.database}' ); define( 'DB_USER', 'root' ); define( 'DB_PASSWORD', '' );\n"
            "define( 'DB_HOST', '127.0.0.1:3306' ); define( 'DB_CHARSET', 'utf8mb4' ); define( 'DB_COLLATE', '' );\n"
            f"{salts}$table_prefix = 'wp_';\n"
            f"define( 'WP_HOME', '{self.url}' ); define( 'WP_SITEURL', '{self.url}' );\n"
            f"define( 'WP_CONTENT_DIR', '{content}' ); define( 'WP_CONTENT_URL', '{self.url}/wp-content' );\n"
            f"define( 'WP_DEBUG', true ); define( 'WP_DEBUG_LOG', '{self.log}' );\n"
            "define( 'WP_DEBUG_DISPLAY', false );\n"
            "define( 'DISABLE_WP_CRON', true ); define( 'AUTOMATIC_UPDATER_DISABLED', true );\n"
            # No calls to wordpress.org (update checks); requests to this machine stay allowed.
            "define( 'WP_HTTP_BLOCK_EXTERNAL', true ); define( 'FS_METHOD', 'direct' );\n"
            "require_once ABSPATH . 'wp-settings.php';\n"
        )
        subprocess.run(
            ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", f"CREATE DATABASE {self.database}"],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def php(self, code: str, *, installing: bool = False) -> dict:
        """Run PHP with WordPress loaded; the script's JSON output is returned."""
        script = self.root / "step.php"
        script.write_text(
            "<?php\n"
            + ("define( 'WP_INSTALLING', true );\n" if installing else "")
            + "require ABSPATH . 'wp-load.php';\n"
            + "require_once ABSPATH . 'wp-admin/includes/plugin.php';\n"
            + code
        )
        done = subprocess.run(
            ["php", "-d", f"auto_prepend_file={self.prepend}", str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.docroot,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def serve(self) -> None:
        self.server = subprocess.Popen(
            ["php", "-d", f"auto_prepend_file={self.prepend}", "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("php -S did not start")

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)
        subprocess.run(
            [
                "mariadb",
                "-h",
                "127.0.0.1",
                "-P",
                "3306",
                "-u",
                "root",
                "-e",
                f"DROP DATABASE IF EXISTS {self.database}",
            ],
            capture_output=True,
            timeout=30,
        )


_SALTS = (
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)


@pytest.fixture
def site(tmp_path):
    wordpress = Site(tmp_path, _free_port())
    try:
        wordpress.build()
        yield wordpress
    finally:
        wordpress.close()


@pytest.fixture
def backend():
    receiver = Backend()
    yield receiver
    receiver.close()


def assert_signed(call: dict, method: str, path: str, shop: str) -> None:
    headers = {name.lower(): value for name, value in call["headers"].items()}
    assert (call["method"], call["path"], headers["x-basketry-shop"]) == (method, path, shop)
    expected = plugin_signature(
        key=PLUGIN_KEY, timestamp=headers["x-basketry-timestamp"], method=method, path=path, body=call["body"]
    )
    assert headers["x-basketry-signature"] == expected


def table_rows(site: Site) -> dict:
    return site.php(
        "global $wpdb;\n"
        "echo wp_json_encode( array(\n"
        "  'webhooks' => $wpdb->get_results( \"SELECT name, status FROM {$wpdb->prefix}wc_webhooks ORDER BY webhook_id\", ARRAY_A ),\n"  # noqa: E501
        "  'keys' => $wpdb->get_col( \"SELECT truncated_key FROM {$wpdb->prefix}woocommerce_api_keys ORDER BY key_id\" ),\n"  # noqa: E501
        "  'key_id' => get_option( 'basketry_key_id' ),\n"
        "  'paused' => get_option( 'basketry_paused_webhooks' ),\n"
        "  'options' => $wpdb->get_col( \"SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE 'basketry\\\\_%'\" ),\n"  # noqa: E501
        ") );\n"
    )


def test_the_plugin_in_a_real_wordpress(site, backend):
    started = time.monotonic()
    site.php(
        "function wp_new_blog_notification() {}\n"  # no mail on this machine
        "require_once ABSPATH . 'wp-admin/includes/upgrade.php';\n"
        "$done = wp_install( 'Basketry CI', 'admin', 'admin@example.com', false, '', 'ci-password' );\n"
        "echo wp_json_encode( array( 'user' => $done['user_id'] ) );\n",
        installing=True,
    )
    version = site.php("echo wp_json_encode( array( 'version' => get_bloginfo( 'version' ) ) );\n")["version"]
    assert version.startswith("6.")

    # Without WooCommerce: it activates, says what it needs, and registers nothing else.
    alone = site.php(
        f"$error = activate_plugin( '{PLUGIN_FILE}' );\n"
        "echo wp_json_encode( array( 'error' => is_wp_error( $error ) ? $error->get_error_message() : null ) );\n"
    )
    assert alone["error"] is None
    site.serve()
    admin = httpx.Client(base_url=site.url, timeout=30, follow_redirects=True)
    admin.cookies.set("wordpress_test_cookie", "WP Cookie check")
    login = admin.post(
        "/wp-login.php", data={"log": "admin", "pwd": "ci-password", "testcookie": "1", "redirect_to": "/wp-admin/"}
    )
    assert login.status_code == 200 and "wp-admin-bar" in login.text, login.text[:500]
    assert "Basketry needs WooCommerce. Install and activate WooCommerce to use it." in login.text
    registered = site.php(
        "echo wp_json_encode( array(\n"
        "  'shortcode' => shortcode_exists( 'basketry' ),\n"
        "  'exporters' => array_keys( apply_filters( 'wp_privacy_personal_data_exporters', array() ) ),\n"
        ") );\n"
    )
    assert registered["shortcode"] is False
    assert "wordpress-user" in registered["exporters"] and "basketry" not in registered["exporters"]

    # With the stand-in: a store whose Basketry key was replaced by a reconnect.
    setup = site.php(
        "$error = activate_plugin( 'woocommerce/woocommerce.php' );\n"
        "global $wpdb;\n"
        f"foreach ( {php_array(WEBHOOKS)} as $hook ) {{\n"
        "  $wpdb->insert( $wpdb->prefix . 'wc_webhooks', array( 'name' => $hook[0], 'delivery_url' => $hook[1],\n"
        "    'status' => $hook[2], 'user_id' => 1, 'secret' => 's', 'topic' => 'order.created',\n"
        "    'api_version' => 3 ) );\n"
        "}\n"
        f"foreach ( {php_array(KEYS)} as $key ) {{\n"
        "  $wpdb->insert( $wpdb->prefix . 'woocommerce_api_keys', array( 'user_id' => 1, 'description' => $key[0],\n"
        "    'permissions' => 'read_write', 'consumer_key' => hash( 'sha256', $key[1] ), 'consumer_secret' => 'cs',\n"
        "    'truncated_key' => $key[1] ) );\n"
        "}\n"
        f"update_option( 'basketry_plugin_key', '{PLUGIN_KEY}', false );\n"
        f"update_option( 'basketry_backend_url', '{backend.url}' );\n"
        "$page = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Picks',\n"
        '  \'post_content\' => \'[basketry type="related" product_id="42" limit="3" title="You may like"]\' ) );\n'
        "echo wp_json_encode( array( 'error' => is_wp_error( $error ) ? $error->get_error_message() : null,\n"
        "  'page' => get_permalink( $page ) ) );\n"
    )
    assert setup["error"] is None
    shop = f"127.0.0.1:{site.port}"

    page = admin.get("/wp-admin/admin.php", params={"page": "basketry"})
    assert page.status_code == 200
    assert "<h1>Basketry</h1>" in page.text and "Basketry needs WooCommerce" not in page.text
    assert "Connect with keys you created yourself" in page.text
    assert "The backend URL is not https" in page.text  # http is allowed only because WP_DEBUG is on
    assert re.search(r"<th scope=\"row\">Currency</th>\s*<td>EUR</td>", page.text)
    assert_signed(backend.calls[-1], "GET", "/api/plugin/v1/status", shop)
    rows = table_rows(site)
    assert rows["keys"] == [CURRENT_KEY_END, OTHER_KEY_END], "the key the reconnect replaced is revoked"
    assert int(rows["key_id"]) == 2

    picks = httpx.get(setup["page"], timeout=30)
    assert picks.status_code == 200
    placeholder = re.search(r"<div class=\"basketry-recommendations[^>]*>", picks.text)
    assert placeholder, picks.text[-2000:]
    for attribute in ('data-basketry="related"', 'data-product-id="42"', 'data-limit="3"', f'data-shop="{shop}"'):
        assert attribute in placeholder.group(0)
    assert f'data-api="{backend.url}"' in picks.text and "/static/basketry/widget.js" in picks.text

    hooks = site.php(
        "echo wp_json_encode( array(\n"
        "  'shortcode' => shortcode_exists( 'basketry' ),\n"
        "  'exporters' => array_keys( apply_filters( 'wp_privacy_personal_data_exporters', array() ) ),\n"
        "  'erasers' => array_keys( apply_filters( 'wp_privacy_personal_data_erasers', array() ) ),\n"
        "  'hidden' => apply_filters( 'woocommerce_hidden_order_itemmeta', array( '_qty' ) ),\n"
        "  'block' => WP_Block_Type_Registry::get_instance()->is_registered( 'basketry/recommendations' ),\n"
        ") );\n"
    )
    assert hooks["shortcode"] and hooks["block"]
    assert "basketry" in hooks["exporters"] and "basketry" in hooks["erasers"]
    assert hooks["hidden"] == ["_qty", "_basketry"]

    # Deactivation pauses Basketry's active webhooks only; activation switches those back on.
    site.php(f"deactivate_plugins( '{PLUGIN_FILE}' ); echo '{{}}';\n")
    rows = table_rows(site)
    assert [hook["status"] for hook in rows["webhooks"]] == ["paused", "paused", "disabled", "active"]
    assert_signed(backend.calls[-1], "POST", "/api/plugin/v1/pause", shop)
    site.php(f"activate_plugin( '{PLUGIN_FILE}' ); echo '{{}}';\n")
    rows = table_rows(site)
    assert [hook["status"] for hook in rows["webhooks"]] == ["active", "active", "disabled", "active"]
    assert rows["paused"] is False
    assert_signed(backend.calls[-1], "POST", "/api/plugin/v1/resume", shop)

    # Deletion: the backend is told, Basketry's webhooks and key go, and nothing else does.
    site.php(f"deactivate_plugins( '{PLUGIN_FILE}' ); uninstall_plugin( '{PLUGIN_FILE}' ); echo '{{}}';\n")
    assert backend.paths()[-2:] == ["/api/plugin/v1/pause", "/api/plugin/v1/uninstall"]
    assert_signed(backend.calls[-1], "POST", "/api/plugin/v1/uninstall", shop)
    rows = table_rows(site)
    assert rows["webhooks"] == [{"name": "Shipping sync", "status": "active"}]
    assert rows["keys"] == [OTHER_KEY_END]
    assert rows["options"] == []
    assert (site.docroot / "wp-content" / "plugins" / PLUGIN_FILE).is_file()  # uninstalled, files left alone

    # The log really collects notices (so an empty list below means something).
    site.php("trigger_error( 'basketry-ci-log-check', E_USER_NOTICE ); echo '{}';\n")
    log = site.log.read_text()
    assert "PHP Notice:  basketry-ci-log-check" in log
    ours = [line for line in log.splitlines() if "/plugins/basketry-woocommerce/" in line]
    assert not ours, "\n".join(ours)
    assert "called <strong>incorrectly</strong>" not in log, log
    assert time.monotonic() - started < 60


def php_array(rows: tuple[tuple[str, ...], ...]) -> str:
    return "array( " + ", ".join("array( " + ", ".join(repr(v) for v in row) + " )" for row in rows) + " )"
