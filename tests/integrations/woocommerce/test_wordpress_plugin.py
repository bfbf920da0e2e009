"""Static and PHP-level checks of the Basketry WordPress plugin (extensions/basketry-woocommerce).

No WordPress install is needed: PHP lints every file, the plugin and block metadata are parsed
here, security conventions are checked by pattern, and the signing helpers (which load without
WordPress) are run in PHP and compared byte for byte with the backend's Python implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "extensions" / "basketry-woocommerce"
MAIN_FILE = PLUGIN / "basketry.php"
SIGNING_FILE = PLUGIN / "includes" / "class-basketry-signing.php"
SETTINGS_FILE = PLUGIN / "includes" / "class-basketry-settings.php"
STOREFRONT_FILE = PLUGIN / "includes" / "class-basketry-storefront.php"
BLOCK_DIR = PLUGIN / "blocks" / "basketry-recommendations"
WIDGET_JS = REPO / "recommendations" / "static" / "basketry" / "widget.js"
PHP_FILES = sorted(PLUGIN.rglob("*.php"))

BLOCK_TYPES = ["related", "bought_together", "cart", "personal"]
TOKEN_RE = re.compile(r"^v1\.[0-9]+\.[0-9]+\.[0-9a-f]{64}$")
KEY = "0f" * 32
SHOP = "shop.example.com"

# Functions whose result is safe to print into HTML.
ESCAPERS = (
    "esc_html",
    "esc_attr",
    "esc_url",
    "esc_js",
    "esc_textarea",
    "esc_html__",
    "esc_attr__",
    "esc_html_x",
    "esc_attr_x",
    "wp_kses",
    "wp_kses_post",
    "absint",
    "intval",
    "number_format_i18n",
)
I18N_CALL_RE = re.compile(
    r"\b(?:__|_e|_x|_n|esc_html__|esc_html_e|esc_attr__|esc_attr_e|esc_html_x|esc_attr_x)\(\s*"
    r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*,\s*(?:'(?:[^'\\]|\\.)*'\s*,\s*)?'([^']*)'\s*\)"
)


def php() -> str:
    binary = shutil.which("php")
    if binary is None:
        pytest.skip("php is not on PATH (install php-cli, as CI does) - the PHP checks cannot run")
    return binary


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_comments(code: str) -> str:
    """PHP code with /* */, // and # comments blanked out (strings are left alone)."""
    out, i, quote = [], 0, ""
    while i < len(code):
        char = code[i]
        if quote:
            out.append(char)
            if char == "\\":
                out.append(code[i + 1 : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            end = len(code) if end < 0 else end + 2
            out.append(" " * (end - i))
            i = end
            continue
        elif code.startswith("//", i) or (char == "#" and not code.startswith("#[", i)):
            end = code.find("\n", i)
            end = len(code) if end < 0 else end
            i = end
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def top_level_split(expression: str, separators: str) -> list[str]:
    """Splits a PHP expression on separators that are outside strings and brackets."""
    parts, depth, quote, current, i = [], 0, "", [], 0
    while i < len(expression):
        char = expression[i]
        if quote:
            current.append(char)
            if char == "\\":
                current.append(expression[i + 1 : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char in "([{":
            depth += 1
            current.append(char)
        elif char in ")]}":
            depth -= 1
            current.append(char)
        elif char in separators and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def statement_after(code: str, start: int) -> str:
    """The code from `start` up to the `;` or `?>` that ends the statement."""
    depth, quote, i = 0, "", start
    while i < len(code):
        char = code[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and (char == ";" or code.startswith("?>", i)):
            return code[start:i]
        i += 1
    return code[start:]


def is_safe_output(piece: str) -> bool:
    """A printed piece is a constant string or the result of an escaping function."""
    if re.fullmatch(r"'(?:[^'\\]|\\.)*'", piece, re.DOTALL):
        return True
    if re.fullmatch(r'"(?:[^"\\$]|\\.)*"', piece, re.DOTALL):
        return True
    call = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", piece)
    return bool(call) and call.group(1) in ESCAPERS and piece.endswith(")")


def function_body(code: str, name: str) -> str:
    match = re.search(rf"function\s+{re.escape(name)}\s*\([^)]*\)\s*\{{", code)
    assert match, f"function {name}() not found"
    depth, i = 1, match.end()
    while depth and i < len(code):
        depth += {"{": 1, "}": -1}.get(code[i], 0)
        i += 1
    return code[match.end() : i]


def header_fields(text: str) -> dict[str, str]:
    block = re.search(r"/\*\*(.*?)\*/", text, re.DOTALL)
    assert block, "the main file has no header comment"
    fields = {}
    for line in block.group(1).splitlines():
        found = re.match(r"\s*\*\s*([A-Za-z][A-Za-z ]+?):\s*(.+?)\s*$", line)
        if found:
            fields[found.group(1)] = found.group(2)
    return fields


def run_php(script: str, tmp_path: Path, stdin: str = "") -> str:
    path = tmp_path / "check.php"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([php(), str(path)], input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# --- files and metadata ----------------------------------------------------------------------------


def test_plugin_has_the_expected_files():
    for relative in (
        "basketry.php",
        "uninstall.php",
        "readme.txt",
        "includes/class-basketry-signing.php",
        "blocks/basketry-recommendations/block.json",
        "blocks/basketry-recommendations/render.php",
    ):
        assert (PLUGIN / relative).is_file(), relative
    assert len(PHP_FILES) >= 8


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda path: str(path.relative_to(PLUGIN)))
def test_php_files_lint(path):
    done = subprocess.run([php(), "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_plugin_header():
    fields = header_fields(source(MAIN_FILE))
    assert fields["Plugin Name"] == "Basketry"
    assert fields["Description"]
    assert fields["Version"] == "0.1.0"
    assert fields["Requires at least"] == "6.3"
    assert fields["Requires PHP"] == "7.4"
    assert fields["WC requires at least"] == "8.0"
    assert re.fullmatch(r"\d+\.\d+", fields["WC tested up to"])
    assert fields["Text Domain"] == "basketry"
    assert fields["License"] == "GPL-2.0-or-later"
    assert re.search(r"define\(\s*'BASKETRY_VERSION',\s*'0\.1\.0'\s*\)", source(MAIN_FILE))
    assert "'https://app.basketry.example'" in source(MAIN_FILE)


def test_readme_follows_the_wordpress_org_format():
    readme = source(PLUGIN / "readme.txt")
    assert readme.startswith("=== Basketry ===")
    for field, value in (
        ("Requires at least", "6.3"),
        ("Requires PHP", "7.4"),
        ("Stable tag", "0.1.0"),
        ("License", "GPL-2.0-or-later"),
    ):
        assert re.search(rf"^{field}: {re.escape(value)}$", readme, re.MULTILINE), field
    for section in ("Description", "Installation", "Frequently Asked Questions", "Changelog"):
        assert f"== {section} ==" in readme
    # WordPress.org requires plugins that call an external service to say so.
    assert "== External service ==" in readme


def test_block_metadata():
    block = json.loads(source(BLOCK_DIR / "block.json"))
    assert block["apiVersion"] == 3
    assert block["name"] == "basketry/recommendations"
    assert block["textdomain"] == "basketry"
    attributes = block["attributes"]
    assert set(attributes) == {"type", "limit", "title"}
    assert attributes["type"]["type"] == "string"
    assert attributes["type"]["enum"] == BLOCK_TYPES
    assert attributes["type"]["default"] in BLOCK_TYPES
    assert attributes["limit"] == {"type": "integer", "default": 0}  # 0: the dashboard's item count
    assert attributes["title"] == {"type": "string", "default": ""}
    assert block["render"] == "file:./render.php"
    for field in ("render", "editorScript"):
        if field in block:
            assert (BLOCK_DIR / block[field].removeprefix("file:./")).is_file(), field
    if "editorScript" in block:
        # register_block_type() reads the script's dependencies from <name>.asset.php.
        asset = BLOCK_DIR / block["editorScript"].removeprefix("file:./").replace(".js", ".asset.php")
        assert asset.is_file()
        editor = source(BLOCK_DIR / block["editorScript"].removeprefix("file:./"))
        assert "registerBlockType( 'basketry/recommendations'" in editor
        assert "=>" not in editor and not re.search(r"<[A-Za-z]", editor), "no build step: no JSX or arrow functions"


# --- WordPress coding conventions ------------------------------------------------------------------


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda path: str(path.relative_to(PLUGIN)))
def test_php_files_guard_direct_access_and_indent_with_tabs(path):
    text = source(path)
    guard = "WP_UNINSTALL_PLUGIN" if path.name == "uninstall.php" else "ABSPATH"
    assert re.search(rf"defined\(\s*'{guard}'\s*\)", text), f"{path.name} does not check {guard}"
    for number, line in enumerate(text.splitlines(), 1):
        assert not re.match(r"^ +(?!\*)\S", line), f"{path.name}:{number} is indented with spaces"


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda path: str(path.relative_to(PLUGIN)))
def test_output_is_escaped(path):
    code = without_comments(source(path))
    assert not re.search(r"(?<![\w>:])_e\(", code), "_e() prints unescaped; use esc_html_e()"
    assert not re.search(r"echo\s+\$", code), "echo of a raw variable"
    assert not re.search(r"<\?=", code), "short echo tags"
    for match in re.finditer(r"\b(echo|print)\b\s*", code):
        statement = statement_after(code, match.end())
        for piece in top_level_split(statement, ".,"):
            assert is_safe_output(piece), f"{path.name}: {match.group(1)} {statement.strip()!r} prints {piece!r}"
    for match in re.finditer(r"(?<![\w>:])printf\s*\(", code):
        call = statement_after(code, match.end() - 1).strip()
        assert call.startswith("(") and call.endswith(")"), call
        arguments = top_level_split(call[1:-1], ",")
        for argument in arguments[1:]:
            assert is_safe_output(argument), f"{path.name}: printf argument {argument!r} is not escaped"


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda path: str(path.relative_to(PLUGIN)))
def test_strings_use_the_basketry_text_domain(path):
    domains = set(I18N_CALL_RE.findall(without_comments(source(path))))
    assert domains <= {"basketry"}, f"{path.name} uses text domains {domains}"


def test_admin_post_handlers_check_nonce_and_capability():
    handlers = []
    for path in PHP_FILES:
        code = without_comments(source(path))
        assert "admin_post_nopriv_" not in code, f"{path.name}: logged-out admin-post handler"
        for match in re.finditer(r"add_action\(\s*'admin_post_[^,]+,\s*array\(\s*\$this\s*,\s*'(\w+)'", code):
            body = function_body(code, match.group(1))
            handlers.append(match.group(1))
            assert "current_user_can(" in body, f"{match.group(1)} does not check a capability"
            assert "check_admin_referer(" in body or "wp_verify_nonce(" in body, f"{match.group(1)} checks no nonce"
            capability = re.search(r"current_user_can\(\s*([^)]+?)\s*\)", body).group(1)
            assert capability in ("'manage_woocommerce'", "self::CAPABILITY"), capability
        if "$_POST" in code:
            assert "check_admin_referer(" in code or "wp_verify_nonce(" in code, f"{path.name} reads $_POST"
        for form in re.findall(r'<form[^>]*method="post".*?</form>', code, re.DOTALL | re.IGNORECASE):
            assert "wp_nonce_field(" in form or "settings_fields(" in form, "a POST form without a nonce"
    assert {"handle_connect", "handle_dashboard"} <= set(handlers), handlers
    admin = source(PLUGIN / "includes" / "class-basketry-admin.php")
    # The settings form goes through options.php, which otherwise demands manage_options.
    assert "option_page_capability_" in admin


def test_uninstall_disconnects_and_deletes_every_basketry_option_and_nothing_else():
    code = without_comments(source(PLUGIN / "uninstall.php"))
    assert re.search(r"if\s*\(\s*!\s*defined\(\s*'WP_UNINSTALL_PLUGIN'\s*\)\s*\)\s*\{\s*exit;", code)
    assert "Basketry_Lifecycle::uninstall()" in code
    settings = source(SETTINGS_FILE)
    declared = set(re.findall(r"const OPTION_\w+\s*=\s*'(basketry_[a-z_]+)'", settings))
    assert declared == {
        "basketry_backend_url",
        "basketry_plugin_key",
        "basketry_require_consent",
        "basketry_replace_related",
        "basketry_key_id",
        "basketry_paused_webhooks",
    }
    listed = function_body(without_comments(settings), "option_names")
    assert set(re.findall(r"self::(OPTION_\w+)", listed)) == set(re.findall(r"const (OPTION_\w+)", settings))
    lifecycle = without_comments(source(PLUGIN / "includes" / "class-basketry-lifecycle.php"))
    uninstall = function_body(lifecycle, "uninstall")
    assert "Basketry_Settings::option_names()" in uninstall and "delete_option(" in uninstall
    assert "/api/plugin/v1/uninstall" in uninstall
    assert "delete_webhooks()" in uninstall and "revoke_keys(" in uninstall
    # Only Basketry's rows of WooCommerce's tables; never orders, their meta or a table.
    for forbidden in ("$wpdb", "delete_post_meta", "wc_delete_order_item_meta", "DROP TABLE"):
        assert forbidden not in code
    for forbidden in ("delete_post_meta", "wc_delete_order_item_meta", "DROP TABLE", "TRUNCATE"):
        assert forbidden not in lifecycle


def test_deactivation_pauses_and_activation_resumes():
    code = without_comments(source(MAIN_FILE))
    assert "register_deactivation_hook( __FILE__, array( 'Basketry_Lifecycle', 'deactivate' ) )" in code
    assert "register_activation_hook( __FILE__, array( 'Basketry_Lifecycle', 'activate' ) )" in code
    lifecycle = without_comments(source(PLUGIN / "includes" / "class-basketry-lifecycle.php"))
    assert "'paused'" in function_body(lifecycle, "deactivate") and "/api/plugin/v1/pause" in lifecycle
    assert "'active'" in function_body(lifecycle, "activate") and "/api/plugin/v1/resume" in lifecycle


def test_the_order_screen_hides_the_attribution_meta():
    code = without_comments(source(STOREFRONT_FILE))
    # WooCommerce's order screen calls get_all_formatted_meta_data( '' ): a leading "_" alone does not hide it.
    assert "add_filter( 'woocommerce_hidden_order_itemmeta', array( $this, 'hide_item_meta' ) )" in code
    assert "self::ITEM_KEY" in function_body(code, "hide_item_meta")


def test_connect_refuses_a_plain_http_backend_before_leaving_for_woocommerce():
    code = without_comments(source(PLUGIN / "includes" / "class-basketry-connect.php"))
    body = function_body(code, "handle_connect")
    assert body.index("backend_is_https()") < body.index("start_connect(")
    assert "https" in source(PLUGIN / "readme.txt").split("== Installation ==")[1].split("==")[0]


def test_feature_compatibility_and_woocommerce_guard():
    code = without_comments(source(MAIN_FILE))
    assert "'before_woocommerce_init'" in code
    assert "class_exists( '\\Automattic\\WooCommerce\\Utilities\\FeaturesUtil' )" in code
    for feature in ("custom_order_tables", "cart_checkout_blocks"):
        assert re.search(rf"declare_compatibility\(\s*'{feature}',\s*BASKETRY_FILE,\s*true\s*\)", code)
    assert "class_exists( 'WooCommerce' )" in code and "admin_notices" in code


def test_storefront_hooks_and_script():
    code = without_comments(source(STOREFRONT_FILE))
    for pattern in (
        r"'woocommerce_after_single_product_summary',\s*array\(\s*\$this,\s*'render_bought_together'\s*\),\s*19",
        r"'woocommerce_after_single_product_summary',\s*array\(\s*\$this,\s*'render_related'\s*\),\s*21",
        r"remove_action\(\s*'woocommerce_after_single_product_summary',\s*'woocommerce_output_related_products',\s*20",
        r"'woocommerce_after_cart_table'",
        r"'render_block_woocommerce/cart'",
        r"'woocommerce_add_cart_item_data'",
        r"'woocommerce_checkout_create_order_line_item'",
        r"'script_loader_tag'",
        r"'strategy'\s*=>\s*'defer'",
        r"'in_footer'\s*=>\s*true",
        r"'/static/basketry/widget\.js'",
        r"wp_add_inline_script\((?:(?!wp_add_inline_script).)*?'before'\s*\)",
        r"wp_has_consent\( \"statistics\" \)",
        r"data-consent=\"granted\"",
        r"'data-platform'\s*=>\s*'woocommerce'",
        r"'data-cart-url'\s*=>\s*home_url\(\s*'/'\s*\)",
        r"'min-height:'",
    ):
        assert re.search(pattern, code, re.DOTALL), pattern
    assert re.search(r"const TYPES\s*=\s*array\(\s*'related',\s*'bought_together',\s*'cart',\s*'personal'\s*\)", code)


def test_placeholders_use_attributes_the_widget_reads():
    widget = source(WIDGET_JS)
    code = source(STOREFRONT_FILE)
    allowed = function_body(code, "allowed_html")
    attributes = re.findall(r"'data-([a-z-]+)'\s*=>\s*true", allowed)
    expected = {
        "basketry",
        "shop",
        "platform",
        "cart-url",
        "product-id",
        "cart",
        "limit",
        "title",
        "customer-token",
        "page-token",
    }
    assert expected <= set(attributes)
    for attribute in attributes:
        camel = re.sub(r"-([a-z])", lambda match: match.group(1).upper(), attribute)
        assert f"dataset.{camel}" in widget, f"the widget never reads data-{attribute}"
    # Every text the widget looks up in window.BasketryLabels is provided, translated.
    titles = re.search(r"var TITLES = \{(.*?)\};", widget).group(1)
    wanted = set(re.findall(r'block_text\("(\w+)"', widget)) | set(re.findall(r"(\w+): \"", titles))
    labels = set(re.findall(r"'(\w+)'\s*=>\s*__\(", function_body(code, "labels")))
    assert wanted <= labels, wanted - labels


# --- signing, end to end against the backend -----------------------------------------------------

SIGNING_SCRIPT = """<?php
define( 'ABSPATH', __DIR__ . '/' );
require %(signing)s;
$in  = json_decode( stream_get_contents( STDIN ), true );
$out = array(
	'signatures' => array(),
	'tokens'     => array(),
	'domains'    => array(),
	'headers'    => Basketry_Signing::request_headers(
		$in['key'], $in['shop'], 1700000000, 'GET', '/api/plugin/v1/status', ''
	),
	'keys'       => array( Basketry_Signing::generate_key(), Basketry_Signing::generate_key() ),
	'valid'      => array( Basketry_Signing::is_valid_key( $in['key'] ), Basketry_Signing::is_valid_key( 'xyz' ) ),
);
foreach ( $in['requests'] as $r ) {
	$out['signatures'][] = Basketry_Signing::request_signature( $in['key'], $r[0], $r[1], $r[2], $r[3] );
}
foreach ( $in['tokens'] as $t ) {
	$out['tokens'][] = Basketry_Signing::customer_token( $in['key'], $t[0], $t[1], $t[2] );
}
foreach ( $in['urls'] as $url ) {
	$out['domains'][] = Basketry_Signing::shop_domain( $url );
}
$out['page_tokens'] = array();
foreach ( $in['page_tokens'] as $p ) {
	$out['page_tokens'][] = Basketry_Signing::page_token( $in['key'], $p[0], $p[1], $p[2] );
}
$out['page_nonces'] = array( Basketry_Signing::page_nonce(), Basketry_Signing::page_nonce() );
$out['page_ttl']    = Basketry_Signing::PAGE_TOKEN_TTL;
echo json_encode( $out );
"""

REQUESTS = [
    (1700000000, "GET", "/api/plugin/v1/status", ""),
    (1700000001, "post", "/api/plugin/v1/privacy/export", '{"customer_id":"42"}'),
    (1700000002, "POST", "/api/plugin/v1/privacy/erase", '{"customer_id":"7","note":"d\\u00e9j\\u00e0 vu"}'),
    (1700000003, "POST", "/basketry/api/plugin/v1/dashboard-link?x=1&y=%2F", "{}"),
]
TOKENS = [(SHOP, 42, 1700003600), ("127.0.0.1:8080", 1, 1700000000), (SHOP, 123456789, 9999999999)]
PAGE_TOKENS = [(SHOP, 1700007200, "0123456789abcdef"), ("127.0.0.1:8080", 1700000000, "ffffffffffffffff")]
URLS = {
    "https://Shop.Example.com/": "shop.example.com",
    "https://shop.example.com": "shop.example.com",
    "https://shop.example.com:443/store": "shop.example.com",
    "http://127.0.0.1:8080/": "127.0.0.1:8080",
    "http://localhost:80": "localhost",
    "https://shop.example.com:8443/": "shop.example.com:8443",
    "http://shop.example.com:443/": "shop.example.com:443",
    "not a url": "",
}


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("signing")
    payload = {
        "key": KEY,
        "shop": SHOP,
        "requests": REQUESTS,
        "tokens": TOKENS,
        "urls": list(URLS),
        "page_tokens": PAGE_TOKENS,
    }
    output = run_php(SIGNING_SCRIPT % {"signing": repr(str(SIGNING_FILE))}, tmp_path, json.dumps(payload))
    return json.loads(output)


def test_request_signatures_match_the_backend(signed):
    from integrations.woocommerce.views import plugin_signature

    for (timestamp, method, path, body), signature in zip(REQUESTS, signed["signatures"], strict=True):
        message = f"{timestamp}\n{method.upper()}\n{path}\n{body}".encode()
        assert signature == hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()
        backend = plugin_signature(key=KEY, timestamp=str(timestamp), method=method, path=path, body=body.encode())
        assert signature == backend


def test_request_headers(signed):
    headers = signed["headers"]
    assert set(headers) == {"X-Basketry-Shop", "X-Basketry-Timestamp", "X-Basketry-Signature"}
    assert headers["X-Basketry-Shop"] == SHOP
    assert headers["X-Basketry-Timestamp"] == "1700000000"
    expected = hmac.new(KEY.encode(), b"1700000000\nGET\n/api/plugin/v1/status\n", hashlib.sha256).hexdigest()
    assert headers["X-Basketry-Signature"] == expected


def test_customer_tokens_match_the_backend(signed):
    from recommendations.storefront.identity import customer_token_sign, customer_token_verify

    for (shop, user_id, expires), token in zip(TOKENS, signed["tokens"], strict=True):
        assert TOKEN_RE.match(token), token
        mac = hmac.new(KEY.encode(), f"v1|{shop}|{user_id}|{expires}".encode(), hashlib.sha256).hexdigest()
        assert token == f"v1.{user_id}.{expires}.{mac}"
        assert token == customer_token_sign(key=KEY, domain=shop, customer_id=str(user_id), expires=expires)
    first = signed["tokens"][0]
    assert customer_token_verify(key=KEY, domain=SHOP, token=first, now=1700000000) == "42"


def test_page_tokens_match_the_backend(signed):
    from recommendations.storefront.page_tokens import (
        PAGE_TOKEN_LIFETIME_SECONDS,
        PageTokenInvalid,
        page_token_sign,
        page_token_verify,
    )

    for (shop, expires, nonce), token in zip(PAGE_TOKENS, signed["page_tokens"], strict=True):
        mac = hmac.new(KEY.encode(), f"page|v1|{shop}|{expires}|{nonce}".encode(), hashlib.sha256).hexdigest()
        assert token == f"v1.{expires}.{nonce}.{mac}"
        assert token == page_token_sign(key=KEY, domain=shop, expires=expires, nonce=nonce)
    first = signed["page_tokens"][0]
    assert page_token_verify(key=KEY, domain=SHOP, token=first, now=1700000000) == "0123456789abcdef"
    with pytest.raises(PageTokenInvalid):
        page_token_verify(key=KEY, domain="other.example.com", token=first, now=1700000000)
    with pytest.raises(PageTokenInvalid):
        page_token_verify(key=KEY, domain=SHOP, token=first, now=1700007200 + 3600)
    # What the plugin promises is what the backend accepts; its nonces are fresh and well formed.
    assert signed["page_ttl"] == PAGE_TOKEN_LIFETIME_SECONDS
    one, two = signed["page_nonces"]
    assert re.fullmatch(r"[0-9a-f]{16}", one) and one != two
    page_token_sign(key=KEY, domain=SHOP, expires=1, nonce=one)


def test_shop_domain_and_keys(signed):
    assert signed["domains"] == list(URLS.values())
    first, second = signed["keys"]
    assert re.fullmatch(r"[0-9a-f]{64}", first) and re.fullmatch(r"[0-9a-f]{64}", second)
    assert first != second
    assert signed["valid"] == [True, False]


def test_signing_file_needs_no_wordpress():
    code = without_comments(source(SIGNING_FILE))
    calls = set(re.findall(r"(?<![\w>:$])([a-z_][a-z0-9_]*)\s*\(", code))
    calls -= set(re.findall(r"function\s+(\w+)", code))
    language = {"array", "defined", "empty", "exit", "function", "if", "isset"}
    php_builtins = {
        "bin2hex",
        "hash_hmac",
        "is_array",
        "is_string",
        "parse_url",
        "preg_match",
        "random_bytes",
        "strtolower",
        "strtoupper",
    }
    assert calls <= language | php_builtins, calls - language - php_builtins


EXPERIMENT_SCRIPT = r"""<?php
define('ABSPATH', '/');
function sanitize_text_field($v) { return trim(strip_tags($v)); }
function wp_unslash($v) { return stripslashes($v); }
class FakeOrder {
    public $meta = array(); public $saved = 0;
    function update_meta_data($k, $v) { $this->meta[$k] = $v; }
    function save() { $this->saved++; }
}
require %(storefront)s;
$storefront = (new ReflectionClass('Basketry_Storefront'))->newInstanceWithoutConstructor();
$out = array();
foreach (json_decode(stream_get_contents(STDIN), true) as $cookie) {
    unset($_COOKIE['basketry_experiment']);
    if ($cookie !== null) { $_COOKIE['basketry_experiment'] = $cookie; }
    $classic = new FakeOrder();
    $storefront->tag_order_experiment($classic);
    $block = new FakeOrder();
    $storefront->tag_block_order_experiment($block);
    $out[] = array('classic' => (object) $classic->meta, 'block' => (object) $block->meta, 'saved' => $block->saved);
}
echo json_encode($out);
"""


def test_checkout_copies_a_well_formed_ab_test_mark_into_the_order(tmp_path):
    """The widget keeps the A/B test mark in a cookie; the order gets it as meta, which the
    backend's order sync reads. Anything malformed is left out."""
    from shops.records import experiment_mark

    storefront = PLUGIN / "includes" / "class-basketry-storefront.php"
    cookies = ["12:B", "12:Z", "x<b>:A", None, "7:A; admin=1"]
    output = run_php(EXPERIMENT_SCRIPT % {"storefront": repr(str(storefront))}, tmp_path, json.dumps(cookies))
    orders = json.loads(output)
    marked = {"_basketry_experiment": "12:B"}
    # The classic checkout and the Checkout block alike; only the block's hook saves the order itself.
    assert orders[0] == {"classic": marked, "block": marked, "saved": 1}
    assert all(order == {"classic": {}, "block": {}, "saved": 0} for order in orders[1:])
    pairs = [{"key": key, "value": value} for key, value in orders[0]["classic"].items()]
    assert experiment_mark(pairs, key_field="key", value_field="value") == "12:B"


PLACEHOLDER_SCRIPT = r"""<?php
define('ABSPATH', '/');
define('BASKETRY_VERSION', 'test');
require %(signing)s;
final class Basketry_Settings {
    static function has_plugin_key() { return true; }
    static function plugin_key() { return %(key)s; }
    static function shop_domain() { return %(shop)s; }
    static function backend_url() { return 'https://basketry.example'; }
    static function requires_consent() { return true; }
}
function wp_parse_args($args, $defaults) { return array_merge($defaults, $args); }
function home_url($path) { return 'https://shop.example.com' . $path; }
function absint($v) { return abs((int) $v); }
function sanitize_text_field($v) { return trim(strip_tags((string) $v)); }
function apply_filters($hook, $value) { return $value; }
function esc_attr($v) { return htmlspecialchars((string) $v, ENT_QUOTES); }
function wp_script_is() { return true; }
require %(storefront)s;
$page = (new ReflectionClass('Basketry_Storefront'))->newInstanceWithoutConstructor();
$next = (new ReflectionClass('Basketry_Storefront'))->newInstanceWithoutConstructor();
echo json_encode(array(
    'first' => $page->placeholder('related', array('product_id' => 5)),
    'second' => $page->placeholder('bought_together', array('product_id' => 5)),
    'next_page' => $next->placeholder('related', array('product_id' => 5)),
    'now' => time(),
));
"""


def test_every_placeholder_of_a_page_carries_one_page_token_the_backend_accepts(tmp_path):
    """The widget posts a WooCommerce page's events with the token the plugin signed into it;
    the blocks of one page share it, the next page gets its own."""
    from recommendations.storefront.page_tokens import PAGE_TOKEN_LIFETIME_SECONDS, page_token_verify

    script = PLACEHOLDER_SCRIPT % {
        "signing": repr(str(SIGNING_FILE)),
        "storefront": repr(str(STOREFRONT_FILE)),
        "key": repr(KEY),
        "shop": repr(SHOP),
    }
    rendered = json.loads(run_php(script, tmp_path))
    tokens = {
        name: re.search(r'data-page-token="([^"]+)"', html).group(1) for name, html in rendered.items() if name != "now"
    }
    assert tokens["first"] == tokens["second"] != tokens["next_page"]
    assert page_token_verify(key=KEY, domain=SHOP, token=tokens["first"], now=rendered["now"])
    expires = int(tokens["first"].split(".")[1])
    assert 0 <= rendered["now"] + PAGE_TOKEN_LIFETIME_SECONDS - expires <= 1  # signed for two hours
    with pytest.raises(Exception, match="not signed for this shop"):
        page_token_verify(key=KEY, domain="other.example.com", token=tokens["first"], now=rendered["now"])
