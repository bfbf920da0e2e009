"""The OpenAPI 3.0 document of the HTTP API: storefront, App Proxy, webhooks, the WordPress
plugin's API, the admin API, the WooCommerce connect flow and the health probes.

Most of these are plain Django views (the storefront's hot path, the webhook ingresses), which
no schema generator can see, so the document is written here, next to the URL map, from the
same constants the views validate with. `tests/test_openapi.py` fails when a route under
/api/, /proxy/, /webhooks/ or /woocommerce/ is missing from it, and `tests/test_schemathesis.py`
fuzzes every operation against the application.
"""

from __future__ import annotations

import functools

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from integrations.shopify.webhooks import KNOWN_TOPICS, MAX_WEBHOOK_ID
from integrations.woocommerce.connect import WEBHOOK_TOPICS
from recommendations.services.events import BLOCKS, EXPOSURE, MAX_EVENTS_PER_BATCH
from recommendations.storefront.cache import dumps
from recommendations.storefront.views import MAX_CART_ITEMS, MAX_EVENT_BODY_BYTES, MAX_LIMIT, TYPES

SCHEMA_PATH = "/api/schema/openapi.json"

_PRODUCT_ID = r"^[A-Za-z0-9_.\-:/]{1,255}$"
_DOMAIN = r"^[a-z0-9.\-]{1,253}(:[0-9]{1,5})?$"
_VISITOR = r"^[A-Za-z0-9_-]{8,64}$"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(description, _ref("Error"))


def _drf_error(description: str) -> dict:
    return _json(description, _ref("Detail"))


