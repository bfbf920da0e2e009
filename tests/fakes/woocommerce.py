"""A fake WooCommerce store (WordPress + the WooCommerce REST API v3) served over real HTTP on loopback.

One instance is one WordPress site. It serves:

* ``/wp-json/wc/v3/...`` (and the plain-permalink form ``/?rest_route=/wc/v3/...``): products, variations, orders,
  webhooks, the "general" settings group (the store's currency among them; EUR unless a test says otherwise) and
  a slice of system_status, with WooCommerce's authentication rules: HTTP Basic or query-string keys over TLS only,
  OAuth 1.0a one-legged signatures otherwise;
* ``/wp-json/``: the site index, unauthenticated.

The key-provisioning flow (``/wc-auth/v1/authorize``) is played by `FakeWooCommerce.authorize`, standing in for the
merchant who clicks "Approve". Webhook pings and event deliveries go out over real HTTP, synchronously in the thread
that caused them; WooCommerce queues them for Action Scheduler, which only changes when they arrive.

Behaviour follows WooCommerce's source where it and the documentation disagree (class-wc-rest-authentication.php,
class-wc-auth.php, class-wc-webhook.php and the v3 CRUD controllers), including its quirks: Link headers carry every
query parameter of the request (credentials included), a page past the end is an empty 200, a redirect counts as a
successful webhook delivery, and the seventh consecutive failure disables a webhook.
"""

from __future__ import annotations

import atexit
import base64
import bisect
import collections
import hashlib
import hmac
import http
import http.server
import ipaddress
import itertools
import json
import math
import random
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

import httpx

WC_VERSION = "9.9.0"
WP_VERSION = "6.8"
HOOKSHOT_USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
HTML_CONTENT_TYPE = "text/html; charset=UTF-8"

OAUTH_WINDOW_SECONDS = 15 * 60
MAX_DELIVERY_FAILURES = 5  # the default of the woocommerce_max_webhook_delivery_failures filter
FIRST_PRODUCT_ID = 100
FIRST_ORDER_ID = 1000

PRODUCT_STATUSES = ("draft", "pending", "private", "publish")
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
WEBHOOK_STATUSES = ("active", "paused", "disabled")
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")

CANNOT_LIST = ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
CANNOT_VIEW = ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
CANNOT_CREATE = ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
CANNOT_EDIT = ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
CANNOT_DELETE = ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")

_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_CENT = Decimal("0.01")
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "$", "AUD": "$", "JPY": "¥", "CHF": "CHF"}

# WC_Webhook::get_default_topic_hooks(), which the REST API reports as a webhook's `hooks`.
_TOPIC_HOOKS = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}


# --- encoding helpers ------------------------------------------------------------------------------------------------


def wp_json(payload: Any) -> bytes:
    """JSON the way PHP's wp_json_encode writes it: compact, "/" escaped, non-ASCII as \\uXXXX.

    Webhook signatures cover these exact bytes, so a receiver that re-serialises the body instead of hashing what it
    received fails here as it would in production.
    """
    # json.dumps never writes "\/" itself, so every "/" in its output sits inside a string and can be escaped blindly.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def rfc3986(value: str) -> str:
    """wc_rest_urlencode_rfc3986: PHP's rawurlencode, which leaves only A-Z a-z 0-9 - _ . ~ alone."""
    return quote(value, safe="-_.~")


def _same(expected: str, given: str) -> bool:
    # hash_equals on bytes: compare_digest refuses str with non-ASCII characters, which a request may well carry.
    return hmac.compare_digest(expected.encode(), given.encode())


def _php_empty(value: Any) -> bool:
    return value is None or value in ("", "0", 0, False) or (isinstance(value, dict | list) and not value)


def _php_parse_query(query: str) -> dict[str, Any]:
    """$_GET as PHP builds it: "+" means space, later keys win, `a[]=1&a[b]=2` nest into ordered arrays (dicts)."""
    result: dict[str, Any] = {}
    for chunk in query.split("&"):
        if not chunk:
            continue
        raw_name, _, raw_value = chunk.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        bracket = name.find("[")
        if bracket > 0 and "]" in name[bracket:]:
            base = name[:bracket]
            subs = re.findall(r"\[([^\]]*)\]", name[bracket:])
        else:
            base, subs = name, []
        if not base:
            continue
        # PHP turns these characters of a variable name into underscores, which a client signing "a.b" trips over.
        base = base.replace(".", "_").replace(" ", "_")
        if not subs:
            result[base] = value
            continue
        target = result.get(base)
        if not isinstance(target, dict):
            target = result[base] = {}
        for position, sub in enumerate(subs):
            key: int | str
            if sub == "":
                key = max((k for k in target if isinstance(k, int)), default=-1) + 1
            elif sub.isdigit() and (sub == "0" or not sub.startswith("0")):
                key = int(sub)
            else:
                key = sub
            if position == len(subs) - 1:
                target[key] = value
            else:
                child = target.get(key)
                if not isinstance(child, dict):
                    child = target[key] = {}
                target = child
    return result


def _php_build_query(params: dict[str, Any]) -> str:
    """http_build_query with urlencode, as add_query_arg leaves a URL: nested arrays become `key[sub]=value`."""
    pairs: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for sub, inner in value.items():
                walk(f"{prefix}[{sub}]", inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}[{index}]", inner)
        else:
            text = "1" if value is True else "" if value is False or value is None else str(value)
            pairs.append(f"{quote_plus(prefix)}={quote_plus(text)}")

    for key, value in params.items():
        walk(str(key), value)
    return "&".join(pairs)


def _specialchars_decode(text: str) -> str:
    # wp_specialchars_decode( $secret, ENT_QUOTES ): the webhook signing key is the secret with these entities decoded.
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&#39;", "'")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&")


