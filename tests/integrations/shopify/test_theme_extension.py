"""Static checks of the Shopify app configuration and the Basketry theme app extension.

Shopify only validates these files on `shopify app deploy`, against a real app; these tests catch
the same mistakes (bad schema JSON, missing translations, proxy paths that don't match the
Django routes, third-party requests) without the CLI or a network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve

from integrations.shopify import theme_assets
from integrations.shopify.theme import (
    APP_BLOCK_TEMPLATES,
    APP_EMBED_HANDLES,
    theme_editor_block_link,
    theme_editor_embed_link,
)

REPO = Path(__file__).resolve().parents[3]
APP_TOML = REPO / "shopify.app.toml"
EXTENSION = REPO / "extensions" / "basketry-theme"
BLOCKS_DIR = EXTENSION / "blocks"
ASSETS_DIR = EXTENSION / "assets"
LOCALES_DIR = EXTENSION / "locales"
WIDGET_JS = REPO / "recommendations" / "static" / "basketry" / "widget.js"
WIDGET_ASSET = ASSETS_DIR / "basketry-widget.js"
# What Shopify's CDN serves the extension's widget from: the Liquid filter, never a fixed host.
WIDGET_ASSET_SRC = "{{ 'basketry-widget.js' | asset_url }}"

WEBHOOK_URI = "/webhooks/shopify"
EXPECTED_TOPICS = {
    "app/uninstalled",
    "app/scopes_update",
    "products/create",
    "products/update",
    "products/delete",
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "bulk_operations/finish",
    "app_subscriptions/update",
}
COMPLIANCE_TOPICS = {"customers/data_request", "customers/redact", "shop/redact"}

# Block file -> the widget's list type it must ask for.
BLOCK_TYPES = {
    "related-products": "related",
    "bought-together": "bought_together",
    "cart-recommendations": "cart",
}
COUNT_DEFAULTS = {"related-products": 8, "bought-together": 4, "cart-recommendations": 4}
EMBED = "basketry-embed"

SCHEMA_RE = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.DOTALL)
LIQUID_COMMENT_RE = re.compile(r"{%-?\s*comment\s*-?%}.*?{%-?\s*endcomment\s*-?%}", re.DOTALL)
CSS_COMMENT_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
STOREFRONT_T_RE = re.compile(r"""(['"])([A-Za-z0-9_.-]+)\1\s*\|\s*t\b""")
# Absolute or protocol-relative URLs: either would make the shopper's browser call another host.
URL_RE = re.compile(r"https?://|[\"'(=]\s*//[A-Za-z0-9]")
SCRIPT_TAG_RE = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


# --- helpers ------------------------------------------------------------------------------------


def _app_config() -> dict:
    with APP_TOML.open("rb") as handle:
        return tomllib.load(handle)


def _block_files() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(BLOCKS_DIR.glob("*.liquid"))}


def _schema(source: str) -> dict:
    found = SCHEMA_RE.findall(source)
    assert len(found) == 1, f"expected exactly one {{% schema %}} tag, found {len(found)}"
    return json.loads(found[0])


def _markup(source: str) -> str:
    """The block without its schema and Liquid comments: what can reach the storefront."""
    return LIQUID_COMMENT_RE.sub("", SCHEMA_RE.sub("", source))


def _locale(name: str) -> dict:
    return json.loads((LOCALES_DIR / name).read_text(encoding="utf-8"))


def _lookup(tree: dict, dotted: str) -> str | None:
    node: object = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) and node.strip() else None


def _translation_keys(value: object) -> list[str]:
    """Every "t:..." string anywhere inside a schema."""
    if isinstance(value, str):
        return [value[2:]] if value.startswith("t:") else []
    if isinstance(value, dict):
        return [key for item in value.values() for key in _translation_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in _translation_keys(item)]
    return []