def _query(name: str, description: str, schema: dict, *, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _header(name: str, description: str, schema: dict | None = None, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _object(properties: dict, *, required: tuple[str, ...] = (), extra: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


_STRING = {"type": "string"}
_COUNT = {"type": "integer", "minimum": 0}

# --- parameters shared by the storefront and the App Proxy ---------------------------------------

_LIST_PARAMETERS = [
    _query(
        "product_id",
        "The viewed product's platform id (required unless type=personal).",
        {"type": "string", "pattern": _PRODUCT_ID},
    ),
    _query(
        "cart",
        f"type=cart only: up to {MAX_CART_ITEMS} comma-separated product ids already in the cart.",
        _STRING,
    ),
    _query(
        "limit",
        "How many items at most; the merchant's item count for the block when absent.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    ),
    _query(
        "visitor",
        "The widget's random visitor id (only with the shopper's consent to analytics), for A/B tests.",
        {"type": "string", "pattern": _VISITOR},
    ),
    _query(
        "beside",
        "type=related only: the page also shows the product's bought-together block, whose products "
        "the list then leaves out (filled from further down).",
        {"type": "string", "enum": ["bought_together"]},
    ),
]

_APP_PROXY_PARAMETERS = [
    _query("shop", "The store, as Shopify signed it.", {"type": "string"}, required=True),
    _query("path_prefix", "The proxy's prefix on the store (`/apps/basketry`).", _STRING),
    _query("timestamp", "When Shopify signed the request (unix seconds).", _STRING, required=True),
    _query("logged_in_customer_id", "The logged-in customer Shopify vouches for (empty for guests).", _STRING),
]

_PRIVACY_REQUEST = {
    "id": {"type": "integer"},
    "kind": {"type": "string", "enum": ["data_request", "customer_redact"]},
    "platform_request_id": _STRING,
    "received_at": {"type": "string", "format": "date-time"},
    "completed_at": {"type": "string", "format": "date-time", "nullable": True},
}

_SCHEMAS = {
    "Error": _object({"error": {"type": "string"}}, required=("error",)),
    "Detail": {
        "description": "An error of the plugin and admin APIs (Django REST framework's shape).",
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "Card": _object(
        {
            "product_id": _STRING,
            "title": _STRING,
            "url": _STRING,
            "image_url": _STRING,
            "price": {"type": "string", "description": "Decimal, two places", "pattern": r"^-?[0-9]+\.[0-9]{2}$"},
            "currency": _STRING,
            "explanation": _STRING,
        },
        required=("product_id", "title", "url", "image_url", "price", "currency", "explanation"),
    ),
    "Block": _object(
        {
            "enabled": {"type": "boolean"},
            "title": _STRING,
            "layout": {"type": "string", "enum": ["grid", "carousel", "list"]},
            "accent": _STRING,
            "text": {"type": "string", "nullable": True},
        },
        required=("enabled", "title", "layout", "accent", "text"),
    ),
    "Recommendations": _object(
        {
            "type": {"type": "string", "enum": [*TYPES, "personal"]},
            "fallback": {
                "type": "boolean",
                "description": "True when the list is the shop's best sellers (no list for this product yet).",
            },
            "items": {"type": "array", "items": _ref("Card"), "maxItems": MAX_LIMIT},
            "block": _ref("Block"),
            "experiment": _object(
                {"id": {"type": "integer"}, "arm": {"type": "string", "enum": ["A", "B", "C"]}},
                required=("id", "arm"),
            ),
        },
        required=("type", "fallback", "items", "block"),
    ),
    "Event": {
        "oneOf": [_ref("ProductEvent"), _ref("Exposure")],
        "discriminator": {"propertyName": "type"},
    },
    "ProductEvent": _object(
        {
            "type": {"type": "string", "enum": ["impression", "click", "add_to_cart"]},
            "block": {"type": "string", "enum": sorted(BLOCKS)},
            "product_id": {"type": "string", "pattern": _PRODUCT_ID},
            "anchor_id": {"type": "string", "pattern": _PRODUCT_ID},
        },
        required=("type", "block", "product_id"),
    ),
    "Exposure": {
        **_object(
            {
                "type": {"type": "string", "enum": [EXPOSURE]},
                "block": {"type": "string", "enum": sorted(BLOCKS)},
                "experiment": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "arm": {"type": "string", "enum": ["A", "B", "C"]},
                "visitor": {"type": "string", "pattern": _VISITOR},
            },
            required=("type", "block", "experiment", "arm", "visitor"),
        ),
        "description": "An A/B test's first sight of a visitor; counted only if the server assigned that arm.",
    },
    "EventBatch": _object(
        {
            "shop": {"type": "string", "pattern": _DOMAIN},
            "page_token": {
                "type": "string",
                "description": "`v1.<expires>.<nonce>.<hex HMAC-SHA256(storefront key, page|v1|domain|expires|nonce)>`",
            },
            "events": {"type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": MAX_EVENTS_PER_BATCH},
        },
        required=("shop", "page_token", "events"),
    ),
    "ProxyEventBatch": _object(
        {"events": {"type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": MAX_EVENTS_PER_BATCH}},
        required=("events",),
    ),
    "Stored": _object({"stored": _COUNT}, required=("stored",)),
    "WebhookAnswer": _object({"ok": _STRING}, required=("ok",)),
    "Live": _object({"status": {"type": "string", "enum": ["ok"]}}, required=("status",)),
    "Ready": _object(
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": _object(
                {
                    "database": {"type": "string", "enum": ["ok", "down"]},
                    "cache": {"type": "string", "enum": ["ok", "down"]},
                },
                required=("database", "cache"),
            ),
        },
        required=("status", "checks"),
    ),
    "Serving": _object(
        {
            "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
            "degraded": {"type": "boolean"},
            "checks": _object(
                {
                    "database": {"type": "string", "enum": ["ok", "down"]},
                    "cache": {"type": "string", "enum": ["ok", "down"]},
                },
                required=("database", "cache"),
            ),
        },
        required=("status", "degraded", "checks"),
    ),
    "PrivacyRequest": _object(_PRIVACY_REQUEST, required=tuple(_PRIVACY_REQUEST)),
    "PrivacyRequestDetail": _object(
        {**_PRIVACY_REQUEST, "export": {"description": "What Basketry held, or what it unlinked"}},
        required=(*_PRIVACY_REQUEST, "export"),
    ),
    "CustomerId": _object(
        {"customer_id": {"type": "string", "pattern": "^[0-9]+$", "description": "A WordPress user id"}},
        required=("customer_id",),
        extra=True,
    ),
    "ConnectStart": _object(
        {"store_url": _STRING, "return_url": _STRING, "plugin_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
        required=("store_url", "return_url", "plugin_key"),
        extra=True,
    ),
    "ConnectManual": _object(
        {
            "store_url": _STRING,
            "consumer_key": {"type": "string", "pattern": "^ck_[0-9a-f]{40}$"},
            "consumer_secret": {"type": "string", "pattern": "^cs_[0-9a-f]{40}$"},
            "plugin_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        required=("store_url", "consumer_key", "consumer_secret"),
        extra=True,
    ),
    "KeyDelivery": _object(
        {
            "key_id": {"type": "integer"},
            "user_id": {"type": "string", "description": "The signed one-time reference of the connect request"},
            "consumer_key": {"type": "string", "pattern": "^ck_[0-9a-f]{40}$"},
            "consumer_secret": {"type": "string", "pattern": "^cs_[0-9a-f]{40}$"},
            "key_permissions": {"type": "string", "enum": ["read_write"]},
        },
        required=("user_id", "consumer_key", "consumer_secret", "key_permissions"),
        extra=True,
    ),
}

_SECURITY_SCHEMES = {
    "shopifyIdToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The ID token App Bridge gives the embedded admin; the shop is its `dest`.",
    },
    "shopifyWebhookHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Shopify-Hmac-Sha256",
        "description": "Base64 HMAC-SHA256 of the raw body with the app's secret (the previous one during a rotation).",
    },
    "woocommerceWebhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-WC-Webhook-Signature",
        "description": "Base64 HMAC-SHA256 of the raw body with the shop's own webhook secret.",
    },
    "pluginSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Basketry-Signature",
        "description": (
            "Hex HMAC-SHA256, with the key the plugin chose when the store connected, of "
            "`<X-Basketry-Timestamp>\\n<METHOD>\\n<path and query>\\n<body>`; five minutes of clock slack."
        ),
    },
    "appProxySignature": {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": "Shopify's App Proxy signature: hex HMAC-SHA256 of the sorted other query parameters.",
    },
}

_PLUGIN_HEADERS = [
    _header("X-Basketry-Shop", "The store's domain, as it connected.", required=True),
    _header("X-Basketry-Timestamp", "Unix seconds when the plugin signed.", {"type": "string"}, required=True),
]

_PLUGIN_DENIED = {
    "401": _drf_error("No, a stale or an invalid signature"),
    "403": _drf_error("Not allowed"),
}
_ADMIN_DENIED = {
    "401": _drf_error("No or an invalid ID token; App Bridge retries with a fresh one"),
    "403": _drf_error("Not allowed"),
}


def _paths() -> dict:
    recommendations_get = {
        "summary": "A block's recommendations for a product or a cart",
        "tags": ["storefront"],
        "parameters": [
            _query("shop", "The store's domain.", {"type": "string", "pattern": _DOMAIN}, required=True),
            _query(
                "type",
                "Which list; personal needs a customer_token.",
                {"type": "string", "enum": [*TYPES, "personal"]},
                required=True,
            ),
            *_LIST_PARAMETERS,
            _query("customer_token", "type=personal: a token the WordPress plugin signed for a customer.", _STRING),
        ],
        "responses": {
            "200": _json("The product cards, the block's look and, in an A/B test, the arm", _ref("Recommendations")),
            "400": _error("A bad parameter, named in the message"),
            "401": _error("A customer token that is not valid for this shop"),
            "404": _error("Unknown shop"),
            "503": _error("Neither the cache nor the database answers"),
        },
    }
    return {
        "/livez": {
            "get": {
                "summary": "Liveness: the process answers (no database or cache touched)",
                "tags": ["health"],
                "responses": {"200": _json("Alive", _ref("Live"))},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the database and the cache answer",
                "tags": ["health"],
                "responses": {"200": _json("Ready", _ref("Ready")), "503": _json("Not ready", _ref("Ready"))},
            }
        },
        "/servez": {
            "get": {
                "summary": "Serving: the database answers, with the cache or without it (degraded)",
                "tags": ["health"],
                "responses": {
                    "200": _json("Serving, perhaps degraded", _ref("Serving")),
                    "503": _json("The database does not answer", _ref("Serving")),
                },
            }
        },
        SCHEMA_PATH: {
            "get": {
                "summary": "This document",
                "tags": ["schema"],
                "responses": {"200": _json("The OpenAPI document", {"type": "object"})},
            }
        },
        "/api/storefront/v1/recommendations": {
            "get": recommendations_get,
            "options": {
                "summary": "CORS preflight",
                "tags": ["storefront"],
                "responses": {"204": {"description": "Allowed from any origin"}},
            },
        },
        "/api/storefront/v1/events": {
            "post": {
                "summary": "A batch of widget events from a store that signs its own pages (WooCommerce, CSV)",
                "description": "Shopify stores post through their App Proxy instead (403 here). Validated whole.",
                "tags": ["storefront"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("EventBatch")}},
                    "description": f"At most {MAX_EVENT_BODY_BYTES} bytes.",
                },
                "responses": {
                    "202": _json("Stored; how many events counted", _ref("Stored")),
                    "400": _error("Not a JSON batch, or an invalid event (nothing is stored)"),
                    "401": _error("No valid page token for this shop"),
                    "403": _error("A Shopify store: post through its App Proxy"),
                    "404": _error("Unknown shop"),
                    "413": _error("Body too large"),
                    "429": _error("Too many batches from this client or page"),
                    "503": _error("Events cannot be stored right now"),
                },
            },
            "options": {
                "summary": "CORS preflight",
                "tags": ["storefront"],
                "responses": {"204": {"description": "Allowed from any origin"}},
            },
        },
        "/proxy/recommendations": {
            "get": {
                "summary": "Shopify App Proxy: a block or the logged-in customer's personal picks",
                "description": "Reached as `https://{shop}/apps/basketry/recommendations`; Shopify signs the query.",
                "tags": ["app proxy"],
                "security": [{"appProxySignature": []}],
                "parameters": [
                    *_APP_PROXY_PARAMETERS,
                    _query(
                        "type",
                        "Which list (default personal).",
                        {"type": "string", "enum": [*TYPES, "personal"], "default": "personal"},
                    ),
                    _query(
                        "format",
                        "json (default) or an HTML fragment.",
                        {"type": "string", "enum": ["json", "html"], "default": "json"},
                    ),
                    *_LIST_PARAMETERS,
                ],
                "responses": {
                    "200": {
                        "description": "The list, as JSON or as an HTML fragment",
                        "content": {
                            "application/json": {"schema": _ref("Recommendations")},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("A bad parameter"),
                    "401": _error("Not signed by Shopify"),
                    "404": _error("Unknown shop"),
                    "503": _error("Neither the cache nor the database answers"),
                },
            }
        },
        "/proxy/events": {
            "post": {
                "summary": "Shopify App Proxy: the widget's events; the shop comes from the signature",
                "tags": ["app proxy"],
                "security": [{"appProxySignature": []}],
                "parameters": list(_APP_PROXY_PARAMETERS),
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ProxyEventBatch")}}},
                "responses": {
                    "202": _json("Stored", _ref("Stored")),
                    "400": _error("Not a JSON batch, or an invalid event"),
                    "401": _error("Not signed by Shopify"),
                    "404": _error("Unknown shop"),
                    "413": _error("Body too large"),
                    "429": _error("Too many batches"),
                    "503": _error("Events cannot be stored right now"),
                },
            }
        },
        "/proxy/widget.js": {
            "get": {
                "summary": "The widget script on the store's own origin (public, unsigned)",
                "tags": ["app proxy"],
                "responses": {
                    "200": {
                        "description": "JavaScript",
                        "content": {"application/javascript": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/webhooks/shopify": {
            "post": {
                "summary": "Every Shopify webhook topic, compliance topics included",
                "description": (
                    f"Topics handled: {', '.join(KNOWN_TOPICS)}; others are answered 200 and dropped. "
                    "The body must name the shop the headers name (403 otherwise)."
                ),
                "tags": ["webhooks"],
                "security": [{"shopifyWebhookHmac": []}],
                "parameters": [
                    _header("X-Shopify-Topic", "e.g. products/update", required=True),
                    _header("X-Shopify-Shop-Domain", "SHOP.myshopify.com", required=True),
                    _header(
                        "X-Shopify-Webhook-Id", "Unique per delivery", {"type": "string", "maxLength": MAX_WEBHOOK_ID}
                    ),
                    _header("X-Shopify-Triggered-At", "ISO 8601", {"type": "string", "format": "date-time"}),
                    _header("X-Shopify-API-Version", "The payload's API version"),
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": _json(
                        "Recorded (or a duplicate, an unknown shop, a topic not handled)", _ref("WebhookAnswer")
                    ),
                    "400": _error("Missing headers, or a body that is not a JSON object fitting the topic"),
                    "401": _error("Missing or invalid HMAC: nothing is stored"),
                    "403": _error("The body belongs to another shop or topic"),
                    "413": _error("Body too large"),
                },
            }
        },
        "/webhooks/woocommerce/{shop_id}": {
            "post": {
                "summary": "A WooCommerce store's webhooks, at the URL Basketry registered for that shop",
                "description": (
                    f"Topics: {', '.join(WEBHOOK_TOPICS)}. The unsigned creation ping (form body `webhook_id=N`) "
                    "gets 200 and is stored nowhere."
                ),
                "tags": ["webhooks"],
                "security": [{"woocommerceWebhookSignature": []}],
                "parameters": [
                    {"name": "shop_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
                    _header("X-WC-Webhook-Topic", "e.g. product.updated", required=True),
                    _header("X-WC-Webhook-Delivery-ID", "Unique per delivery", {"type": "string", "maxLength": 200}),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-www-form-urlencoded": {
                            "schema": _object({"webhook_id": {"type": "integer"}}, required=("webhook_id",))
                        },
                    },
                },
                "responses": {
                    "200": _json("Recorded, a duplicate, a topic not handled, or the ping", _ref("WebhookAnswer")),
                    "400": _error("No delivery id, or a body that is not a JSON object fitting the topic"),
                    "401": _error("Unknown shop or invalid signature (answered alike)"),
                    "413": _error("Body too large"),
                },
            }
        },
        "/woocommerce/connect/start": {
            "post": {
                "summary": "The plugin starts a connection: where to send the merchant to approve the key",
                "tags": ["woocommerce connect"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ConnectStart")}}},
                "responses": {
                    "200": _json(
                        "The store's /wc-auth/v1/authorize URL",
                        _object({"authorize_url": _STRING}, required=("authorize_url",)),
                    ),
                    "400": _error("A bad field, named in the message"),
                },
            }
        },
        "/woocommerce/connect/manual": {
            "post": {
                "summary": "The plugin connects with a key pair the merchant pasted (checked with a test call)",
                "tags": ["woocommerce connect"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ConnectManual")}}},
                "responses": {
                    "200": _json(
                        "Connected",
                        _object({"connected": {"type": "boolean"}, "shop": _STRING}, required=("connected", "shop")),
                    ),
                    "400": _error("A bad field, or the store refused the keys"),
                },
            }
        },
        "/woocommerce/auth/callback": {
            "post": {
                "summary": "WooCommerce delivers the approved key pair (the one-time reference is in user_id)",
                "tags": ["woocommerce connect"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("KeyDelivery")}}},
                "responses": {
                    "200": {"description": "Stored (an empty body; WooCommerce keeps the key only on exactly 200)"},
                    "400": _error("Malformed, forged, used or expired"),
                },
            }
        },
        "/api/plugin/v1/status": {
            "get": {
                "summary": "The store's connection, counts, last sync and training, for the plugin's settings page",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "responses": {
                    "200": _json(
                        "Status",
                        _object(
                            {
                                "connected": {"type": "boolean"},
                                "paused": {"type": "boolean"},
                                "key_ending": {
                                    "type": "string",
                                    "description": "The last 7 characters of the WooCommerce consumer key in use "
                                    "(WooCommerce's truncated_key), '' before the key arrives",
                                },
                                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                                "products": _COUNT,
                                "orders": _COUNT,
                                "last_sync": {
                                    **_object(
                                        {
                                            "kind": _STRING,
                                            "status": _STRING,
                                            "error": _STRING,
                                            "started_at": {"type": "string", "format": "date-time"},
                                        }
                                    ),
                                    "nullable": True,
                                },
                                "training": {**_object({"status": _STRING}), "nullable": True},
                            },
                            required=(
                                "connected",
                                "paused",
                                "key_ending",
                                "currency",
                                "products",
                                "orders",
                                "last_sync",
                                "training",
                            ),
                        ),
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/pause": {
            "post": {
                "summary": "The plugin was deactivated: no deliveries processed, no calls to the store until resumed",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "responses": {
                    "200": _json(
                        "Paused (changed is false when it was paused already)",
                        _object(
                            {"paused": {"type": "boolean"}, "changed": {"type": "boolean"}},
                            required=("paused", "changed"),
                        ),
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/resume": {
            "post": {
                "summary": "The plugin was activated again: webhooks back on, then a catch-up reconciliation",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "responses": {
                    "200": _json(
                        "Resumed (changed is false when it was not paused)",
                        _object(
                            {"paused": {"type": "boolean"}, "changed": {"type": "boolean"}},
                            required=("paused", "changed"),
                        ),
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/uninstall": {
            "post": {
                "summary": "The plugin is being deleted: disconnected now, the data purged after the retention",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "responses": {
                    "200": _json(
                        "Disconnected; the plugin revokes the key named here",
                        _object(
                            {
                                "uninstalled": {"type": "boolean"},
                                "key_ending": _STRING,
                                "purge_after_hours": _COUNT,
                            },
                            required=("uninstalled", "key_ending", "purge_after_hours"),
                        ),
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/privacy/export": {
            "post": {
                "summary": "WordPress's personal data exporter: what Basketry holds under a user's pseudonym",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CustomerId")}}},
                "responses": {
                    "200": _json(
                        "The export in WordPress's exporter shape",
                        _object(
                            {"items": {"type": "array", "items": {"type": "object"}}, "held": _STRING},
                            required=("items", "held"),
                        ),
                    ),
                    "400": _json(
                        "No valid customer_id",
                        {"type": "object", "properties": {"customer_id": {}}, "required": ["customer_id"]},
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/privacy/erase": {
            "post": {
                "summary": "WordPress's personal data eraser: the user's orders stay only as anonymous baskets",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CustomerId")}}},
                "responses": {
                    "200": _json(
                        "What was unlinked",
                        _object(
                            {
                                "removed": _COUNT,
                                "retained": _COUNT,
                                "messages": {"type": "array", "items": _STRING},
                            },
                            required=("removed", "retained", "messages"),
                        ),
                    ),
                    "400": _json(
                        "No valid customer_id",
                        {"type": "object", "properties": {"customer_id": {}}, "required": ["customer_id"]},
                    ),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/plugin/v1/dashboard-link": {
            "post": {
                "summary": "A two-minute link that opens the dashboard for this store",
                "tags": ["plugin"],
                "security": [{"pluginSignature": []}],
                "parameters": list(_PLUGIN_HEADERS),
                "responses": {
                    "200": _json("The link", _object({"url": _STRING}, required=("url",))),
                    **_PLUGIN_DENIED,
                },
            }
        },
        "/api/admin/v1/status": {
            "get": {
                "summary": "The shop's connection, sync and training state",
                "tags": ["admin"],
                "security": [{"shopifyIdToken": []}],
                "responses": {
                    "200": _json(
                        "Status",
                        _object(
                            {
                                "shop": _STRING,
                                "status": _STRING,
                                "products": _COUNT,
                                "orders": _COUNT,
                                "sync": {
                                    **_object(
                                        {"kind": _STRING, "status": _STRING, "products": _COUNT, "orders": _COUNT}
                                    ),
                                    "nullable": True,
                                },
                                "training": {**_object({"status": _STRING}), "nullable": True},
                            },
                            required=("shop", "status", "products", "orders", "sync", "training"),
                        ),
                    ),
                    **_ADMIN_DENIED,
                },
            }
        },
        "/api/admin/v1/privacy-requests": {
            "get": {
                "summary": "The log of the platform's privacy requests (latest 500)",
                "tags": ["admin"],
                "security": [{"shopifyIdToken": []}],
                "responses": {
                    "200": _json(
                        "The log",
                        _object(
                            {"privacy_requests": {"type": "array", "items": _ref("PrivacyRequest")}},
                            required=("privacy_requests",),
                        ),
                    ),
                    **_ADMIN_DENIED,
                },
            }
        },
        "/api/admin/v1/privacy-requests/{request_id}": {
            "get": {
                "summary": "One privacy request with its export",
                "tags": ["admin"],
                "security": [{"shopifyIdToken": []}],
                "parameters": [
                    {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
                ],
                "responses": {
                    "200": _json("The request", _ref("PrivacyRequestDetail")),
                    "404": _drf_error("Unknown here (another shop's request answers the same)"),
                    **_ADMIN_DENIED,
                },
            }
        },
    }


@functools.cache
def openapi_document() -> dict:
    """The document, built once per process (it depends on code only, not on settings)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Basketry",
            "version": "1",
            "description": (
                "Recommendations for Shopify and WooCommerce stores. Public storefront reads take the shop's "
                "domain; everything that writes or reads a shop's own data is signed: the App Proxy and "
                "webhooks by the platform, the plugin's API by the plugin's key, the admin API by Shopify's "
                "ID token."
            ),
            "license": {"name": "Open source"},
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {"schemas": _SCHEMAS, "securitySchemes": _SECURITY_SCHEMES},
    }


@functools.cache
def _document_bytes() -> bytes:
    return dumps(openapi_document())


@require_GET
def openapi_json(request: HttpRequest) -> HttpResponse:
    """GET /api/schema/openapi.json"""
    response = HttpResponse(_document_bytes(), content_type="application/json")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response