def _money(value: Decimal | float | int | str | None) -> str:
    if value is None or value == "":
        return ""
    return str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def _cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _number(amount: Decimal) -> int | float:
    """line_items[].price: WooCommerce divides the line total by the quantity, so it is a JSON number, not a string."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def _join_list(items: Iterable[str]) -> str:
    # wp_sprintf's %l, which WordPress uses to list an enum in its validation messages.
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


# --- errors and replies ----------------------------------------------------------------------------------------------


class _Rejected(Exception):
    """A WP_Error on its way out: HTTP status and the {"code", "message", "data"} body."""

    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(status, code, message)
        self.status = status
        self.body = {"code": code, "message": message, "data": {"status": status, **data}}


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON_CONTENT_TYPE


def _json_reply(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, wp_json(payload), headers or [])


def _html_reply(status: int, html: str, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, html.encode(), headers or [], HTML_CONTENT_TYPE)


_REST_HEADERS = [
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
    ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"),
    ("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"),
]


# --- request parameters as the WordPress REST API validates them ----------------------------------------------------


def _arg(kind: str, description: str, **schema: Any) -> dict:
    return {"type": kind, "description": description, **schema}


def _as_list(value: Any) -> list:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        # wp_parse_list: commas and whitespace both separate.
        return [part for part in re.split(r"[\s,]+", value) if part]
    return [value]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::\d{2})?)?$")


def _coerce(name: str, value: Any, schema: dict) -> tuple[Any, tuple[str, str] | None]:
    """rest_validate_value_from_schema + sanitisation: the value to use, or (code, message) of the failure."""
    kind = schema["type"]
    if kind == "integer":
        if isinstance(value, bool) or isinstance(value, dict | list):
            return None, ("rest_invalid_type", f"{name} is not of type integer.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None, ("rest_invalid_type", f"{name} is not of type integer.")
        if not number.is_finite() or number != number.to_integral_value():
            return None, ("rest_invalid_type", f"{name} is not of type integer.")
        integer = int(number)
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None and not low <= integer <= high:
            return None, ("rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)")
        if low is not None and high is None and integer < low:
            return None, ("rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
        return integer, None
    if kind == "boolean":
        if value in (True, "true", "1", 1, "TRUE", "True"):
            return True, None
        if value in (False, "false", "0", 0, "", "FALSE", "False"):
            return False, None
        return None, ("rest_invalid_type", f"{name} is not of type boolean.")
    if kind == "array":
        items = []
        for index, item in enumerate(_as_list(value)):
            coerced, error = _coerce(f"{name}[{index}]", item, schema["items"])
            if error:
                return None, error
            items.append(coerced)
        return items, None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None, ("rest_invalid_type", f"{name} is not of type string.")
    value = str(value)
    if "enum" in schema and value not in schema["enum"]:
        return None, ("rest_not_in_enum", f"{name} is not one of {_join_list(schema['enum'])}.")
    if schema.get("format") == "date-time" and not _RFC3339.match(value):
        return None, ("rest_invalid_date", "Invalid date.")
    return value, None


def _validate(specs: dict[str, dict], params: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    """The checked arguments with defaults filled in; unknown parameters are ignored, as WordPress ignores them."""
    missing = [name for name in required if params.get(name) is None]
    if missing:
        raise _Rejected(
            400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", params=missing
        )
    values: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    details: dict[str, dict] = {}
    for name, schema in specs.items():
        if name not in params:
            if "default" in schema:
                values[name] = schema["default"]
            continue
        coerced, error = _coerce(name, params[name], schema)
        if error:
            invalid[name] = error[1]
            details[name] = {"code": error[0], "message": error[1], "data": None}
        else:
            values[name] = coerced
    if invalid:
        raise _Rejected(
            400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(invalid)}", params=invalid, details=details
        )
    return values


def _options_args(specs: dict[str, dict], required: Iterable[str] = ()) -> dict[str, dict]:
    required = set(required)
    return {name: {**schema, "required": name in required} for name, schema in specs.items()}


def _filter_fields(item: dict, fields: dict) -> dict:
    """_rest_array_intersect_key_recursive: keep the requested keys, descending into objects (not lists) for a.b."""
    kept = {}
    for key, value in item.items():
        if key not in fields:
            continue
        wanted = fields[key]
        if wanted is not True and isinstance(value, dict):
            kept[key] = _filter_fields(value, wanted)
        elif wanted is not True and isinstance(value, list):
            # A PHP list is an array with the keys 0..n-1, which "line_items.product_id" never matches.
            kept[key] = []
        else:
            kept[key] = value
    return kept


def _fields_tree(raw: Any) -> dict | None:
    if raw is None:
        return None
    names = [str(part).strip() for part in _as_list(raw) if str(part).strip()]
    if not names:
        return None
    tree: dict = {}
    for name in names:
        parts = name.split(".")
        node = tree
        for part in parts[:-1]:
            if node.get(part) is True:
                break
            node = node.setdefault(part, {})
        else:
            node[parts[-1]] = True
    return tree


# --- TLS material ---------------------------------------------------------------------------------------------------

_TLS_LOCK = threading.Lock()
_TLS_FILES: tuple[str, str, str] | None = None


def _tls_files() -> tuple[str, str, str]:
    """(certificate chain, key, CA) PEM paths, made once per process: EC key generation is quick but not free."""
    global _TLS_FILES
    with _TLS_LOCK:
        if _TLS_FILES is not None:
            return _TLS_FILES
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake WooCommerce Test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        directory = Path(tempfile.mkdtemp(prefix="fake-woocommerce-tls-"))
        atexit.register(shutil.rmtree, directory, True)
        pem = serialization.Encoding.PEM
        chain = directory / "chain.pem"
        chain.write_bytes(leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
        key = directory / "key.pem"
        key.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ca = directory / "ca.pem"
        ca.write_bytes(ca_cert.public_bytes(pem))
        _TLS_FILES = (str(chain), str(key), str(ca))
        return _TLS_FILES


# --- the HTTP server ------------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as a pooled client expects; every reply sets Content-Length.
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def version_string(self) -> str:
        return "Apache"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read FakeWooCommerce.requests instead of stderr noise

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        fake = self.server.fake
        try:
            try:
                reply = fake._handle(method, self.path, self.headers, body)
            except Exception as error:  # a bug in the fake: answer 500 rather than drop the connection
                fake.errors.append(f"{method} {self.path}:\n{traceback.format_exc()}")
                reply = _json_reply(500, {"code": "fake_error", "message": repr(error), "data": {"status": 500}})
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWooCommerce
    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs here, in the connection's own thread, so a client that stalls or rejects the
        # certificate cannot hold up the accept loop.
        request.settimeout(30)
        try:
            secure = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(secure, client_address, self)
        finally:
            try:
                secure.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            secure.close()


# --- records ---------------------------------------------------------------------------------------------------------


@dataclass
class ApiKey:
    key_id: int
    user_id: int
    permissions: str
    consumer_key: str
    consumer_secret: str
    description: str
    user_can: bool = True
    # WooCommerce keeps used nonces keyed by their timestamp, so a second nonce with the same timestamp replaces the
    # first, which then becomes reusable.
    nonces: dict[int, str] = field(default_factory=dict)
    last_access: str | None = None

    @property
    def truncated_key(self) -> str:
        return self.consumer_key[-7:]


_PRODUCT_TEMPLATE: tuple[tuple[str, Any], ...] = (
    ("id", 0),
    ("name", ""),
    ("slug", ""),
    ("permalink", ""),
    ("date_created", None),
    ("date_created_gmt", None),
    ("date_modified", None),
    ("date_modified_gmt", None),
    ("type", "simple"),
    ("status", "publish"),
    ("featured", False),
    ("catalog_visibility", "visible"),
    ("description", ""),
    ("short_description", ""),
    ("sku", ""),
    ("price", ""),
    ("regular_price", ""),
    ("sale_price", ""),
    ("date_on_sale_from", None),
    ("date_on_sale_from_gmt", None),
    ("date_on_sale_to", None),
    ("date_on_sale_to_gmt", None),
    ("on_sale", False),
    ("purchasable", True),
    ("total_sales", 0),
    ("virtual", False),
    ("downloadable", False),
    ("downloads", ()),
    ("download_limit", -1),
    ("download_expiry", -1),
    ("external_url", ""),
    ("button_text", ""),
    ("tax_status", "taxable"),
    ("tax_class", ""),
    ("manage_stock", False),
    ("stock_quantity", None),
    ("backorders", "no"),
    ("backorders_allowed", False),
    ("backordered", False),
    ("low_stock_amount", None),
    ("sold_individually", False),
    ("weight", ""),
    ("dimensions", {"length": "", "width": "", "height": ""}),
    ("shipping_required", True),
    ("shipping_taxable", True),
    ("shipping_class", ""),
    ("shipping_class_id", 0),
    ("reviews_allowed", True),
    ("average_rating", "0.00"),
    ("rating_count", 0),
    ("upsell_ids", ()),
    ("cross_sell_ids", ()),
    ("parent_id", 0),
    ("purchase_note", ""),
    ("categories", ()),
    ("brands", ()),
    ("tags", ()),
    ("images", ()),
    ("attributes", ()),
    ("default_attributes", ()),
    ("variations", ()),
    ("grouped_products", ()),
    ("menu_order", 0),
    ("price_html", ""),
    ("related_ids", ()),
    ("meta_data", ()),
    ("stock_status", "instock"),
    ("has_options", False),
    ("post_password", ""),
    ("global_unique_id", ""),
)
_PRODUCT_KEYS = frozenset(key for key, _ in _PRODUCT_TEMPLATE)

_VARIATION_TEMPLATE: tuple[tuple[str, Any], ...] = (
    ("id", 0),
    ("type", "variation"),
    ("date_created", None),
    ("date_created_gmt", None),
    ("date_modified", None),
    ("date_modified_gmt", None),
    ("description", ""),
    ("permalink", ""),
    ("sku", ""),
    ("global_unique_id", ""),
    ("price", ""),
    ("regular_price", ""),
    ("sale_price", ""),
    ("date_on_sale_from", None),
    ("date_on_sale_from_gmt", None),
    ("date_on_sale_to", None),
    ("date_on_sale_to_gmt", None),
    ("on_sale", False),
    ("status", "publish"),
    ("purchasable", True),
    ("virtual", False),
    ("downloadable", False),
    ("downloads", ()),
    ("download_limit", -1),
    ("download_expiry", -1),
    ("tax_status", "taxable"),
    ("tax_class", ""),
    ("manage_stock", False),
    ("stock_quantity", None),
    ("stock_status", "instock"),
    ("backorders", "no"),
    ("backorders_allowed", False),
    ("backordered", False),
    ("low_stock_amount", None),
    ("weight", ""),
    ("dimensions", {"length": "", "width": "", "height": ""}),
    ("shipping_class", ""),
    ("shipping_class_id", 0),
    ("image", None),
    ("attributes", ()),
    ("menu_order", 0),
    ("meta_data", ()),
    ("name", ""),
    ("parent_id", 0),
)
_VARIATION_KEYS = frozenset(key for key, _ in _VARIATION_TEMPLATE)

_ADDRESS_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country")
_ORDER_TEMPLATE: tuple[tuple[str, Any], ...] = (
    ("id", 0),
    ("parent_id", 0),
    ("status", "processing"),
    ("currency", "USD"),
    ("version", WC_VERSION),
    ("prices_include_tax", False),
    ("date_created", None),
    ("date_modified", None),
    ("discount_total", "0.00"),
    ("discount_tax", "0.00"),
    ("shipping_total", "0.00"),
    ("shipping_tax", "0.00"),
    ("cart_tax", "0.00"),
    ("total", "0.00"),
    ("total_tax", "0.00"),
    ("customer_id", 0),
    ("order_key", ""),
    ("billing", None),
    ("shipping", None),
    ("payment_method", "bacs"),
    ("payment_method_title", "Direct bank transfer"),
    ("transaction_id", ""),
    ("customer_ip_address", ""),
    ("customer_user_agent", ""),
    ("created_via", "checkout"),
    ("customer_note", ""),
    ("date_completed", None),
    ("date_paid", None),
    ("cart_hash", ""),
    ("number", ""),
    ("meta_data", ()),
    ("line_items", ()),
    ("tax_lines", ()),
    ("shipping_lines", ()),
    ("fee_lines", ()),
    ("coupon_lines", ()),
    ("refunds", ()),
    ("payment_url", ""),
    ("is_editable", False),
    ("needs_payment", False),
    ("needs_processing", True),
    ("date_created_gmt", None),
    ("date_modified_gmt", None),
    ("date_completed_gmt", None),
    ("date_paid_gmt", None),
    ("currency_symbol", "$"),
)
_ORDER_KEYS = frozenset(key for key, _ in _ORDER_TEMPLATE)
_LINE_TEMPLATE: tuple[tuple[str, Any], ...] = (
    ("id", 0),
    ("name", ""),
    ("product_id", 0),
    ("variation_id", 0),
    ("quantity", 1),
    ("tax_class", ""),
    ("subtotal", "0.00"),
    ("subtotal_tax", "0.00"),
    ("total", "0.00"),
    ("total_tax", "0.00"),
    ("taxes", ()),
    ("meta_data", ()),
    ("sku", ""),
    ("global_unique_id", ""),
    ("price", 0),
)
_LINE_KEYS = frozenset(key for key, _ in _LINE_TEMPLATE) | {"image", "parent_name"}


def _fill(record: dict, template: tuple[tuple[str, Any], ...]) -> dict:
    # Templates hold tuples for empty lists so that the shared defaults cannot be mutated through one record.
    return {key: record[key] if key in record else default for key, default in template}


def _reject_unknown(kind: str, fields: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise TypeError(f"unknown {kind} field(s) {unknown}")


# --- the fake store --------------------------------------------------------------------------------------------------


class FakeWooCommerce:
    """One WordPress + WooCommerce site; use as a context manager or call start() and stop()."""

    def __init__(
        self,
        *,
        tls: bool = False,
        seed: int = 0,
        supports_modified_after: bool = True,
        strip_authorization: bool = False,
        per_page_max: int = 100,
        allow_http_callback: bool = False,
        currency: str = "EUR",
        utc_offset_hours: float = 0.0,
        pretty_permalinks: bool = True,
        site_name: str = "Fake Store",
        delivery_timeout: float = 10.0,
    ):
        self.tls = tls
        self.seed = seed
        self.supports_modified_after = supports_modified_after
        self.strip_authorization = strip_authorization
        self.per_page_max = per_page_max
        self.allow_http_callback = allow_http_callback
        self.currency = currency
        # (status, code, message) the settings endpoints answer instead of the settings, e.g. a security plugin
        # that blocks /wc/v3/settings: None for a store that answers normally.
        self.settings_fault: tuple[int, str, str] | None = None
        # The site's timezone as WordPress's gmt_offset: date_* fields are local time, date_*_gmt are UTC.
        self.utc_offset_hours = utc_offset_hours
        self.pretty_permalinks = pretty_permalinks
        self.site_name = site_name
        self.delivery_timeout = delivery_timeout

        self.products: dict[int, dict] = {}
        self.variations: dict[int, list[dict]] = {}
        self.orders: dict[int, dict] = {}
        self.webhooks: dict[int, dict] = {}
        self.api_keys: dict[int, ApiKey] = {}
        self.requests: list[dict] = []
        self.deliveries: list[dict] = []
        self.pings: list[dict] = []
        self.callbacks: list[dict] = []
        self.errors: list[str] = []  # exceptions raised inside the fake while answering a request

        # One lock for all state: handler threads and the test thread both read and change the store.
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._outgoing: httpx.Client | None = None
        self._ca_path: str | None = None
        self._next_post_id = FIRST_PRODUCT_ID  # products, variations and their images share wp_posts ids
        self._next_order_id = FIRST_ORDER_ID
        self._next_line_id = 1
        self._next_meta_id = 1
        self._next_key_id = 1
        self._next_webhook_id = 1
        self._next_term_id = 15
        self._terms: dict[tuple[str, str], dict] = {}
        self._variation_index: dict[int, tuple[int, dict]] = {}
        self._trashed_from: dict[int, str] = {}
        self._slugs: set[str] = set()
        self._faults: collections.deque[tuple[str, int, float | None]] = collections.deque()
        self._random_failure_rate = 0.0
        self._fault_random = random.Random(f"faults-{seed}")
        self._related_random = random.Random(f"related-{seed}")
        self._delivery_counter = itertools.count(1)
        # Sorted id lists of collection queries, keyed by the query and a version bumped on every data change, so
        # that walking 500 pages of 50k orders sorts them once rather than 500 times.
        self._version = 0
        self._query_cache: collections.OrderedDict[tuple, list[int]] = collections.OrderedDict()
        self._category_index: dict[int, list[int]] | None = None

    def __repr__(self) -> str:
        return f"<FakeWooCommerce {len(self.products)} products, {len(self.orders)} orders>"

    # --- lifecycle ---

    def start(self) -> FakeWooCommerce:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        if self.tls:
            chain, key, ca = _tls_files()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, key)
            server.tls_context = context
            self._ca_path = ca
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-woocommerce", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        if self._outgoing is not None:
            self._outgoing.close()
            self._outgoing = None

    def __enter__(self) -> FakeWooCommerce:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeWooCommerce is not started")
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def ca_path(self) -> str | None:
        return self._ca_path if self.tls else None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this fake's certificate (tls=True only)."""
        if not self.tls:
            raise RuntimeError("the fake was built without tls")
        return ssl.create_default_context(cafile=self._ca_path or _tls_files()[2])

    def rest_url(self, route: str) -> str:
        """What WordPress's rest_url() gives for a route such as "/wc/v3/products"."""
        if self.pretty_permalinks:
            return f"{self.base_url}/wp-json{route}"
        return f"{self.base_url}/?rest_route={route}"

    # --- API keys ---

    def add_key(
        self, *, permissions: str = "read_write", user_can: bool = True, description: str = ""
    ) -> tuple[str, str]:
        """A key as WooCommerce makes one (ck_/cs_ + 40 hex); user_can=False gives its user no capabilities."""
        if permissions not in ("read", "write", "read_write"):
            raise ValueError(f"permissions must be read, write or read_write, not {permissions!r}")
        with self._lock:
            key = ApiKey(
                key_id=self._next_key_id,
                user_id=1,
                permissions=permissions,
                consumer_key="ck_" + secrets.token_hex(20),
                consumer_secret="cs_" + secrets.token_hex(20),
                description=description or f"Key {self._next_key_id}",
                user_can=user_can,
            )
            self._next_key_id += 1
            self.api_keys[key.key_id] = key
            return key.consumer_key, key.consumer_secret

    def revoke_key(self, consumer_key: str) -> None:
        with self._lock:
            key = self._key_by_consumer_key(consumer_key)
            if key is None:
                raise KeyError(consumer_key)
            del self.api_keys[key.key_id]

    def key(self, consumer_key: str) -> ApiKey | None:
        with self._lock:
            return self._key_by_consumer_key(consumer_key)

    def _key_by_consumer_key(self, consumer_key: Any) -> ApiKey | None:
        if not isinstance(consumer_key, str):
            return None
        # sanitize_text_field trims what a pasted key might carry around it.
        consumer_key = consumer_key.strip()
        return next((k for k in self.api_keys.values() if _same(k.consumer_key, consumer_key)), None)

    # --- the /wc-auth/v1/authorize flow ---

    def authorize(self, authorize_url: str, *, approve: bool = True) -> str:
        """The merchant opens `authorize_url`, logs in and clicks Approve (or Deny); returns where the browser lands.

        Validates like WC_Auth::make_validation; on approval creates a key, POSTs it to callback_url and, unless the
        callback answers exactly 200, deletes the key again and fails with WooCommerce's message (a ValueError).
        wp_safe_remote_post's refusal of loopback hosts and of ports other than 80, 443 and 8080 is left out: every
        receiver in these tests is on loopback.
        """
        split = urlsplit(authorize_url)
        own = urlsplit(self.base_url)
        if split.port != own.port or split.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"{authorize_url} is not on this store ({self.base_url})")
        params = _php_parse_query(split.query)
        pretty = re.fullmatch(r"/wc-auth/v1/(\w*)/?", split.path)
        if pretty:
            route = pretty[1]
        elif split.path in ("", "/", "/index.php") and params.get("wc-auth-version") == "1":
            route = str(params.get("wc-auth-route", ""))
        else:
            raise ValueError(f"{authorize_url} is not a /wc-auth/v1/ URL")
        if route.lower() not in ("login", "authorize"):
            raise ValueError("Error: You do not have permission to access this page.")
        data: dict[str, str] = {}
        for name in ("app_name", "user_id", "return_url", "callback_url", "scope"):
            if _php_empty(params.get(name)):
                raise ValueError(f"Error: Missing parameter {name}.")
            if not isinstance(params[name], str):
                raise ValueError(f"Error: Invalid parameter {name}.")
            data[name] = params[name]
        if data["scope"] not in ("read", "write", "read_write"):
            raise ValueError(f"Error: Invalid scope {data['scope']}.")
        return_url = self._formatted_url(data["return_url"])
        callback_url = self._formatted_url(data["callback_url"])
        for url in (return_url, callback_url):
            if not self._valid_url(url):
                raise ValueError(f"Error: The {url} is not a valid URL.")
        if not callback_url.lower().startswith("https://") and not (
            self.allow_http_callback and callback_url.lower().startswith("http://")
        ):
            raise ValueError("Error: The callback_url needs to be over SSL.")
        user_id = data["user_id"]
        if not approve:
            return self._add_query_arg(return_url, {"success": "0", "user_id": user_id})

        with self._lock:
            key = ApiKey(
                key_id=self._next_key_id,
                user_id=1,
                permissions=data["scope"],
                consumer_key="ck_" + secrets.token_hex(20),
                consumer_secret="cs_" + secrets.token_hex(20),
                description=f"{data['app_name'][:170]} - API ({time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())})",
            )
            self._next_key_id += 1
            self.api_keys[key.key_id] = key
        consumer_data = {
            "key_id": key.key_id,
            "user_id": user_id,
            "consumer_key": key.consumer_key,
            "consumer_secret": key.consumer_secret,
            "key_permissions": key.permissions,
        }
        status: int | None = None
        error: str | None = None
        try:
            response = self._client().post(
                callback_url,
                content=wp_json(consumer_data),
                headers={
                    "Content-Type": "application/json;charset=UTF-8",
                    "User-Agent": f"WordPress/{WP_VERSION}; {self.base_url}",
                },
            )
            status = response.status_code
        except httpx.HTTPError as transport_error:
            error = f"cURL error: {transport_error}"
        with self._lock:
            self.callbacks.append({"url": callback_url, "status_code": status, "key_id": key.key_id})
            if status != 200:
                self.api_keys.pop(key.key_id, None)
        if status != 200:
            message = error or (
                "An error occurred in the request and at the time were unable to send the consumer data"
            )
            raise ValueError(f"Error: {message}.")
        return self._add_query_arg(return_url, {"success": "1", "user_id": user_id})

    @staticmethod
    def _formatted_url(url: str) -> str:
        # WC_Auth::get_formatted_url decodes once more (PHP already decoded the query) and defaults to https.
        url = unquote_plus(url)
        return url if "://" in url else "https://" + url

    @staticmethod
    def _valid_url(url: str) -> bool:
        # Close to FILTER_VALIDATE_URL: a scheme, a host, and nothing that needs escaping.
        if re.search(r"[\s<>\"{}|\\^`]", url):
            return False
        split = urlsplit(url)
        return bool(split.scheme and split.netloc and split.hostname)

    @staticmethod
    def _add_query_arg(url: str, args: dict[str, str]) -> str:
        """add_query_arg: replace or append the arguments, keeping the rest of the query and any fragment."""
        split = urlsplit(url)
        pairs = [pair for pair in split.query.split("&") if pair and pair.split("=", 1)[0] not in args]
        pairs += [f"{name}={quote(value, safe='-_.~')}" for name, value in args.items()]
        return urlunsplit((split.scheme, split.netloc, split.path, "&".join(pairs), split.fragment))

    # --- time ---

    @property
    def _offset_seconds(self) -> int:
        return round(self.utc_offset_hours * 3600)

    def _dates(self, epoch: float) -> tuple[str, str]:
        """(local, gmt) forms of a moment, as WordPress stores post_date and post_date_gmt."""
        gmt = time.strftime(_DATE_FORMAT, time.gmtime(epoch))
        offset = self._offset_seconds
        return (time.strftime(_DATE_FORMAT, time.gmtime(epoch + offset)) if offset else gmt), gmt

    def _epoch(self, value: Any, *, local: bool) -> float:
        """A datetime (aware, or naive UTC), an epoch, or a WooCommerce date string (local or GMT as flagged)."""
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return moment.timestamp()
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            return moment.timestamp()
        epoch = moment.replace(tzinfo=UTC).timestamp()
        return epoch - self._offset_seconds if local else epoch

    def _stamp_pair(self, fields: dict, name: str, default: float | None) -> tuple[str | None, str | None]:
        if fields.get(f"{name}_gmt") is not None:
            return self._dates(self._epoch(fields[f"{name}_gmt"], local=False))
        if fields.get(name) is not None:
            return self._dates(self._epoch(fields[name], local=True))
        if default is None:
            return None, None
        return self._dates(default)

    def _bumped_modified(self, record: dict) -> tuple[str, str]:
        now = time.time()
        previous = record.get("date_modified_gmt")
        if previous:
            # Two edits within a second would otherwise share a timestamp, and a modified_after watermark taken
            # between them would hide the second one forever.
            now = max(now, self._epoch(previous, local=False) + 1)
        return self._dates(math.floor(now))

    def _changed(self) -> None:
        self._version += 1
        self._query_cache.clear()
        self._category_index = None

    # --- catalogue ---

    def _term(self, taxonomy: str, value: dict | str | int) -> dict:
        if isinstance(value, dict):
            name = value.get("name") or value.get("slug") or f"Term {value.get('id')}"
            term = self._terms.get((taxonomy, _slugify(str(value.get("slug") or name))))
            if term is None:
                term = {
                    "id": value.get("id") or self._next_term_id,
                    "name": name,
                    "slug": value.get("slug") or _slugify(name),
                }
        else:
            name = str(value)
            term = self._terms.get((taxonomy, _slugify(name)))
            if term is None:
                term = {"id": self._next_term_id, "name": name, "slug": _slugify(name)}
        self._terms[(taxonomy, term["slug"])] = term
        self._next_term_id = max(self._next_term_id, term["id"] + 1)
        return term

    def _image(self, value: dict | str, alt: str) -> dict:
        if isinstance(value, str):
            value = {"src": value}
        image_id = value.get("id")
        if image_id is None:
            image_id = self._next_post_id
            self._next_post_id += 1
        src = value.get("src") or f"{self.base_url}/wp-content/uploads/{image_id}.jpg"
        return {
            "id": image_id,
            "src": src,
            "name": value.get("name", src.rsplit("/", 1)[-1].rsplit(".", 1)[0]),
            "alt": value.get("alt", alt),
        }

    def _unique_slug(self, wanted: str) -> str:
        # wp_unique_post_slug: a taken slug gets -2, -3, ...
        slug, suffix = wanted, 2
        while slug in self._slugs:
            slug, suffix = f"{wanted}-{suffix}", suffix + 1
        self._slugs.add(slug)
        return slug

    def _permalink(self, slug: str, status: str, post_id: int) -> str:
        if status not in ("publish", "private"):
            # Unpublished posts have no pretty permalink yet.
            return f"{self.base_url}/?post_type=product&p={post_id}"
        if self.pretty_permalinks:
            return f"{self.base_url}/product/{slug}/"
        return f"{self.base_url}/?product={slug}"

    def add_product(self, **fields: Any) -> dict:
        """A product; takes WooCommerce v3 field names. Returns the stored record (the REST JSON fills in the rest).

        Shortcuts: prices as numbers, categories/tags as names or {id, name, slug}, images as URLs or dicts, dates as
        datetimes. A "variable" product gets its variations from add_variation.
        """
        _reject_unknown("product", fields, _PRODUCT_KEYS)
        with self._lock:
            product_id = fields.pop("id", None) or self._next_post_id
            self._next_post_id = max(self._next_post_id, product_id + 1)
            product_type = fields.get("type", "simple")
            if product_type not in ("simple", "variable", "grouped", "external"):
                raise ValueError(f"unknown product type {product_type!r}")
            status = fields.get("status", "publish")
            if status not in (*PRODUCT_STATUSES, "trash", "future"):
                raise ValueError(f"unknown product status {status!r}")
            name = fields.get("name", f"Product {product_id}")
            slug = self._unique_slug(fields.get("slug") or _slugify(name))
            created = self._stamp_pair(fields, "date_created", time.time())
            modified = self._stamp_pair(fields, "date_modified", None)
            if modified[0] is None:
                modified = created
            product = {
                **fields,
                "id": product_id,
                "name": name,
                "slug": slug,
                "permalink": fields.get("permalink") or self._permalink(slug, status, product_id),
                "date_created": created[0],
                "date_created_gmt": created[1],
                "date_modified": modified[0],
                "date_modified_gmt": modified[1],
                "type": product_type,
                "status": status,
                "catalog_visibility": fields.get("catalog_visibility", "visible"),
                "stock_status": fields.get("stock_status", "instock"),
                "short_description": fields.get("short_description", f"<p>{name}.</p>"),
                "description": fields.get("description", f"<p>All about {name}.</p>"),
                "categories": [self._term("product_cat", c) for c in fields.get("categories", ["Uncategorized"])],
                "tags": [self._term("product_tag", t) for t in fields.get("tags", ())],
                "images": [self._image(i, name) for i in fields.get("images", [{}])],
                "variations": [],
            }
            self._set_prices(product, fields, default="12.50")
            self.products[product_id] = product
            if product_type == "variable":
                self.variations.setdefault(product_id, [])
            self._changed()
            pending = self._events("product", "created", product_id)
        self._deliver(pending)
        return product

    @staticmethod
    def _set_prices(record: dict, fields: dict, *, default: str | None) -> None:
        if record.get("type") == "variable":
            # A variable product's prices come from its variations; WooCommerce reports no regular/sale price.
            record["regular_price"] = record["sale_price"] = ""
            record.pop("price", None)
            return
        if "regular_price" in fields or "price" in fields:
            record["regular_price"] = _money(fields["regular_price"] if "regular_price" in fields else fields["price"])
        elif default is not None:
            record["regular_price"] = _money(default)
        if "sale_price" in fields:
            record["sale_price"] = _money(fields["sale_price"])
        record.setdefault("sale_price", "")
        record["price"] = record["sale_price"] or record.get("regular_price", "")

    def add_variation(self, product_id: int, **fields: Any) -> dict:
        """A variation of a "variable" product. `attributes` may be {"Size": "M"} or [{"name", "option"}, ...]."""
        _reject_unknown("variation", fields, _VARIATION_KEYS)
        with self._lock:
            parent = self.products[product_id]
            if parent["type"] != "variable":
                raise ValueError(f"product {product_id} is {parent['type']}, not variable")
            variation_id = fields.pop("id", None) or self._next_post_id
            self._next_post_id = max(self._next_post_id, variation_id + 1)
            attributes = self._variation_attributes(fields.get("attributes", {}))
            created = self._stamp_pair(fields, "date_created", time.time())
            modified = self._stamp_pair(fields, "date_modified", None)
            if modified[0] is None:
                modified = created
            options = ", ".join(a["option"] for a in attributes)
            variation = {
                **fields,
                "id": variation_id,
                "date_created": created[0],
                "date_created_gmt": created[1],
                "date_modified": modified[0],
                "date_modified_gmt": modified[1],
                "sku": fields.get(
                    "sku", f"{parent.get('sku') or parent['slug']}-{len(self.variations[product_id]) + 1}"
                ),
                "status": fields.get("status", "publish"),
                "stock_status": fields.get("stock_status", "instock"),
                "attributes": attributes,
                "name": fields.get("name", f"{parent['name']} - {options}" if options else parent["name"]),
                "parent_id": product_id,
                "permalink": parent["permalink"]
                + ("&" if "?" in parent["permalink"] else "?")
                + "&".join(f"attribute_{a['slug']}={quote(a['option'].lower())}" for a in attributes),
            }
            variation["image"] = self._image(fields["image"], variation["name"]) if fields.get("image") else None
            self._set_prices(variation, fields, default="12.50")
            self.variations[product_id].append(variation)
            parent["variations"].append(variation_id)
            self._variation_index[variation_id] = (product_id, variation)
            self._changed()
            pending = self._events("product", "created", variation_id, variation_of=product_id)
        self._deliver(pending)
        return variation

    def _variation_attributes(self, given: dict | list) -> list[dict]:
        pairs = list(given.items()) if isinstance(given, dict) else [(a["name"], a["option"]) for a in given]
        attributes = []
        for name, option in pairs:
            slug = "pa_" + _slugify(name).replace("-", "_")
            attributes.append({"id": abs(hash(slug)) % 50 + 1, "name": name, "slug": slug, "option": str(option)})
        return attributes

    def update_product(self, product_id: int, **changes: Any) -> dict:
        """Change a product as the merchant would: date_modified moves forward and product.updated is delivered."""
        _reject_unknown("product", changes, _PRODUCT_KEYS - {"id"})
        with self._lock:
            product = self.products[product_id]
            self._apply_product_changes(product, changes)
            product["date_modified"], product["date_modified_gmt"] = self._bumped_modified(product)
            self._changed()
            pending = self._events("product", "updated", product_id)
        self._deliver(pending)
        return product

    def _apply_product_changes(self, product: dict, changes: dict) -> None:
        if "categories" in changes:
            changes["categories"] = [self._term("product_cat", c) for c in changes["categories"]]
        if "tags" in changes:
            changes["tags"] = [self._term("product_tag", t) for t in changes["tags"]]
        if "images" in changes:
            changes["images"] = [self._image(i, changes.get("name", product["name"])) for i in changes["images"]]
        if "slug" in changes:
            self._slugs.discard(product["slug"])
            changes["slug"] = self._unique_slug(changes["slug"])
        price_fields = {k: changes.pop(k) for k in ("price", "regular_price", "sale_price") if k in changes}
        product.update(changes)
        if price_fields:
            self._set_prices(product, price_fields, default=None)
        if ("status" in changes or "slug" in changes) and "permalink" not in changes:
            product["permalink"] = self._permalink(product["slug"], product["status"], product["id"])

    def update_variation(self, product_id: int, variation_id: int, **changes: Any) -> dict:
        """Change a variation; WooCommerce delivers product.updated with the variation as the payload."""
        _reject_unknown("variation", changes, _VARIATION_KEYS - {"id", "parent_id"})
        with self._lock:
            parent_id, variation = self._variation_index[variation_id]
            if parent_id != product_id:
                raise KeyError(variation_id)
            if "attributes" in changes:
                changes["attributes"] = self._variation_attributes(changes["attributes"])
            price_fields = {k: changes.pop(k) for k in ("price", "regular_price", "sale_price") if k in changes}
            variation.update(changes)
            if price_fields:
                self._set_prices(variation, price_fields, default=None)
            variation["date_modified"], variation["date_modified_gmt"] = self._bumped_modified(variation)
            self._changed()
            pending = self._events("product", "updated", variation_id, variation_of=product_id)
        self._deliver(pending)
        return variation

    def trash_product(self, product_id: int) -> None:
        """Move a product to the trash: it leaves status=any listings and product.deleted ({"id": N}) is delivered."""
        with self._lock:
            product = self.products[product_id]
            if product["status"] != "trash":
                self._trashed_from[product_id] = product["status"]
                product["status"] = "trash"
                product["date_modified"], product["date_modified_gmt"] = self._bumped_modified(product)
            self._changed()
            pending = self._events("product", "deleted", product_id)
        self._deliver(pending)

    def restore_product(self, product_id: int) -> None:
        """Take a product out of the trash, back to its previous status, delivering product.restored."""
        with self._lock:
            product = self.products[product_id]
            if product["status"] == "trash":
                product["status"] = self._trashed_from.pop(product_id, "draft")
                product["date_modified"], product["date_modified_gmt"] = self._bumped_modified(product)
            self._changed()
            pending = self._events("product", "restored", product_id)
        self._deliver(pending)

    def delete_product(self, product_id: int) -> None:
        """Delete a product for good (no webhook: WooCommerce's product.deleted is about the trash)."""
        with self._lock:
            del self.products[product_id]
            for variation in self.variations.pop(product_id, []):
                self._variation_index.pop(variation["id"], None)
            self._changed()

    # --- orders ---

    def add_order(self, **fields: Any) -> dict:
        """An order; takes WooCommerce v3 field names and returns the stored record.

        line_items entries need a product_id (and variation_id for a variation); name, sku and price come from the
        catalogue when left out, and `price` there is the unit price. billing and shipping default to made-up
        personal data. customer_id defaults to 0, a guest checkout.
        """
        _reject_unknown("order", fields, _ORDER_KEYS)
        with self._lock:
            order_id = fields.pop("id", None) or self._next_order_id
            self._next_order_id = max(self._next_order_id, order_id + 1)
            status = fields.get("status", "processing")
            if status not in ORDER_STATUSES:
                raise ValueError(f"unknown order status {status!r}")
            created = self._stamp_pair(fields, "date_created", time.time())
            modified = self._stamp_pair(fields, "date_modified", None)
            if modified[0] is None:
                modified = created
            line_items = [self._line_item(item) for item in fields.get("line_items", ())]
            customer_id = fields.get("customer_id", 0)
            billing, shipping = _person(random.Random(order_id), customer_id)
            paid = self._stamp_pair(fields, "date_paid", None)
            if paid[0] is None and status in ("processing", "completed", "refunded"):
                paid = created
            completed = self._stamp_pair(fields, "date_completed", None)
            if completed[0] is None and status == "completed":
                completed = modified
            order = {
                **fields,
                "id": order_id,
                "status": status,
                "currency": fields.get("currency", self.currency),
                "customer_id": customer_id,
                "billing": {**billing, **fields.get("billing", {})},
                "shipping": {**shipping, **fields.get("shipping", {})},
                "date_created": created[0],
                "date_created_gmt": created[1],
                "date_modified": modified[0],
                "date_modified_gmt": modified[1],
                "date_paid": paid[0],
                "date_paid_gmt": paid[1],
                "date_completed": completed[0],
                "date_completed_gmt": completed[1],
                "number": fields.get("number", str(order_id)),
                "order_key": fields.get("order_key", f"wc_order_{secrets.token_hex(7)[:13]}"),
                "line_items": line_items,
                "total": _money(fields["total"])
                if "total" in fields
                else _money(sum((Decimal(line["total"]) for line in line_items), Decimal(0))),
            }
            self.orders[order_id] = order
            self._changed()
            pending = self._events("order", "created", order_id)
        self._deliver(pending)
        return order

    def _line_item(self, fields: dict) -> dict:
        _reject_unknown("line item", fields, _LINE_KEYS)
        product_id = fields.get("product_id", 0)
        variation_id = fields.get("variation_id", 0)
        product = self.products.get(product_id)
        variation = self._variation_index.get(variation_id, (0, None))[1] if variation_id else None
        source = variation or product or {}
        quantity = fields.get("quantity", 1)
        if "price" in fields:
            unit = Decimal(str(fields["price"]))
        elif "total" in fields:
            unit = Decimal(str(fields["total"])) / quantity
        else:
            unit = Decimal(source.get("price") or self._variable_price(product_id) or "10.00")
        total = _money(fields["total"]) if "total" in fields else _money(unit * quantity)
        line = {
            "id": fields.get("id") or self._next_line_id,
            "name": fields.get("name", source.get("name", f"Product {product_id}")),
            "product_id": product_id,
            "variation_id": variation_id,
            "quantity": quantity,
            "subtotal": _money(fields.get("subtotal", total)),
            "total": total,
            "sku": fields.get("sku", source.get("sku", "")),
            "price": _number(Decimal(total) / quantity if quantity else Decimal(0)),
            "meta_data": list(fields.get("meta_data", self._variation_meta(variation))),
        }
        self._next_line_id = max(self._next_line_id, line["id"] + 1)
        return line

    def _variation_meta(self, variation: dict | None) -> list[dict]:
        # The chosen attributes travel in the line's meta_data, e.g. {"key": "pa_size", "value": "m"}.
        if not variation:
            return []
        meta = []
        for attribute in variation["attributes"]:
            meta.append(
                {
                    "id": self._next_meta_id,
                    "key": attribute["slug"],
                    "value": _slugify(attribute["option"]),
                    "display_key": attribute["name"],
                    "display_value": attribute["option"],
                }
            )
            self._next_meta_id += 1
        return meta

    def update_order(self, order_id: int, **changes: Any) -> dict:
        """Change an order: date_modified moves forward and order.updated is delivered."""
        _reject_unknown("order", changes, _ORDER_KEYS - {"id"})
        with self._lock:
            order = self.orders[order_id]
            if "status" in changes and changes["status"] not in ORDER_STATUSES:
                raise ValueError(f"unknown order status {changes['status']!r}")
            if "line_items" in changes:
                changes["line_items"] = [self._line_item(item) for item in changes["line_items"]]
                changes.setdefault(
                    "total", _money(sum((Decimal(line["total"]) for line in changes["line_items"]), Decimal(0)))
                )
            for address in ("billing", "shipping"):
                if address in changes:
                    changes[address] = {**order[address], **changes[address]}
            order.update(changes)
            modified = self._bumped_modified(order)
            order["date_modified"], order["date_modified_gmt"] = modified
            if order["status"] == "completed" and not order.get("date_completed"):
                order["date_completed"], order["date_completed_gmt"] = modified
            if order["status"] in ("processing", "completed") and not order.get("date_paid"):
                order["date_paid"], order["date_paid_gmt"] = modified
            self._changed()
            pending = self._events("order", "updated", order_id)
        self._deliver(pending)
        return order

    def delete_order(self, order_id: int, *, force: bool = False) -> None:
        """Trash an order (status "trash", out of status=any listings) or, with force, delete it; order.deleted."""
        with self._lock:
            if force:
                del self.orders[order_id]
            else:
                order = self.orders[order_id]
                order["status"] = "trash"
                order["date_modified"], order["date_modified_gmt"] = self._bumped_modified(order)
            self._changed()
            pending = self._events("order", "deleted", order_id)
        self._deliver(pending)

    # --- bulk data ---

    def populate(
        self,
        *,
        products: int,
        orders: int,
        variable_share: float = 0.2,
        days: int = 365,
        seed: int | None = None,
        now: datetime | float | None = None,
    ) -> None:
        """Fill the store with deterministic, plausible data (the same seed and `now` give the same store).

        Products: mostly published and visible, with some hidden, draft, private, pending and out-of-stock ones;
        `variable_share` of them variable with 2-4 variations. Orders over the last `days` days: 1-4 lines, a few
        popular products, fixed "bought together" partners, mostly processing/completed, some guests. Built directly
        rather than through add_order (and without webhooks) so that 50k orders take a few seconds.
        """
        rng = random.Random(self.seed if seed is None else seed)
        end = int(now.timestamp() if isinstance(now, datetime) else now if now is not None else time.time())
        with self._lock:
            sellable = self._populate_products(rng, products, variable_share, days, end)
            self._populate_orders(rng, sellable, orders, days, end)
            self._changed()

    def _populate_products(
        self, rng: random.Random, count: int, variable_share: float, days: int, end: int
    ) -> list[tuple[dict, list[dict]]]:
        categories = [self._term("product_cat", name) for name in _CATEGORIES]
        tags = [self._term("product_tag", name) for name in _TAGS]
        span = (days + 90) * 86400
        sellable: list[tuple[dict, list[dict]]] = []
        for _ in range(count):
            product_id = self._next_post_id
            self._next_post_id += 1
            created = end - rng.randrange(span)
            modified = created + rng.randrange(end - created + 1) if rng.random() < 0.6 else created
            created_local, created_gmt = self._dates(created)
            modified_local, modified_gmt = self._dates(modified)
            roll = rng.random()
            status = "publish" if roll < 0.9 else "draft" if roll < 0.95 else "private" if roll < 0.98 else "pending"
            visibility = "hidden" if rng.random() < 0.04 else "catalog" if rng.random() < 0.02 else "visible"
            roll = rng.random()
            stock_status = "outofstock" if roll < 0.08 else "onbackorder" if roll < 0.1 else "instock"
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            slug = self._unique_slug(_slugify(name))
            variable = rng.random() < variable_share
            cents = rng.randrange(300, 15000)
            on_sale = rng.random() < 0.15
            images = []
            for index in range(0 if rng.random() < 0.05 else rng.randint(1, 3)):
                image_id = self._next_post_id
                self._next_post_id += 1
                images.append(
                    {
                        "id": image_id,
                        "src": f"{self.base_url}/wp-content/uploads/2025/06/{slug}-{index + 1}.jpg",
                        "name": f"{slug}-{index + 1}",
                        "alt": name if index == 0 else "",
                    }
                )
            product = {
                "id": product_id,
                "name": name,
                "slug": slug,
                "permalink": self._permalink(slug, status, product_id),
                "date_created": created_local,
                "date_created_gmt": created_gmt,
                "date_modified": modified_local,
                "date_modified_gmt": modified_gmt,
                "type": "variable" if variable else "simple",
                "status": status,
                "featured": rng.random() < 0.03,
                "catalog_visibility": visibility,
                "description": f"<p>The {name.lower()}: {rng.choice(_BLURBS)}</p>",
                "short_description": f"<p>{rng.choice(_BLURBS)}</p>",
                "sku": "" if rng.random() < 0.1 else f"SKU-{product_id}",
                "regular_price": "" if variable else _cents(cents),
                "sale_price": _cents(cents * 4 // 5) if on_sale and not variable else "",
                "stock_status": stock_status,
                "categories": rng.sample(categories, rng.randint(1, 2)),
                "tags": rng.sample(tags, rng.randrange(3)),
                "images": images,
                "variations": [],
                "total_sales": 0,
            }
            if not variable:
                product["price"] = product["sale_price"] or product["regular_price"]
            self.products[product_id] = product
            variations: list[dict] = []
            if variable:
                attribute_name, options = rng.choice(_VARIATION_AXES)
                chosen = options[: rng.randint(2, min(4, len(options)))]
                slug_name = "pa_" + _slugify(attribute_name)
                product["attributes"] = [
                    {
                        "id": 1 if attribute_name == "Size" else 2,
                        "name": attribute_name,
                        "slug": slug_name,
                        "position": 0,
                        "visible": True,
                        "variation": True,
                        "options": list(chosen),
                    }
                ]
                product["has_options"] = True
                self.variations[product_id] = variations
                for position, option in enumerate(chosen):
                    variation_id = self._next_post_id
                    self._next_post_id += 1
                    price = _cents(cents + position * 200)
                    attributes = [
                        {
                            "id": product["attributes"][0]["id"],
                            "name": attribute_name,
                            "slug": slug_name,
                            "option": option,
                        }
                    ]
                    variation = {
                        "id": variation_id,
                        "date_created": created_local,
                        "date_created_gmt": created_gmt,
                        "date_modified": modified_local,
                        "date_modified_gmt": modified_gmt,
                        "permalink": f"{product['permalink']}?attribute_{slug_name}={_slugify(option)}",
                        "sku": f"SKU-{product_id}-{_slugify(option)}",
                        "price": price,
                        "regular_price": price,
                        "sale_price": "",
                        "status": "publish",
                        "stock_status": "outofstock" if rng.random() < 0.1 else "instock",
                        "attributes": attributes,
                        "menu_order": position,
                        "name": f"{name} - {option}",
                        "parent_id": product_id,
                        # Order lines of this variation share this list: it is read, never changed in place.
                        "_line_meta": [
                            {
                                "id": 0,
                                "key": slug_name,
                                "value": _slugify(option),
                                "display_key": attribute_name,
                                "display_value": option,
                            }
                        ],
                    }
                    variations.append(variation)
                    product["variations"].append(variation_id)
                    self._variation_index[variation_id] = (product_id, variation)
            # Orders also sell products that were unpublished later; only published ones sell often.
            sellable.append((product, variations))
        return sellable

    def _populate_orders(
        self, rng: random.Random, sellable: list[tuple[dict, list[dict]]], count: int, days: int, end: int
    ) -> None:
        if not sellable:
            sellable = [
                (p, self.variations.get(p["id"], [])) for p in self.products.values() if p["status"] == "publish"
            ]
        random_unit = rng.random
        order = list(range(len(sellable)))
        rng.shuffle(order)
        weights = [0.0] * len(sellable)
        for rank, position in enumerate(order):
            published = sellable[position][0]["status"] == "publish"
            weights[position] = (1 / (rank + 1) ** 0.9) * (1.0 if published else 0.15)
        cumulative = list(itertools.accumulate(weights))
        total_weight = cumulative[-1] if cumulative else 0.0
        partners = [rng.randrange(len(sellable)) for _ in sellable] if sellable else []
        deleted_ids = []
        for _ in range(max(1, len(sellable) // 100)):
            deleted_ids.append(self._next_post_id)  # ids of products deleted since: lines still point at them
            self._next_post_id += 1

        customers = max(1, count // 3)
        people = [_person(rng, index + 2) for index in range(customers)]
        guests = [_person(rng, 0) for _ in range(min(max(1, count // 10), 2000))]
        customer_cumulative = list(itertools.accumulate(1 / (rank + 1) ** 0.5 for rank in range(customers)))
        customer_total = customer_cumulative[-1]
        status_cumulative = list(itertools.accumulate(weight for _, weight in _ORDER_STATUS_WEIGHTS))
        status_total = status_cumulative[-1]
        lines_cumulative = [45, 75, 90, 100]
        span = days * 86400
        offset = self._offset_seconds
        strftime, gmtime = time.strftime, time.gmtime
        currency, symbol = self.currency, _CURRENCY_SYMBOLS.get(self.currency, self.currency)
        empty_meta: list = []
        order_id = self._next_order_id
        line_id = self._next_line_id
        for created in sorted(end - rng.randrange(span) for _ in range(count)):
            lines = []
            total = 0
            if sellable:
                size = bisect.bisect(lines_cumulative, random_unit() * 100) + 1
                picks = [
                    min(bisect.bisect(cumulative, random_unit() * total_weight), len(sellable) - 1) for _ in range(size)
                ]
                if random_unit() < 0.35:
                    picks.append(partners[picks[0]])
                for position in dict.fromkeys(picks):
                    product, variations = sellable[position]
                    quantity = 1 if random_unit() < 0.8 else rng.randint(2, 3)
                    if variations:
                        variation = variations[rng.randrange(len(variations))]
                        unit, name, sku = variation["price"] or "10.00", variation["name"], variation["sku"]
                        variation_id = variation["id"]
                        meta = variation.get("_line_meta") or self._variation_meta(variation)
                    else:
                        unit, name, sku = product.get("price") or "10.00", product["name"], product.get("sku", "")
                        variation_id, meta = 0, empty_meta
                    unit_cents = int(unit.replace(".", ""))
                    line_cents = unit_cents * quantity
                    total += line_cents
                    line_total = _cents(line_cents)
                    product["total_sales"] = product.get("total_sales", 0) + quantity
                    lines.append(
                        {
                            "id": line_id,
                            "name": name,
                            "product_id": product["id"],
                            "variation_id": variation_id,
                            "quantity": quantity,
                            "subtotal": line_total,
                            "total": line_total,
                            "sku": sku,
                            "price": unit_cents // 100 if unit_cents % 100 == 0 else unit_cents / 100,
                            "meta_data": meta,
                        }
                    )
                    line_id += 1
                if random_unit() < 0.005:
                    lines.append(
                        {
                            "id": line_id,
                            "name": "Discontinued item",
                            "product_id": deleted_ids[rng.randrange(len(deleted_ids))],
                            "variation_id": 0,
                            "quantity": 1,
                            "subtotal": "9.00",
                            "total": "9.00",
                            "sku": "",
                            "price": 9,
                            "meta_data": empty_meta,
                        }
                    )
                    line_id += 1
                    total += 900
            status = _ORDER_STATUS_WEIGHTS[bisect.bisect(status_cumulative, random_unit() * status_total)][0]
            if random_unit() < 0.15:
                customer_id = 0
                billing, shipping = guests[rng.randrange(len(guests))]
            else:
                index = min(bisect.bisect(customer_cumulative, random_unit() * customer_total), customers - 1)
                customer_id = index + 2
                billing, shipping = people[index]
            if status in ("completed", "refunded", "cancelled"):
                modified = min(end, created + rng.randrange(3600, 4 * 86400))
            else:
                modified = min(end, created + rng.randrange(5, 120))
            created_gmt = strftime(_DATE_FORMAT, gmtime(created))
            modified_gmt = strftime(_DATE_FORMAT, gmtime(modified))
            if offset:
                created_local = strftime(_DATE_FORMAT, gmtime(created + offset))
                modified_local = strftime(_DATE_FORMAT, gmtime(modified + offset))
            else:
                created_local, modified_local = created_gmt, modified_gmt
            paid = status in ("processing", "completed", "refunded")
            record = {
                "id": order_id,
                "status": status,
                "currency": currency,
                "currency_symbol": symbol,
                "date_created": created_local,
                "date_created_gmt": created_gmt,
                "date_modified": modified_local,
                "date_modified_gmt": modified_gmt,
                "date_paid": created_local if paid else None,
                "date_paid_gmt": created_gmt if paid else None,
                "date_completed": modified_local if status == "completed" else None,
                "date_completed_gmt": modified_gmt if status == "completed" else None,
                "total": _cents(total),
                "customer_id": customer_id,
                "billing": billing,
                "shipping": shipping,
                "number": str(order_id),
                "order_key": f"wc_order_{order_id:x}{created:x}"[:22],
                "line_items": lines,
            }
            self.orders[order_id] = record
            order_id += 1
        self._next_order_id = order_id
        self._next_line_id = line_id

    # --- faults ---

    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """The next n REST requests fail with `status` and an HTML body, as a host or proxy in front would answer."""
        with self._lock:
            self._faults.extend([("fail", status, retry_after)] * n)

    def fail_randomly(self, rate: float) -> None:
        """This share of REST requests (after queued faults) answer 503; the sequence is fixed by the seed."""
        with self._lock:
            self._random_failure_rate = rate

    def challenge_next(self, n: int = 1) -> None:
        """The next n REST requests get a Cloudflare managed challenge: 403, cf-mitigated: challenge, HTML."""
        with self._lock:
            self._faults.extend([("challenge", 403, None)] * n)

    def login_page_next(self, n: int = 1) -> None:
        """The next n REST requests get the WordPress login page with 200, like a host guarding the API."""
        with self._lock:
            self._faults.extend([("login", 200, None)] * n)

    def truncated_next(self, n: int = 1) -> None:
        """The next n REST requests answer 200 with a JSON content type and a body cut off midway,
        as when PHP hits its time or memory limit after the headers went out."""
        with self._lock:
            self._faults.extend([("truncated", 200, None)] * n)

    def _fault(self) -> _Reply | None:
        if self._faults:
            kind, status, retry_after = self._faults.popleft()
        elif self._random_failure_rate and self._fault_random.random() < self._random_failure_rate:
            kind, status, retry_after = "fail", 503, None
        else:
            return None
        if kind == "challenge":
            return _html_reply(
                403,
                _CHALLENGE_PAGE,
                [("cf-mitigated", "challenge"), ("Server", "cloudflare"), ("CF-RAY", f"{secrets.token_hex(8)}-AMS")],
            )
        if kind == "login":
            return _html_reply(200, _LOGIN_PAGE.format(site=self.site_name, base=self.base_url))
        if kind == "truncated":
            return _Reply(200, b'[{"id":12,"name":"Linen apr', list(_REST_HEADERS))
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        headers = [("Retry-After", f"{retry_after:g}")] if retry_after is not None else []
        page = f"<html><head><title>{status} {phrase}</title></head><body><h1>{phrase}</h1></body></html>"
        return _html_reply(status, page, headers)

    # --- webhooks delivered by the store ---

    def _events(self, resource: str, event: str, resource_id: int, *, variation_of: int | None = None) -> list[dict]:
        """The deliveries an event causes, with their bodies built now (under the lock), to be sent after it."""
        topic = f"{resource}.{event}"
        targets = [w for w in self.webhooks.values() if w["status"] == "active" and w["topic"] == topic]
        if not targets:
            return []
        if event == "deleted":
            payload: dict = {"id": resource_id}
        elif resource == "product" and variation_of is not None:
            payload = self._render_variation(self._variation_index[resource_id][1])
        elif resource == "product":
            payload = self._render_product(self.products[resource_id])
        else:
            payload = self._render_order(self.orders[resource_id])
        body = wp_json(payload)
        return [
            {
                "webhook_id": webhook["id"],
                "topic": topic,
                "resource": resource,
                "event": event,
                "url": webhook["delivery_url"],
                "secret": webhook["secret"],
                "body": body,
            }
            for webhook in targets
        ]

    def _deliver(self, pending: list[dict]) -> None:
        for delivery in pending:
            # wp_hash( $id . time() ) in WooCommerce; the counter keeps two deliveries in one second apart.
            delivery_id = hashlib.md5(
                f"{delivery['webhook_id']}{time.time()}{next(self._delivery_counter)}".encode()
            ).hexdigest()
            key = _specialchars_decode(delivery["secret"]).encode()
            signature = base64.b64encode(hmac.new(key, delivery["body"], hashlib.sha256).digest()).decode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": HOOKSHOT_USER_AGENT,
                "X-WC-Webhook-Source": self.base_url + "/",
                "X-WC-Webhook-Topic": delivery["topic"],
                "X-WC-Webhook-Resource": delivery["resource"],
                "X-WC-Webhook-Event": delivery["event"],
                "X-WC-Webhook-Signature": signature,
                "X-WC-Webhook-ID": str(delivery["webhook_id"]),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
            try:
                status: int | None = (
                    self._client().post(delivery["url"], content=delivery["body"], headers=headers).status_code
                )
            except httpx.HTTPError:
                status = None
            with self._lock:
                self.deliveries.append(
                    {
                        "webhook_id": delivery["webhook_id"],
                        "topic": delivery["topic"],
                        "status_code": status,
                        "delivery_id": delivery_id,
                    }
                )
                webhook = self.webhooks.get(delivery["webhook_id"])
                if webhook is None:
                    continue
                # WC_Webhook::deliver counts 2xx, 300, 301 and 302 as delivered, though it never follows a redirect.
                if status is not None and 200 <= status < 303:
                    webhook["failure_count"] = 0
                elif webhook["failure_count"] > MAX_DELIVERY_FAILURES:
                    webhook["status"] = "disabled"
                else:
                    webhook["failure_count"] += 1

    def _ping(self, webhook_id: int, url: str) -> None:
        # deliver_ping(): a form body, no X-WC-Webhook-* headers and no signature. Its answer does not matter to REST.
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": HOOKSHOT_USER_AGENT}
        status: int | None = None
        try:
            status = self._client().post(url, content=f"webhook_id={webhook_id}".encode(), headers=headers).status_code
        except httpx.HTTPError:
            pass
        with self._lock:
            self.pings.append({"webhook_id": webhook_id, "url": url, "status_code": status})

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._outgoing is None:
                # No proxies from the environment (loopback must stay loopback) and no redirects, like WordPress's
                # webhook requests; certificates of https receivers on loopback are not checked.
                self._outgoing = httpx.Client(
                    verify=False, follow_redirects=False, timeout=self.delivery_timeout, trust_env=False
                )
            return self._outgoing

    def add_webhook(
        self, *, topic: str, delivery_url: str, secret: str = "", name: str = "", status: str = "active"
    ) -> dict:
        """A webhook made in wp-admin: no ping, and any status."""
        with self._lock:
            webhook = self._new_webhook(topic, delivery_url, secret or secrets.token_urlsafe(37), name)
            webhook["status"] = status
            return webhook

    def _new_webhook(self, topic: str, delivery_url: str, secret: str, name: str) -> dict:
        webhook_id = self._next_webhook_id
        self._next_webhook_id += 1
        local, gmt = self._dates(math.floor(time.time()))
        resource, _, event = topic.partition(".")
        webhook = {
            "id": webhook_id,
            "name": name or f"Webhook created on {time.strftime('%b %d, %Y @ %I:%M %p', time.gmtime())}",
            "status": "active",
            "topic": topic,
            "resource": resource,
            "event": event,
            "hooks": list(_TOPIC_HOOKS.get(topic, [topic[len("action.") :]] if topic.startswith("action.") else [])),
            "delivery_url": delivery_url,
            "secret": secret,
            "api_version": "wp_api_v3",
            "failure_count": 0,
            "date_created": local,
            "date_created_gmt": gmt,
            "date_modified": local,
            "date_modified_gmt": gmt,
        }
        self.webhooks[webhook_id] = webhook
        return webhook

    @staticmethod
    def _valid_topic(topic: Any) -> bool:
        if not isinstance(topic, str) or not topic:
            return False
        topic = topic.lower()
        if topic.startswith("action.woocommerce_") or topic.startswith("action.wc_"):
            return True
        resource, _, event = topic.partition(".")
        return resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS

    @staticmethod
    def _valid_delivery_url(url: Any) -> bool:
        # wc_is_valid_url: a literal http:// or https:// prefix, then FILTER_VALIDATE_URL.
        return (
            isinstance(url, str)
            and (url.startswith("http://") or url.startswith("https://"))
            and FakeWooCommerce._valid_url(url)
        )

    # --- rendering: what GET returns ---

    def _links(self, route: str, collection: str, extra: dict | None = None) -> dict:
        links = {"self": [{"href": self.rest_url(route)}], "collection": [{"href": self.rest_url(collection)}]}
        if extra:
            links.update(extra)
        return links

    def _variable_price(self, product_id: int) -> str:
        prices = [
            Decimal(v["price"])
            for v in self.variations.get(product_id, ())
            if v.get("price") and v.get("status", "publish") == "publish"
        ]
        return _money(min(prices)) if prices else ""

    def _price_html(self, price: str) -> str:
        if not price:
            return ""
        symbol = _CURRENCY_SYMBOLS.get(self.currency, self.currency)
        return (
            '<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol">'
            f"{symbol}</span>{price}</bdi></span>"
        )

    def _related_ids(self, product: dict) -> list[int]:
        # wc_get_related_products: up to 5 visible, published products sharing a category, shuffled on every call.
        if self._category_index is None:
            index: dict[int, list[int]] = collections.defaultdict(list)
            for candidate in self.products.values():
                if candidate["status"] == "publish" and candidate.get("catalog_visibility", "visible") in (
                    "visible",
                    "catalog",
                ):
                    for category in candidate.get("categories", ()):
                        index[category["id"]].append(candidate["id"])
            self._category_index = index
        pool: set[int] = set()
        for category in product.get("categories", ()):
            ids = self._category_index.get(category["id"], ())
            pool.update(ids if len(ids) <= 30 else self._related_random.sample(ids, 30))
        pool.discard(product["id"])
        chosen = list(pool)
        self._related_random.shuffle(chosen)
        return chosen[:5]

    def _render_product(self, product: dict) -> dict:
        data = _fill(product, _PRODUCT_TEMPLATE)
        if data["type"] == "variable":
            data["price"] = self._variable_price(product["id"])
            data["has_options"] = True
        data["on_sale"] = bool(data["sale_price"]) and data["sale_price"] != data["regular_price"]
        data["purchasable"] = data["price"] != "" and data["status"] in ("publish", "private")
        data["price_html"] = self._price_html(data["price"])
        data["related_ids"] = self._related_ids(product)
        data["_links"] = self._links(f"/wc/v3/products/{product['id']}", "/wc/v3/products")
        return data

    def _render_variation(self, variation: dict) -> dict:
        data = _fill(variation, _VARIATION_TEMPLATE)
        data["on_sale"] = bool(data["sale_price"]) and data["sale_price"] != data["regular_price"]
        data["purchasable"] = data["price"] != ""
        parent = variation["parent_id"]
        data["_links"] = self._links(
            f"/wc/v3/products/{parent}/variations/{variation['id']}",
            f"/wc/v3/products/{parent}/variations",
            {"up": [{"href": self.rest_url(f"/wc/v3/products/{parent}")}]},
        )
        return data

    def _render_order(self, order: dict) -> dict:
        data = _fill(order, _ORDER_TEMPLATE)
        data["billing"] = {**dict.fromkeys(_ADDRESS_KEYS, ""), "email": "", "phone": "", **(order.get("billing") or {})}
        data["shipping"] = {**dict.fromkeys(_ADDRESS_KEYS, ""), "phone": "", **(order.get("shipping") or {})}
        data["line_items"] = [self._render_line(line) for line in order.get("line_items", ())]
        data["currency_symbol"] = order.get("currency_symbol") or _CURRENCY_SYMBOLS.get(
            data["currency"], data["currency"]
        )
        status = data["status"]
        data["is_editable"] = status in ("pending", "on-hold", "checkout-draft")
        data["needs_payment"] = status in ("pending", "failed") and data["total"] != "0.00"
        data["payment_url"] = (
            f"{self.base_url}/checkout/order-pay/{order['id']}/?pay_for_order=true&key={data['order_key']}"
        )
        links = (
            {"customer": [{"href": self.rest_url(f"/wc/v3/customers/{data['customer_id']}")}]}
            if data["customer_id"]
            else None
        )
        data["_links"] = self._links(f"/wc/v3/orders/{order['id']}", "/wc/v3/orders", links)
        return data

    def _render_line(self, line: dict) -> dict:
        data = _fill(line, _LINE_TEMPLATE)
        # meta_data of populated lines is a shared list whose entries carry id 0; give each line its own ids.
        if data["meta_data"] and data["meta_data"][0].get("id") == 0:
            data["meta_data"] = [
                {**meta, "id": line["id"] * 10 + index} for index, meta in enumerate(data["meta_data"])
            ]
        product = self.products.get(line.get("product_id", 0))
        variation = self._variation_index.get(line.get("variation_id", 0), (0, None))[1]
        image_source = (variation or {}).get("image") or (
            product["images"][0] if product and product.get("images") else None
        )
        data["image"] = (
            {"id": image_source["id"], "src": image_source["src"]} if image_source else {"id": "", "src": ""}
        )
        data["parent_name"] = product["name"] if variation and product else None
        return data

    def _render_webhook(self, webhook: dict) -> dict:
        data = {
            key: webhook[key]
            for key in (
                "id",
                "name",
                "status",
                "topic",
                "resource",
                "event",
                "hooks",
                "delivery_url",
                "date_created",
                "date_created_gmt",
                "date_modified",
                "date_modified_gmt",
            )
        }
        data["_links"] = self._links(f"/wc/v3/webhooks/{webhook['id']}", "/wc/v3/webhooks")
        return data

    # --- request handling ---

    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> _Reply:
        split = urlsplit(target)
        path, query = split.path, split.query
        route: str | None = None
        plain = False
        if path == "/wp-json" or path.startswith("/wp-json/"):
            if self.pretty_permalinks:
                route = path[len("/wp-json") :] or "/"
        elif path in ("/", "/index.php") and "rest_route=" in query:
            candidate = _php_parse_query(query).get("rest_route")
            if isinstance(candidate, str):
                route, plain = candidate, True
        if route is None:
            return self._site_page(method, path)
        followups: list[Callable[[], None]] = []
        with self._lock:
            reply = self._rest(method, route, plain, path, query, headers, body, followups)
        for followup in followups:
            followup()
        return reply

    def _site_page(self, method: str, path: str) -> _Reply:
        if path.startswith("/wc-auth/"):
            return _html_reply(200, _LOGIN_PAGE.format(site=self.site_name, base=self.base_url))
        if path in ("/", "/index.php"):
            return _html_reply(
                200, f"<!DOCTYPE html><html><head><title>{self.site_name}</title></head><body></body></html>"
            )
        return _html_reply(
            404,
            f"<!DOCTYPE html><html><head><title>Page not found &#8211; {self.site_name}</title></head></html>",
        )

    def _rest(
        self,
        method: str,
        route: str,
        plain: bool,
        path: str,
        query: str,
        headers: Any,
        body: bytes,
        followups: list[Callable[[], None]],
    ) -> _Reply:
        get_params = _php_parse_query(query)
        route = route.rstrip("/") or "/"
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "route": route,
            "query": get_params,
            "status": None,
            "auth": None,
            "authenticated": False,
        }
        self.requests.append(entry)
        fault = self._fault()
        if fault is not None:
            entry["status"] = fault.status
            return fault
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        post_params = (
            _php_parse_query(body.decode("utf-8", "replace"))
            if content_type == "application/x-www-form-urlencoded"
            else {}
        )
        try:
            reply = self._dispatch(
                method, route, plain, path, get_params, post_params, content_type, headers, body, entry, followups
            )
        except _Rejected as rejected:
            reply = _json_reply(rejected.status, rejected.body)
        reply.headers[:0] = _REST_HEADERS
        entry["status"] = reply.status
        return reply

    def _authenticate(
        self, method: str, path: str, get_params: dict, post_params: dict, headers: Any, entry: dict
    ) -> ApiKey | None:
        """WC_REST_Authentication::authenticate, step by step; raises the error it would leave behind."""
        authorization = "" if self.strip_authorization else (headers.get("Authorization") or "").strip()
        error: _Rejected | None = None
        key: ApiKey | None = None
        if not _php_empty(get_params.get("consumer_key")) and not _php_empty(get_params.get("consumer_secret")):
            entry["auth"] = "query"
        elif authorization.lower().startswith("basic "):
            entry["auth"] = "basic"
        if self.tls:
            consumer_key = consumer_secret = None
            if entry["auth"] == "query":
                consumer_key, consumer_secret = get_params["consumer_key"], get_params["consumer_secret"]
            elif entry["auth"] == "basic":
                try:
                    decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8", "replace")
                except ValueError:  # binascii.Error included
                    decoded = ""
                user, sep, password = decoded.partition(":")
                if sep and user and password:
                    consumer_key, consumer_secret = user, password
            if isinstance(consumer_key, str) and isinstance(consumer_secret, str):
                # An unknown key is not an error here: the request just goes on unauthenticated (or to OAuth).
                key = self._key_by_consumer_key(consumer_key)
                if key is not None and not _same(key.consumer_secret, consumer_secret):
                    error = _Rejected(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
                    key = None
            if key is not None:
                return key

        params = {**get_params, **post_params}
        if authorization.startswith("OAuth "):
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?::?"([^"]*)"|([^,]*))', authorization):
                params[name] = unquote_plus(quoted or bare)
        required = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
        missing = [name for name in required if _php_empty(params.get(name))]
        if len(missing) < len(required):
            entry["auth"] = "oauth"
            if missing:
                noun = "parameter" if len(missing) == 1 else "parameters"
                raise _Rejected(
                    401,
                    "woocommerce_rest_authentication_missing_parameter",
                    f"Missing OAuth {noun} {', '.join(missing)}",
                )
            key = self._key_by_consumer_key(params["oauth_consumer_key"])
            if key is None:
                raise _Rejected(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
            self._check_signature(key, method, path, params)
            self._check_timestamp_and_nonce(key, params["oauth_timestamp"], params["oauth_nonce"])
            return key
        if error is not None:
            raise error
        return None

    def _check_signature(self, key: ApiKey, method: str, path: str, params: dict) -> None:
        # The URL is the home URL WordPress believes in plus the request path: a client that signs another host
        # name or scheme than the store's own gets "provided signature does not match".
        request_path = path[1:] if path.startswith("/") else path
        base_url = self.base_url + ("/" + request_path.lstrip("/") if request_path else "")
        signature = unquote(str(params["oauth_signature"]).replace(" ", "+"))
        signed = {k: v for k, v in params.items() if k != "oauth_signature"}
        pairs: list[str] = []

        def join(items: Iterable[tuple[Any, Any]], prefix: str = "") -> None:
            for raw_key, value in items:
                name = f"{prefix}%5B{raw_key}%5D" if prefix else rfc3986(str(raw_key))
                if isinstance(value, dict):
                    join(value.items(), name)
                else:
                    pairs.append(rfc3986(f"{name}={rfc3986(str(value))}"))

        # uksort( $params, 'strcmp' ): byte order of the keys; only the top level is sorted.
        join(sorted(signed.items(), key=lambda item: str(item[0]).encode()))
        string_to_sign = f"{method.upper()}&{rfc3986(base_url)}&{'%26'.join(pairs)}"
        algorithm = params["oauth_signature_method"]
        if algorithm not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise _Rejected(
                401, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid."
            )
        digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
        expected = base64.b64encode(
            hmac.new((key.consumer_secret + "&").encode(), string_to_sign.encode(), digest).digest()
        ).decode()
        if not _same(expected, signature):
            raise _Rejected(
                401, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."
            )

    def _check_timestamp_and_nonce(self, key: ApiKey, raw_timestamp: Any, nonce: Any) -> None:
        now = time.time()
        try:
            timestamp = int(str(raw_timestamp).strip())
        except ValueError:
            timestamp = 0
        if timestamp < now - OAUTH_WINDOW_SECONDS or timestamp > now + OAUTH_WINDOW_SECONDS:
            raise _Rejected(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        if nonce in key.nonces.values():
            raise _Rejected(
                401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used."
            )
        key.nonces[timestamp] = nonce
        for stamp in [stamp for stamp in key.nonces if stamp < now - OAUTH_WINDOW_SECONDS]:
            del key.nonces[stamp]

    @staticmethod
    def _check_key_permissions(key: ApiKey, method: str) -> None:
        permissions = key.permissions
        if method in ("GET", "HEAD") and permissions not in ("read", "read_write"):
            raise _Rejected(
                401, "woocommerce_rest_authentication_error", "The API key provided does not have read permissions."
            )
        if method in ("POST", "PUT", "PATCH", "DELETE") and permissions not in ("write", "read_write"):
            raise _Rejected(
                401, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions."
            )

    @staticmethod
    def _require(key: ApiKey | None, denial: tuple[str, str]) -> None:
        # rest_authorization_required_code(): 401 when nobody is logged in, 403 when the user lacks the capability.
        if key is None:
            raise _Rejected(401, *denial)
        if not key.user_can:
            raise _Rejected(403, *denial)

    def _dispatch(
        self,
        method: str,
        route: str,
        plain: bool,
        path: str,
        get_params: dict,
        post_params: dict,
        content_type: str,
        headers: Any,
        body: bytes,
        entry: dict,
        followups: list[Callable[[], None]],
    ) -> _Reply:
        key: ApiKey | None = None
        lowered = route.lower()
        if lowered.startswith("/wc/") or lowered.startswith("/wc-"):
            key = self._authenticate(method, path, get_params, post_params, headers, entry)
            entry["authenticated"] = key is not None
            if key is not None:
                self._check_key_permissions(key, method)
                key.last_access = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        match = self._match_route(lowered)
        verb = "GET" if method == "HEAD" else method
        if match is None or (verb != "OPTIONS" and verb not in match[1]):
            raise _Rejected(404, "rest_no_route", "No route was found matching the URL and request method.")
        name, methods, ids = match
        if verb == "OPTIONS":
            return self._options(name, methods, route)

        params = dict(get_params)
        if verb in ("POST", "PUT", "PATCH", "DELETE"):
            params.update(post_params)
            if content_type == "application/json" and body.strip():
                try:
                    decoded = json.loads(body)
                except ValueError as error:
                    raise _Rejected(400, "rest_invalid_json", "Invalid JSON body passed.", json_error_code=4) from error
                if isinstance(decoded, dict):
                    params.update(decoded)
        fields = _fields_tree(params.get("_fields"))
        context = _Context(plain=plain, route=route, get_params=get_params, fields=fields, key=key)

        if name == "index":
            return _json_reply(200, self._index())
        if name == "namespace":
            return _json_reply(200, {"namespace": "wc/v3", "routes": self._route_descriptions(), "_links": {}})
        if name == "system_status":
            self._require(key, CANNOT_LIST)
            return _json_reply(200, _only(self._system_status(), fields))
        if name in ("settings_group", "setting"):
            return self._settings(name, ids, key, fields)
        if name in ("products", "orders", "variations", "webhooks") and verb == "GET":
            values = _validate(self._collection_args(name), params)
            self._require(key, CANNOT_LIST)
            return self._collection(name, values, context, ids.get("product_id"))
        if name == "webhooks":  # POST
            return self._create_webhook(params, context, followups)
        if name == "product":
            product = self.products.get(ids["id"])
            if product is None:
                raise _Rejected(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            self._require(key, CANNOT_VIEW)
            return _json_reply(200, _only(self._render_product(product), fields))
        if name == "variation":
            found = self._variation_index.get(ids["id"])
            if found is None or found[0] != ids["product_id"]:
                raise _Rejected(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
            self._require(key, CANNOT_VIEW)
            return _json_reply(200, _only(self._render_variation(found[1]), fields))
        if name == "order":
            order = self.orders.get(ids["id"])
            if order is None:
                raise _Rejected(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            self._require(key, CANNOT_VIEW)
            return _json_reply(200, _only(self._render_order(order), fields))
        return self._webhook_item(verb, ids["id"], params, context, followups)

    _ROUTES: tuple[tuple[str, re.Pattern, tuple[str, ...]], ...] = (
        ("index", re.compile(r"^/$"), ("GET",)),
        ("namespace", re.compile(r"^/wc/v3$"), ("GET",)),
        ("system_status", re.compile(r"^/wc/v3/system_status$"), ("GET",)),
        ("settings_group", re.compile(r"^/wc/v3/settings/(?P<group>[\w-]+)$"), ("GET",)),
        ("setting", re.compile(r"^/wc/v3/settings/(?P<group>[\w-]+)/(?P<setting>[\w-]+)$"), ("GET",)),
        ("products", re.compile(r"^/wc/v3/products$"), ("GET",)),
        ("product", re.compile(r"^/wc/v3/products/(?P<id>\d+)$"), ("GET",)),
        ("variations", re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations$"), ("GET",)),
        ("variation", re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations/(?P<id>\d+)$"), ("GET",)),
        ("orders", re.compile(r"^/wc/v3/orders$"), ("GET",)),
        ("order", re.compile(r"^/wc/v3/orders/(?P<id>\d+)$"), ("GET",)),
        ("webhooks", re.compile(r"^/wc/v3/webhooks$"), ("GET", "POST")),
        ("webhook", re.compile(r"^/wc/v3/webhooks/(?P<id>\d+)$"), ("GET", "POST", "PUT", "PATCH", "DELETE")),
    )

    def _match_route(self, route: str) -> tuple[str, tuple[str, ...], dict[str, int]] | None:
        for name, pattern, methods in self._ROUTES:
            found = pattern.match(route)
            if found:
                return name, methods, {k: int(v) if v.isdigit() else v for k, v in found.groupdict().items()}
        return None

    def _route_descriptions(self) -> dict:
        return {
            pattern.pattern[1:-1]: {"namespace": "wc/v3", "methods": list(methods)}
            for name, pattern, methods in self._ROUTES
            if name != "index"
        }

    def _options(self, name: str, methods: tuple[str, ...], route: str) -> _Reply:
        endpoints = []
        if "GET" in methods:
            args = self._collection_args(name) if name in ("products", "orders", "variations", "webhooks") else {}
            endpoints.append({"methods": ["GET"], "args": _options_args(args)})
        if name == "webhooks":
            endpoints.append(
                {"methods": ["POST"], "args": _options_args(_WEBHOOK_WRITE_ARGS, ("topic", "delivery_url"))}
            )
        elif name == "webhook":
            endpoints.append({"methods": ["POST", "PUT", "PATCH"], "args": _options_args(_WEBHOOK_WRITE_ARGS)})
            endpoints.append({"methods": ["DELETE"], "args": _options_args(_FORCE_ARGS)})
        all_methods = [m for endpoint in endpoints for m in endpoint["methods"]]
        title = _SCHEMA_TITLES.get(name, name)
        body = {
            "namespace": "wc/v3",
            "methods": all_methods,
            "endpoints": endpoints,
            "schema": {"$schema": "http://json-schema.org/draft-04/schema#", "title": title, "type": "object"},
            "_links": {"self": [{"href": self.rest_url(route)}]},
        }
        return _json_reply(200, body, [("Allow", ", ".join(all_methods))])

    def _collection_args(self, name: str) -> dict[str, dict]:
        args: dict[str, dict] = {
            "context": _arg("string", "Scope under which the request is made.", default="view", enum=["view", "edit"]),
            "page": _arg("integer", "Current page of the collection.", default=1, minimum=1),
            "per_page": _arg(
                "integer",
                "Maximum number of items to be returned in result set.",
                default=10,
                minimum=1,
                maximum=self.per_page_max,
            ),
            "search": _arg("string", "Limit results to those matching a string."),
            "after": _arg(
                "string",
                "Limit response to resources published after a given ISO8601 compliant date.",
                format="date-time",
            ),
            "before": _arg(
                "string",
                "Limit response to resources published before a given ISO8601 compliant date.",
                format="date-time",
            ),
        }
        if self.supports_modified_after and name != "webhooks":
            args["modified_after"] = _arg(
                "string",
                "Limit response to resources modified after a given ISO8601 compliant date.",
                format="date-time",
            )
            args["modified_before"] = _arg(
                "string",
                "Limit response to resources modified before a given ISO8601 compliant date.",
                format="date-time",
            )
            args["dates_are_gmt"] = _arg(
                "boolean",
                "Whether to consider GMT post dates when limiting response by published or modified date.",
                default=False,
            )
        args["exclude"] = _arg(
            "array", "Ensure result set excludes specific IDs.", items={"type": "integer"}, default=[]
        )
        args["include"] = _arg("array", "Limit result set to specific ids.", items={"type": "integer"}, default=[])
        args["offset"] = _arg("integer", "Offset the result set by a specific number of items.")
        args["order"] = _arg(
            "string", "Order sort attribute ascending or descending.", default="desc", enum=["asc", "desc"]
        )
        if name == "webhooks":
            args["orderby"] = _arg(
                "string", "Sort collection by object attribute.", default="date", enum=["date", "id", "title"]
            )
            args["status"] = _arg(
                "string", "Limit result set to webhooks assigned a specific status.", default="all",
                enum=["all", "active", "paused", "disabled"],
            )  # fmt: skip
            return args
        args["orderby"] = _arg(
            "string",
            "Sort collection by object attribute.",
            default="date",
            enum=["date", "id", "include", "title", "slug", "modified"],
        )
        if name in ("products", "variations"):
            args["status"] = _arg(
                "string",
                "Limit result set to products assigned a specific status.",
                default="any",
                enum=["any", "future", "trash", *PRODUCT_STATUSES],
            )
            args["sku"] = _arg("string", "Limit result set to products with specific SKU(s). Use commas to separate.")
            args["stock_status"] = _arg(
                "string", "Limit result set to products with specified stock status.",
                enum=["instock", "outofstock", "onbackorder"],
            )  # fmt: skip
        if name == "products":
            args["slug"] = _arg("string", "Limit result set to products with a specific slug.")
            args["type"] = _arg(
                "string", "Limit result set to products assigned a specific type.",
                enum=["simple", "grouped", "external", "variable"],
            )  # fmt: skip
            args["category"] = _arg("string", "Limit result set to products assigned a specific category ID.")
        if name == "orders":
            args["status"] = _arg(
                "array",
                "Limit result set to orders which have specific statuses.",
                default=["any"],
                items={"type": "string", "enum": ["any", *ORDER_STATUSES]},
            )
            args["customer"] = _arg("integer", "Limit result set to orders assigned a specific customer.")
            args["product"] = _arg("integer", "Limit result set to orders assigned a specific product.")
        return args

    # --- collections ---

    def _date_bound(self, text: str) -> str:
        """WP_Date_Query: an ISO date with an offset is moved into the site's timezone, then compared as is."""
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00").replace(" ", "T", 1))
        if moment.tzinfo is not None:
            moment = (moment.astimezone(UTC) + timedelta(seconds=self._offset_seconds)).replace(tzinfo=None)
        return moment.replace(microsecond=0).strftime(_DATE_FORMAT)

    def _records(self, name: str, parent_id: int | None) -> Iterable[dict]:
        if name == "products":
            return self.products.values()
        if name == "variations":
            return self.variations.get(parent_id or 0, ())
        if name == "orders":
            return self.orders.values()
        return self.webhooks.values()

    def _select(self, name: str, values: dict, parent_id: int | None) -> list[int]:
        ignored = ("page", "per_page", "offset", "context")
        signature = tuple(
            (k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(values.items()) if k not in ignored
        )
        # Webhooks change through the REST API too, which does not bump the data version; they are
        # few, so they are never cached.
        cache_key = (name, parent_id, self._version, signature)
        cached = self._query_cache.get(cache_key) if name != "webhooks" else None
        if cached is not None:
            self._query_cache.move_to_end(cache_key)
            return cached
        tests: list[Callable[[dict], bool]] = []
        status = values.get("status")
        if name in ("products", "variations"):
            if status == "any":
                tests.append(lambda r: r.get("status", "publish") not in ("trash", "auto-draft"))
            else:
                tests.append(lambda r: r.get("status", "publish") == status)
        elif name == "orders":
            wanted = set(status or ["any"])
            if "any" in wanted:
                tests.append(lambda r: r["status"] not in ("trash", "checkout-draft"))
            else:
                tests.append(lambda r: r["status"] in wanted)
        elif status and status != "all":
            tests.append(lambda r: r["status"] == status)
        include = [i for i in values.get("include", []) if i > 0]
        if include:
            included = set(include)
            tests.append(lambda r: r["id"] in included)
        exclude = set(values.get("exclude", []))
        if exclude:
            tests.append(lambda r: r["id"] not in exclude)
        search = (values.get("search") or "").strip().lower()
        if search:
            if name == "orders":
                tests.append(
                    lambda r: (
                        search in " ".join(str(v) for v in (r.get("billing") or {}).values()).lower()
                        or search in str(r["id"])
                    )
                )
            else:
                tests.append(
                    lambda r: (
                        search in r.get("name", "").lower()
                        or search in r.get("description", "").lower()
                        or search in r.get("short_description", "").lower()
                    )
                )
        for field_name in ("sku", "slug", "type", "stock_status"):
            if values.get(field_name):
                wanted_values = set(values[field_name].split(",")) if field_name == "sku" else {values[field_name]}
                tests.append(lambda r, f=field_name, w=wanted_values: r.get(f) in w)
        if values.get("category"):
            category_ids = {int(c) for c in str(values["category"]).split(",") if c.strip().isdigit()}
            tests.append(lambda r: any(c["id"] in category_ids for c in r.get("categories", ())))
        if values.get("customer") is not None:
            tests.append(lambda r, c=values["customer"]: r.get("customer_id") == c)
        if values.get("product") is not None:
            tests.append(
                lambda r, p=values["product"]: any(line["product_id"] == p for line in r.get("line_items", ()))
            )
        gmt = "_gmt" if values.get("dates_are_gmt") else ""
        for param, column, after in (
            ("after", "date_created", True),
            ("before", "date_created", False),
            ("modified_after", "date_modified", True),
            ("modified_before", "date_modified", False),
        ):
            if values.get(param):
                bound = self._date_bound(values[param])
                column_name = column + gmt
                if after:
                    tests.append(lambda r, c=column_name, b=bound: (r.get(c) or "") > b)
                else:
                    tests.append(lambda r, c=column_name, b=bound: (r.get(c) or "") < b)
        records = [r for r in self._records(name, parent_id) if all(test(r) for test in tests)]
        orderby = values.get("orderby", "date")
        if orderby == "include" and include:
            position = {record_id: index for index, record_id in enumerate(include)}
            records.sort(key=lambda r: position.get(r["id"], len(position)))
        else:
            records.sort(key=_sort_key(name, orderby), reverse=values.get("order", "desc") == "desc")
        ids = [r["id"] for r in records]
        if name != "webhooks":
            self._query_cache[cache_key] = ids
        while len(self._query_cache) > 16:
            self._query_cache.popitem(last=False)
        return ids

    def _collection(self, name: str, values: dict, context: _Context, parent_id: int | None) -> _Reply:
        ids = self._select(name, values, parent_id)
        per_page = values["per_page"]
        page = values["page"]
        start = values["offset"] if values.get("offset") is not None else (page - 1) * per_page
        chosen = ids[start : start + per_page]
        if name == "products":
            items = [self._render_product(self.products[i]) for i in chosen]
        elif name == "variations":
            by_id = {v["id"]: v for v in self.variations.get(parent_id or 0, ())}
            items = [self._render_variation(by_id[i]) for i in chosen]
        elif name == "orders":
            items = [self._render_order(self.orders[i]) for i in chosen]
        else:
            items = [self._render_webhook(self.webhooks[i]) for i in chosen]
        if context.fields is not None:
            items = [_filter_fields(item, context.fields) for item in items]
        total = len(ids)
        max_pages = math.ceil(total / per_page)
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        # The links repeat every query parameter of the request, credentials and OAuth signature included.
        if page > 1:
            headers.append(("Link", f'<{self._page_link(context, min(page - 1, max_pages))}>; rel="prev"'))
        if max_pages > page:
            headers.append(("Link", f'<{self._page_link(context, page + 1)}>; rel="next"'))
        return _json_reply(200, items, headers)

    def _page_link(self, context: _Context, page: int) -> str:
        params = dict(context.get_params)
        params["page"] = page
        if context.plain:
            params["rest_route"] = context.route
            params = {"rest_route": params.pop("rest_route"), **params}
            return f"{self.base_url}/?{_php_build_query(params)}"
        return f"{self.base_url}/wp-json{context.route}?{_php_build_query(params)}"

    # --- webhooks over REST ---

    def _create_webhook(self, params: dict, context: _Context, followups: list[Callable[[], None]]) -> _Reply:
        values = _validate(_WEBHOOK_WRITE_ARGS, params, required=("topic", "delivery_url"))
        self._require(context.key, CANNOT_CREATE)
        if not _php_empty(params.get("id")):
            raise _Rejected(400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.")
        if not self._valid_topic(values.get("topic")):
            raise _Rejected(
                400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid."
            )
        if not self._valid_delivery_url(values.get("delivery_url")):
            raise _Rejected(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        secret = values.get("secret") or secrets.token_urlsafe(37)
        # The requested status is validated, then ignored: create_item always stores an active webhook.
        webhook = self._new_webhook(values["topic"].lower(), values["delivery_url"], secret, values.get("name") or "")
        followups.append(lambda: self._ping(webhook["id"], webhook["delivery_url"]))
        location = self.rest_url(f"/wc/v3/webhooks/{webhook['id']}")
        return _json_reply(201, _only(self._render_webhook(webhook), context.fields), [("Location", location)])

    def _webhook_item(
        self, verb: str, webhook_id: int, params: dict, context: _Context, followups: list[Callable[[], None]]
    ) -> _Reply:
        if verb == "GET":
            self._require(context.key, CANNOT_VIEW)
            webhook = self.webhooks.get(webhook_id)
            if webhook is None:
                raise _Rejected(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
            return _json_reply(200, _only(self._render_webhook(webhook), context.fields))
        if verb == "DELETE":
            values = _validate(_FORCE_ARGS, params)
            self._require(context.key, CANNOT_DELETE)
            if not values.get("force"):
                raise _Rejected(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
            webhook = self.webhooks.pop(webhook_id, None)
            if webhook is None:
                raise _Rejected(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
            return _json_reply(200, self._render_webhook(webhook))
        values = _validate(_WEBHOOK_WRITE_ARGS, params)
        self._require(context.key, CANNOT_EDIT)
        webhook = self.webhooks.get(webhook_id)
        if webhook is None:
            raise _Rejected(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
        changes: dict[str, Any] = {}
        if not _php_empty(values.get("topic")):
            if not self._valid_topic(values["topic"]):
                raise _Rejected(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.")
            topic = values["topic"].lower()
            resource, _, event = topic.partition(".")
            changes.update(topic=topic, resource=resource, event=event, hooks=list(_TOPIC_HOOKS.get(topic, [])))
        if not _php_empty(values.get("delivery_url")):
            if not self._valid_delivery_url(values["delivery_url"]):
                raise _Rejected(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_delivery_url",
                    "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                )
            changes["delivery_url"] = values["delivery_url"]
        if not _php_empty(values.get("secret")):
            changes["secret"] = values["secret"]
        if not _php_empty(values.get("name")):
            changes["name"] = values["name"]
        reactivated = values.get("status") == "active" and webhook["status"] != "active"
        if not _php_empty(values.get("status")):
            # failure_count is left alone: a re-enabled webhook that failed six times is disabled by its next failure.
            changes["status"] = values["status"]
        webhook.update(changes)
        webhook["date_modified"], webhook["date_modified_gmt"] = self._dates(math.floor(time.time()))
        if reactivated:
            followups.append(lambda: self._ping(webhook["id"], webhook["delivery_url"]))
        return _json_reply(200, _only(self._render_webhook(webhook), context.fields))

    # --- site-level endpoints ---

    def _index(self) -> dict:
        return {
            "name": self.site_name,
            "description": "Just another WordPress site",
            "url": self.base_url,
            "home": self.base_url,
            "gmt_offset": self.utc_offset_hours if self.utc_offset_hours % 1 else int(self.utc_offset_hours),
            "timezone_string": "",
            "namespaces": ["oembed/1.0", "wc/v1", "wc/v2", "wc/v3", "wc/store/v1", "wc-analytics", "wp/v2"],
            "authentication": {},
            "routes": self._route_descriptions(),
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }

    def _general_settings(self) -> list[dict]:
        """The "general" group as WC_REST_Setting_Options_Controller lists it (a few of its settings)."""
        symbol = _CURRENCY_SYMBOLS.get(self.currency, self.currency)
        rows = (
            ("woocommerce_store_address", "Address line 1", "text", "", "1 Example Street"),
            ("woocommerce_store_city", "City", "text", "", "Example City"),
            ("woocommerce_default_country", "Country / State", "single_select_country", "US:CA", "DE:BE"),
            ("woocommerce_currency", "Currency", "select", "USD", self.currency),
            ("woocommerce_currency_pos", "Currency position", "select", "left", "left"),
            ("woocommerce_price_thousand_sep", "Thousand separator", "text", ",", ","),
            ("woocommerce_price_decimal_sep", "Decimal separator", "text", ".", "."),
            ("woocommerce_price_num_decimals", "Number of decimals", "number", "2", "2"),
        )
        settings = []
        for setting_id, label, kind, default, value in rows:
            setting = {
                "id": setting_id,
                "label": label,
                "description": "",
                "type": kind,
                "default": default,
                "tip": "",
                "value": value,
                "group_id": "general",
            }
            if setting_id == "woocommerce_currency":
                setting["description"] = (
                    "This controls what currency prices are listed at in the catalog and which currency gateways will "
                    "take payments in."
                )
                setting["options"] = {
                    code: f"{code} ({sign})" for code, sign in {**_CURRENCY_SYMBOLS, self.currency: symbol}.items()
                }
            route = f"/wc/v3/settings/general/{setting_id}"
            setting["_links"] = {
                "self": [{"href": self.rest_url(route)}],
                "collection": [{"href": self.rest_url("/wc/v3/settings/general")}],
            }
            settings.append(setting)
        return settings

    def _settings(self, name: str, ids: dict, key: ApiKey | None, fields: dict | None) -> _Reply:
        # wc_rest_check_manager_permissions( 'settings', 'read' ): the key's user needs manage_woocommerce.
        self._require(key, CANNOT_LIST if name == "settings_group" else CANNOT_VIEW)
        if self.settings_fault is not None:
            status, code, message = self.settings_fault
            raise _Rejected(status, code, message)
        if ids["group"] != "general":
            raise _Rejected(404, "rest_setting_setting_group_invalid", "Invalid setting group.")
        settings = self._general_settings()
        if name == "settings_group":
            return _json_reply(200, [_only(setting, fields) for setting in settings])
        found = next((setting for setting in settings if setting["id"] == ids["setting"]), None)
        if found is None:
            raise _Rejected(404, "rest_setting_setting_invalid", "Invalid setting.")
        return _json_reply(200, _only(found, fields))

    def _system_status(self) -> dict:
        return {
            "environment": {
                "home_url": self.base_url,
                "site_url": self.base_url,
                "store_id": hashlib.md5(f"store-{self.seed}".encode()).hexdigest()[:20],
                "version": WC_VERSION,
                "wp_version": WP_VERSION,
                "wp_multisite": False,
                "language": "en_US",
                "external_object_cache": None,
                "server_info": "Apache",
                "php_version": "8.2.28",
            },
            "active_plugins": [
                {
                    "plugin": "woocommerce/woocommerce.php",
                    "name": "WooCommerce",
                    "version": WC_VERSION,
                    "version_latest": WC_VERSION,
                    "url": "https://woocommerce.com/",
                    "author_name": "Automattic",
                    "network_activated": False,
                }
            ],
            "theme": {"name": "Storefront", "version": "4.6.1", "is_block_theme": False},
            "settings": {
                "api_enabled": False,
                "force_ssl": False,
                "currency": self.currency,
                "currency_symbol": _CURRENCY_SYMBOLS.get(self.currency, self.currency),
                "currency_position": "left",
                "thousand_separator": ",",
                "decimal_separator": ".",
                "number_of_decimals": 2,
                "HPOS_enabled": True,
                "HPOS_sync_enabled": False,
            },
            "security": {"secure_connection": self.tls, "hide_errors": True},
        }


@dataclass
class _Context:
    plain: bool
    route: str
    get_params: dict
    fields: dict | None
    key: ApiKey | None


def _sort_key(collection: str, orderby: str) -> Callable[[dict], Any]:
    # WooCommerce appends the ID to date and modified ordering (in the same direction) so that pages are stable.
    if orderby == "date":
        return lambda r: (r.get("date_created") or "", r["id"])
    if orderby == "modified":
        return lambda r: (r.get("date_modified") or "", r["id"])
    if orderby == "title" and collection != "orders":
        return lambda r: (r.get("name", "").casefold(), r["id"])
    if orderby == "slug" and collection == "products":
        return lambda r: (r.get("slug", ""), r["id"])
    return lambda r: r["id"]


def _only(item: dict, fields: dict | None) -> dict:
    return item if fields is None else _filter_fields(item, fields)


_SCHEMA_TITLES = {
    "products": "product",
    "product": "product",
    "variations": "product_variation",
    "variation": "product_variation",
    "orders": "shop_order",
    "order": "shop_order",
    "webhooks": "webhook",
    "webhook": "webhook",
    "system_status": "system_status",
}
_WEBHOOK_WRITE_ARGS: dict[str, dict] = {
    "name": _arg("string", "A friendly name for the webhook."),
    "status": _arg("string", "Webhook status.", enum=list(WEBHOOK_STATUSES)),
    "topic": _arg("string", "Webhook topic."),
    "secret": _arg("string", "Secret key used to generate a hash of the delivered webhook."),
    "delivery_url": _arg("string", "Webhook delivery URL."),
}
_FORCE_ARGS: dict[str, dict] = {
    "force": _arg("boolean", "Required to be true, as resource does not support trashing.", default=False),
}

_CHALLENGE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta name="robots" content="noindex,nofollow">'
    '</head><body><div class="main-wrapper" role="main"><div class="main-content">'
    "<noscript>Enable JavaScript and cookies to continue</noscript></div></div></body></html>"
)
_LOGIN_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">'
    '<title>Log In &lsaquo; {site} &#8212; WordPress</title></head><body class="login wp-core-ui">'
    '<div id="login"><form name="loginform" id="loginform" action="{base}/wp-login.php" method="post">'
    '<p><label for="user_login">Username or Email Address</label><input type="text" name="log" id="user_login"></p>'
    '<p><label for="user_pass">Password</label><input type="password" name="pwd" id="user_pass"></p>'
    '<p class="submit"><input type="submit" name="wp-submit" id="wp-submit" value="Log In"></p>'
    "</form></div></body></html>"
)

# --- made-up data -----------------------------------------------------------------------------------------------------

_ADJECTIVES = (
    "Classic", "Organic", "Vintage", "Handmade", "Everyday", "Deluxe", "Mini", "Rustic", "Modern", "Cozy",
    "Bold", "Soft", "Wild", "Golden", "Urban", "Coastal", "Nordic", "Café", "Crème", "Señorita",
)  # fmt: skip
_NOUNS = (
    "Mug", "Candle", "Tote", "Scarf", "Notebook", "Teapot", "Blanket", "Soap", "Planter", "Apron",
    "Bowl", "Jar", "Basket", "Lamp", "Socks", "Print", "Hoodie", "T-Shirt", "Beanie", "Backpack",
)  # fmt: skip
_BLURBS = (
    "made to last.",
    "a customer favourite.",
    "small-batch, from our workshop.",
    "naïve charm, everyday use.",
    "fits 1/2 of everything you own.",
    "hand-finished in Zürich.",
)
_CATEGORIES = ("Clothing", "Accessories", "Home", "Kitchen", "Bath", "Garden", "Stationery", "Gifts", "Sale", "Décor")
_TAGS = ("gift", "bestseller", "eco", "new", "limited", "handmade", "summer", "winter")
_VARIATION_AXES = (
    ("Size", ("S", "M", "L", "XL")),
    ("Color", ("Blue", "Green", "Red", "Black")),
    ("Scent", ("Lavender", "Cedar", "Citrus")),
)
_ORDER_STATUS_WEIGHTS = (
    ("completed", 58),
    ("processing", 22),
    ("on-hold", 3),
    ("pending", 4),
    ("cancelled", 5),
    ("refunded", 3),
    ("failed", 5),
)
_FIRST_NAMES = ("Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hugo", "Inès", "Jonas", "Kofi", "Lena")
_LAST_NAMES = ("Smith", "Müller", "García", "Rossi", "Dubois", "Novak", "Okafor", "Tanaka", "Silva", "Jensen")
_CITIES = (("Berlin", "BE", "DE"), ("Lyon", "", "FR"), ("Austin", "TX", "US"), ("Leeds", "", "GB"), ("Porto", "", "PT"))


def _person(rng: random.Random, customer_id: int) -> tuple[dict, dict]:
    """Billing and shipping addresses full of personal data that the app must not keep."""
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    city, state, country = rng.choice(_CITIES)
    address = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": f"{rng.randint(1, 200)} {rng.choice(('Oak', 'Station', 'Mill', 'Rue de la Paix'))} Street",
        "address_2": "",
        "city": city,
        "state": state,
        "postcode": f"{rng.randint(10000, 99999)}",
        "country": country,
    }
    handle = unicodedata.normalize("NFKD", f"{first}.{last}".lower()).encode("ascii", "ignore").decode()
    phone = f"+{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}"
    email = f"{handle}{customer_id or rng.randint(100, 9999)}@example.com"
    return {**address, "email": email, "phone": phone}, {**address, "phone": phone}