def _leaf_paths(tree: dict, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths |= _leaf_paths(value, f"{path}.") if isinstance(value, dict) else {path}
    return paths


def _attributes(tag_body: str) -> dict[str, str | None]:
    return {
        match.group(1).lower(): match.group(3)
        for match in re.finditer(r"""([\w:-]+)(\s*=\s*(?:"([^"]*)"|'([^']*)'))?""", tag_body)
    }


def _placeholder(source: str) -> dict[str, str | None]:
    tags = re.findall(r"<div\b([^>]*\bdata-basketry=[^>]*)>", _markup(source), re.DOTALL)
    assert len(tags) == 1, f"expected one data-basketry placeholder, found {len(tags)}"
    return _attributes(tags[0])


# --- shopify.app.toml ---------------------------------------------------------------------------


def test_every_webhook_topic_goes_to_the_one_endpoint():
    subscriptions = _app_config()["webhooks"]["subscriptions"]
    topics = [topic for sub in subscriptions for topic in sub.get("topics", [])]

    assert sorted(topics) == sorted(EXPECTED_TOPICS), "each topic subscribed exactly once"
    assert all(sub.get("uri") == WEBHOOK_URI for sub in subscriptions)


def test_webhook_endpoint_and_auth_callback_are_django_routes():
    config = _app_config()
    paths = {WEBHOOK_URI, *(urlsplit(url).path for url in config["auth"]["redirect_urls"])}

    for path in sorted(paths):
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{path} from shopify.app.toml is not a Django route")


def test_compliance_topics_are_declared():
    subscriptions = _app_config()["webhooks"]["subscriptions"]
    compliance = [topic for sub in subscriptions for topic in sub.get("compliance_topics", [])]

    assert sorted(compliance) == sorted(COMPLIANCE_TOPICS)
    assert all(sub["uri"] == WEBHOOK_URI for sub in subscriptions if "compliance_topics" in sub)


def test_webhook_api_version_matches_the_admin_api_version():
    assert _app_config()["webhooks"]["api_version"] == settings.SHOPIFY_API_VERSION == "2026-10"


def test_scopes_match_settings_and_use_managed_install():
    config = _app_config()
    scopes = config["access_scopes"]

    assert scopes["scopes"] == "read_products,read_orders,read_customers,write_app_proxy"
    assert set(scopes["scopes"].split(",")) == set(settings.SHOPIFY_SCOPES.split(","))
    assert scopes["optional_scopes"] == ["read_all_orders"]
    assert set(scopes["optional_scopes"]) == set(filter(None, settings.SHOPIFY_OPTIONAL_SCOPES.split(",")))
    assert scopes["use_legacy_install_flow"] is False
    assert config["embedded"] is True


def test_app_identity_values_are_placeholders_on_one_host():
    config = _app_config()

    assert config["name"] == "Basketry"
    assert re.fullmatch(r"0{32}", config["client_id"]), "the shipped client_id must stay an obvious placeholder"
    assert config["application_url"] == "https://basketry.example.com"
    assert config["auth"]["redirect_urls"] == ["https://basketry.example.com/shopify/auth/callback"]
    assert config["build"]["automatically_update_urls_on_dev"] is True
    assert config["pos"]["embedded"] is False


def test_app_proxy_matches_the_django_routes():
    proxy = _app_config()["app_proxy"]

    assert proxy == {"url": "/proxy", "subpath": "basketry", "prefix": "apps"}
    assert proxy["prefix"] in {"apps", "a", "community", "tools"}
    # Shopify forwards /{prefix}/{subpath}/<rest> to {application_url}{url}/<rest>.
    try:
        resolve(f"{proxy['url']}/recommendations")
    except Resolver404:
        pytest.fail(f"{proxy['url']}/recommendations is not a Django route, so the proxied lists would 404")


# --- theme app extension: structure and schemas -------------------------------------------------


def test_extension_config_declares_a_theme_extension():
    with (EXTENSION / "shopify.extension.toml").open("rb") as handle:
        config = tomllib.load(handle)

    assert config["type"] == "theme"
    assert config["handle"] == "basketry-theme"
    assert config["name"]


def test_deep_link_handles_are_the_block_files():
    blocks = _block_files()

    assert set(blocks) == set(APP_BLOCK_TEMPLATES) | APP_EMBED_HANDLES
    embeds = {handle for handle, source in blocks.items() if _schema(source)["target"] in {"head", "body"}}
    assert embeds == APP_EMBED_HANDLES


@pytest.mark.parametrize("handle", sorted(_block_files()))
def test_block_schema_is_valid(handle):
    schema = _schema(_block_files()[handle])
    names = [schema["name"]]
    if schema["name"].startswith("t:"):
        names = [_lookup(_locale(f), schema["name"][2:]) or "" for f in ("en.default.schema.json", "fr.schema.json")]

    assert all(0 < len(name) <= 25 for name in names), f"block name must be 1-25 characters: {names}"
    assert schema["target"] in {"section", "head", "body"}
    ids = [setting["id"] for setting in schema.get("settings", []) if "id" in setting]
    assert len(ids) == len(set(ids)), f"duplicate setting ids: {ids}"
    for asset in filter(None, [schema.get("stylesheet"), schema.get("javascript")]):
        assert (ASSETS_DIR / asset).is_file(), f"schema refers to missing asset {asset}"


@pytest.mark.parametrize("handle", sorted(_block_files()))
def test_range_and_select_settings_are_consistent(handle):
    for setting in _schema(_block_files()[handle]).get("settings", []):
        if setting["type"] == "range":
            low, high, step, default = setting["min"], setting["max"], setting.get("step", 1), setting["default"]
            assert low < high and step > 0, setting["id"]
            assert (high - low) / step <= 101, f"{setting['id']}: Shopify allows at most 101 steps"
            assert low <= default <= high, f"{setting['id']}: default outside the range"
            assert (default - low) % step == 0, f"{setting['id']}: default is not on a step"
            assert len(setting.get("unit", "")) <= 3, f"{setting['id']}: unit longer than 3 characters"
        if setting["type"] == "select":
            values = [option["value"] for option in setting["options"]]
            assert setting["default"] in values, setting["id"]


@pytest.mark.parametrize("handle", sorted(BLOCK_TYPES))
def test_app_block_settings(handle):
    schema = _schema(_block_files()[handle])
    settings_by_id = {setting["id"]: setting for setting in schema["settings"] if "id" in setting}

    assert schema["target"] == "section"
    assert schema["enabled_on"] == {"templates": list(APP_BLOCK_TEMPLATES[handle])}
    assert settings_by_id["title"]["type"] == "text"
    assert settings_by_id["title"]["default"].startswith("t:")
    count = settings_by_id["count"]
    assert (count["type"], count["min"], count["max"], count["default"]) == ("range", 2, 12, COUNT_DEFAULTS[handle])
    layout = settings_by_id["layout"]
    assert layout["type"] == "select"
    assert [option["value"] for option in layout["options"]] == ["grid", "row"]


@pytest.mark.parametrize("handle", sorted(_block_files()))
def test_liquid_only_reads_settings_the_schema_declares(handle):
    source = _block_files()[handle]
    declared = {setting["id"] for setting in _schema(source).get("settings", []) if "id" in setting}
    used = set(re.findall(r"block\.settings\.(\w+)", _markup(source)))

    assert used <= declared, f"undeclared settings: {sorted(used - declared)}"


# --- translations -------------------------------------------------------------------------------


@pytest.mark.parametrize("locale_file", ["en.default.schema.json", "fr.schema.json"])
def test_every_schema_translation_key_resolves(locale_file):
    translations = _locale(locale_file)
    keys = [key for source in _block_files().values() for key in _translation_keys(_schema(source))]

    assert keys, "the schemas use no t: keys at all"
    missing = sorted({key for key in keys if _lookup(translations, key) is None})
    assert not missing, f"{locale_file} lacks {missing}"


@pytest.mark.parametrize("locale_file", ["en.default.json", "fr.json"])
def test_every_storefront_translation_key_resolves(locale_file):
    translations = _locale(locale_file)
    keys = {match.group(2) for source in _block_files().values() for match in STOREFRONT_T_RE.finditer(source)}

    assert keys, "the blocks translate no storefront strings at all"
    missing = sorted(key for key in keys if _lookup(translations, key) is None)
    assert not missing, f"{locale_file} lacks {missing}"


@pytest.mark.parametrize(
    ("default", "other"), [("en.default.json", "fr.json"), ("en.default.schema.json", "fr.schema.json")]
)
def test_second_language_translates_every_string(default, other):
    assert _leaf_paths(_locale(other)) == _leaf_paths(_locale(default))


# --- storefront output --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    sorted([*BLOCKS_DIR.glob("*.liquid"), *ASSETS_DIR.glob("*")]),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_no_request_leaves_the_storefront_origin(path):
    text = path.read_text(encoding="utf-8")
    text = CSS_COMMENT_RE.sub("", text) if path.suffix == ".css" else _markup(text)

    assert not URL_RE.search(text), f"{path.name} points at another host: {URL_RE.search(text).group(0)!r}"
    for tag in SCRIPT_TAG_RE.findall(text):
        src = _attributes(tag).get("src")
        # Scripts come from the extension's own assets on Shopify's CDN (Theme Check's RemoteAsset).
        assert src is None or re.fullmatch(r"\{\{ '[\w.-]+\.js' \| asset_url \}\}", src), f"{path.name} loads {src!r}"


def test_embed_loads_the_widget_from_the_extension_and_its_data_through_the_app_proxy():
    source = _block_files()[EMBED]
    proxy = _app_config()["app_proxy"]
    base = f"/{proxy['prefix']}/{proxy['subpath']}"
    scripts = [_attributes(tag) for tag in SCRIPT_TAG_RE.findall(_markup(source))]
    widget = [attrs for attrs in scripts if attrs.get("src")]

    assert _schema(source)["target"] == "body"
    assert len(widget) == 1, "the widget must be loaded exactly once"
    assert widget[0]["src"] == WIDGET_ASSET_SRC
    assert WIDGET_ASSET.is_file()
    assert "defer" in widget[0], "a parser-blocking widget would delay the page"
    # The script lives on Shopify's CDN; lists and events stay on the store's own App Proxy.
    assert widget[0]["data-api"] == base == "/apps/basketry"
    assert widget[0]["data-proxy"] == "1"


def test_the_extensions_widget_is_the_file_the_backend_serves(client):
    shipped = WIDGET_ASSET.read_bytes()

    assert shipped == WIDGET_JS.read_bytes(), "run `manage.py theme_assets` after changing widget.js"
    assert [state.current for state in theme_assets.theme_assets_state()] == [True]
    # Older embeds and the WordPress plugin load the backend's copy: the same bytes.
    assert client.get("/proxy/widget.js").content == shipped


def test_theme_assets_command_rewrites_a_stale_copy_and_check_fails_until_then(tmp_path, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setattr(theme_assets, "EXTENSION_ASSETS", tmp_path)
    (tmp_path / "basketry-widget.js").write_text("/* an older widget */", encoding="utf-8")

    with pytest.raises(CommandError, match=r"out of date: basketry-widget\.js"):
        call_command("theme_assets", "--check")
    assert (tmp_path / "basketry-widget.js").read_text(encoding="utf-8") == "/* an older widget */"

    call_command("theme_assets")
    assert (tmp_path / "basketry-widget.js").read_bytes() == WIDGET_JS.read_bytes()
    call_command("theme_assets", "--check")


def _requires_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


def test_theme_check_reports_no_offenses():
    """Shopify's Theme Check, pinned and installed from npm by `make theme-check` into var/npm/."""
    missing = [tool for tool in ("make", "npm", "node") if shutil.which(tool) is None]
    if missing:
        reason = f"Theme Check needs {', '.join(missing)}"
        if _requires_services():
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    run = subprocess.run(
        ["make", "--no-print-directory", "-s", "theme-check"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    if run.returncode != 0 and "offense" not in run.stdout:
        reason = f"Theme Check could not be installed or started: {(run.stderr or run.stdout).strip()[-500:]}"
        if _requires_services():
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)

    assert run.returncode == 0, run.stdout
    assert "basketry-theme: 0 offense(s)" in run.stdout


def test_embed_labels_cover_every_label_the_widget_reads():
    widget = WIDGET_JS.read_text(encoding="utf-8")
    titles = re.search(r"var TITLES = \{([^}]*)\}", widget)
    assert titles, "widget.js no longer declares TITLES"
    expected = set(re.findall(r"(\w+):", titles.group(1))) | set(re.findall(r'block_text\("(\w+)"', widget))

    labels = re.search(r"window\.BasketryLabels = \{(.*?)\};", _markup(_block_files()[EMBED]), re.DOTALL)
    assert labels, "the embed does not define window.BasketryLabels"
    entries = dict(re.findall(r"^\s*(\w+):\s*(.+?),?\s*$", labels.group(1), re.MULTILINE))

    assert set(entries) == expected
    for key, expression in entries.items():
        assert STOREFRONT_T_RE.search(expression), f"label {key!r} is not translated"
        assert expression.rstrip(",").endswith("| json }}"), f"label {key!r} is not emitted as a JSON string"


@pytest.mark.parametrize("handle", sorted(BLOCK_TYPES))
def test_app_block_prints_the_widget_placeholder(handle):
    source = _block_files()[handle]
    attrs = _placeholder(source)

    assert attrs["data-basketry"] == BLOCK_TYPES[handle]
    assert attrs["data-shop"] == "{{ shop.permanent_domain }}"
    assert attrs["data-limit"] == "{{ block.settings.count }}"
    assert attrs["data-layout"] == "{{ block.settings.layout }}"
    assert attrs["data-title"] and "escape" in attrs["data-title"]
    assert attrs["data-platform"] == "shopify"
    assert attrs["data-cart-url"] == "{{ routes.cart_add_url }}.js"
    assert "{{ block.shopify_attributes }}" in _markup(source), "the theme editor needs the block attributes"
    style = attrs["style"] or ""
    assert "--basketry-min-height: {{ block.settings.reserved_height }}px" in style
    assert "min-height: var(--basketry-min-height)" in style


@pytest.mark.parametrize("handle", sorted(BLOCK_TYPES))
def test_blocks_follow_the_dashboard_unless_the_merchant_says_otherwise(handle):
    source = _block_files()[handle]
    settings_by_id = {s["id"]: s for s in _schema(source)["settings"] if "id" in s}
    assert settings_by_id["use_dashboard"] == {**settings_by_id["use_dashboard"], "type": "checkbox", "default": True}
    unless = r"\{%-? unless block\.settings\.use_dashboard %\}(.*?)\{%-? endunless %\}"
    conditional = re.search(unless, source, re.DOTALL)
    assert conditional, "the theme's own heading, count and layout must be optional"
    assert {"data-limit", "data-title", "data-layout"} <= set(re.findall(r"(data-[a-z-]+)=", conditional.group(1)))
    # The A/B test mark goes to the cart through the store's own (locale-aware) route.
    assert _placeholder(source)["data-cart-update-url"] == "{{ routes.cart_update_url }}.js"


@pytest.mark.parametrize("handle", ["related-products", "bought-together"])
def test_product_blocks_anchor_on_the_product(handle):
    attrs = _placeholder(_block_files()[handle])

    assert attrs["data-product-id"] == "{{ product.id }}"
    assert "data-cart" not in attrs


def test_cart_block_splits_the_cart_into_anchor_and_rest():
    source = _block_files()["cart-recommendations"]
    attrs = _placeholder(source)

    assert re.search(r"assign cart_product_ids = cart\.items \| map: 'product_id' \| uniq", source)
    assert attrs["data-product-id"] == "{{ cart_product_ids | first }}"
    assert re.search(r"assign other_product_ids = cart_product_ids \| slice: 1, \S+ \| join: ','", source)
    assert attrs["data-cart"] == "{{ other_product_ids }}"


# --- deep links ---------------------------------------------------------------------------------

EXTENSION_ID = "1b2c3d4e-0000-4a5b-9c8d-123456789abc"


def test_block_link():
    link = theme_editor_block_link(shop_domain="acme.myshopify.com", extension_id=EXTENSION_ID, block="bought-together")

    assert link == (
        "https://acme.myshopify.com/admin/themes/current/editor"
        f"?template=product&addAppBlockId={EXTENSION_ID}/bought-together&target=newAppsSection"
    )


def test_block_link_for_the_cart_in_the_main_section():
    link = theme_editor_block_link(
        shop_domain="acme-2.myshopify.com",
        extension_id=EXTENSION_ID,
        block="cart-recommendations",
        template="cart",
        target="mainSection",
    )
    parts = urlsplit(link)

    assert (parts.scheme, parts.netloc, parts.path) == ("https", "acme-2.myshopify.com", "/admin/themes/current/editor")
    assert parse_qs(parts.query) == {
        "template": ["cart"],
        "addAppBlockId": [f"{EXTENSION_ID}/cart-recommendations"],
        "target": ["mainSection"],
    }


def test_embed_link():
    link = theme_editor_embed_link(shop_domain="acme.myshopify.com", extension_id=EXTENSION_ID)

    assert link == (
        f"https://acme.myshopify.com/admin/themes/current/editor?context=apps&activateAppId={EXTENSION_ID}/basketry-embed"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shop_domain": "shop.example.com"}, "myshopify"),
        ({"shop_domain": "Acme.myshopify.com"}, "myshopify"),
        ({"shop_domain": "-acme.myshopify.com"}, "myshopify"),
        ({"shop_domain": "evil.com/x.myshopify.com"}, "myshopify"),
        ({"shop_domain": "acme.myshopify.com.evil.com"}, "myshopify"),
        ({"shop_domain": "acme.myshopify.com\n"}, "myshopify"),
        ({"extension_id": ""}, "extension_id"),
        ({"extension_id": "abc&target=x"}, "extension_id"),
        ({"extension_id": "../abc"}, "extension_id"),
        ({"extension_id": f"{EXTENSION_ID}\n"}, "extension_id"),
        ({"block": "basketry-embed"}, "unknown app block"),
        ({"block": "related-products.liquid"}, "unknown app block"),
        ({"template": "collection"}, "unsupported template"),
        ({"template": "cart"}, "only enabled on"),
        ({"target": "sidebar"}, "unsupported target"),
    ],
)
def test_block_link_rejects_bad_input(overrides, message):
    arguments = {"shop_domain": "acme.myshopify.com", "extension_id": EXTENSION_ID, "block": "related-products"}
    arguments.update(overrides)

    with pytest.raises(ValueError, match=message):
        theme_editor_block_link(**arguments)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shop_domain": "acme.com"}, "myshopify"),
        ({"extension_id": "a b"}, "extension_id"),
        ({"handle": "related-products"}, "unknown app embed"),
    ],
)
def test_embed_link_rejects_bad_input(overrides, message):
    arguments = {"shop_domain": "acme.myshopify.com", "extension_id": EXTENSION_ID}
    arguments.update(overrides)

    with pytest.raises(ValueError, match=message):
        theme_editor_embed_link(**arguments)
