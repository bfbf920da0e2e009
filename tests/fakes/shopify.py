"""A fake Shopify Admin API served over real HTTP on loopback.

Tests drive the app's install, GraphQL client and sync end to end against this server instead of mocks. The app
rewrites ``https://{handle}.myshopify.com/<path>`` to ``{admin_base_url}/<path>``, so every per-store route lives
under ``/shops/{domain}/``:

* ``POST /shops/{domain}/admin/oauth/access_token``: token exchange, refresh and authorization-code grants;
* ``POST /shops/{domain}/admin/api/{version}/graphql.json``: the GraphQL Admin API for the fields the app reads
  (``shop``, ``currentAppInstallation``, ``products``, ``product``, ``orders``, ``order`` and bulk operations);
* ``GET /bulk/{key}.jsonl``: bulk results, unauthenticated like Shopify's signed storage URLs.

Every document is parsed (graphql-core) and held to what Shopify does with it:

* validated against Shopify's published Admin schema for the pinned version (shopify_schema.py), variables
  coerced by their declared types;
* its fields checked against the schema's ``requiredAccess`` for the scopes the store granted (ACCESS_DENIED);
* priced by Shopify's documented cost rules and refused over 1,000 points (MAX_COST_EXCEEDED), and charged to a
  leaky bucket that answers THROTTLED when it holds less than the requested cost;
* answered with exactly the fields selected, under their aliases, nested connections paged by their arguments;
* bulk results written ungrouped (children anywhere, before or after their parent) unless ``groupObjects: true``.

Without the schema (no npm, no registry) validation and the schema's access rules are skipped; cost and a few
access rules still apply, and the tests that need the schema skip (or fail under REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import hashlib
import heapq
import hmac
import http
import http.server
import itertools
import json
import os
import random
import re
import secrets
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    value_from_ast_untyped,
)
from graphql import parse as graphql_parse
from graphql.execution.values import get_variable_values

from tests.fakes.shopify_schema import AdminSchema, CostError, admin_schema, granted_scopes, unavailable_reason

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"

INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
ORDER_WINDOW = timedelta(days=60)
ID_TOKEN_LEEWAY_SECONDS = 10
MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 50
MAX_ACTIVE_BULK_OPERATIONS = 5
BUCKET_MAXIMUM = 2000.0
BUCKET_RESTORE_RATE = 100.0
MAX_QUERY_COST = 1000
MUTATION_COST = 10
MAX_BULK_CONNECTIONS = 5
MAX_BULK_DEPTH = 2
DOWNLOAD_CHUNK_BYTES = 64 * 1024

SCHEMA_AUTO = object()

_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_PRODUCT_STATUSES = ("ACTIVE", "DRAFT", "ARCHIVED", "UNLISTED")
_CENT = Decimal("0.01")


# --- helpers ---------------------------------------------------------------------------------------------------------


def gid(kind: str, numeric_id: int) -> str:
    return f"gid://shopify/{kind}/{numeric_id}"


def numeric_id(value: int | str) -> int:
    """The numeric part of a Shopify id, given either as a number or as a GID."""
    if isinstance(value, int):
        return value
    return int(str(value).rsplit("/", 1)[-1])


def utcnow() -> datetime:
    # Shopify's DateTime scalars have whole seconds; keeping the same precision keeps the string forms comparable.
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_DATE_FORMAT)


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _timestamp(value: datetime | str | None) -> str | None:
    """Every stored timestamp has one canonical form so that plain string comparison orders them in time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return iso(parse_iso(value))


def _money(value: Decimal | float | int | str) -> str:
    return str(Decimal(str(value)).quantize(_CENT))


def _money_set(amount: str, currency: str) -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def _cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --- tokens and bulk operations --------------------------------------------------------------------------------------


@dataclass
class AccessToken:
    token: str
    scope: str
    expires_at: float | None  # None: an offline token that never expires
    online: bool = False
    issued_from: str | None = None  # the refresh token spent to mint this one
    used: bool = False
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass
class RefreshToken:
    token: str
    expires_at: float
    retired: bool = False

    def valid(self, now: float) -> bool:
        return not self.retired and now < self.expires_at


@dataclass
class BulkOperation:
    numeric_id: int
    root: str  # "products" or "orders"
    query: str
    search: str | None
    created_at: str
    will_fail: bool
    grouped: bool = False
    denied: bool = False
    status: str = "CREATED"
    polls: int = 0
    completed_at: str | None = None
    url: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    error_code: str | None = None

    @property
    def id(self) -> str:
        return gid("BulkOperation", self.numeric_id)

    @property
    def active(self) -> bool:
        return self.status in ("CREATED", "RUNNING")

    def node(self) -> dict:
        # objectCount, rootObjectCount and fileSize are UnsignedInt64 scalars, which Shopify serialises as strings.
        return {
            "id": self.id,
            "type": "QUERY",
            "status": self.status,
            "errorCode": self.error_code,
            "createdAt": self.created_at,
            "completedAt": self.completed_at,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": None if self.file_size is None else str(self.file_size),
            "url": self.url,
            "partialDataUrl": None,
            "query": self.query,
        }


class _Rejected(Exception):
    """A request the fake refuses, carrying the HTTP status and JSON body to answer with."""

    def __init__(self, status: int, body: Any):
        super().__init__(status, body)
        self.status = status
        self.body = body


def _graphql_error(message: str, code: str, **extensions: Any) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


# --- a store ---------------------------------------------------------------------------------------------------------

_PRODUCT_FIELDS = frozenset(
    {
        "id",
        "title",
        "handle",
        "status",
        "vendor",
        "productType",
        "tags",
        "description",
        "createdAt",
        "updatedAt",
        "publishedAt",
        "onlineStoreUrl",
        "totalInventory",
        "tracksInventory",
        "featuredMedia",
        "variants",
        "collections",
        "image_url",
    }
)
_ORDER_FIELDS = frozenset(
    {
        "id",
        "name",
        "createdAt",
        "updatedAt",
        "processedAt",
        "cancelledAt",
        "test",
        "displayFinancialStatus",
        "currencyCode",
        "customer",
        "customer_id",
        "totalPriceSet",
        "lineItems",
        "customAttributes",
    }
)
_LINE_ITEM_FIELDS = frozenset(
    {
        "id",
        "quantity",
        "product",
        "variant",
        "originalUnitPriceSet",
        "customAttributes",
        "product_id",
        "variant_id",
        "price",
    }
)
_VARIANT_FIELDS = frozenset(
    {"id", "title", "sku", "price", "compareAtPrice", "availableForSale", "inventoryQuantity", "legacyResourceId"}
)
_DEFAULT_IMAGE = object()


def _reject_unknown(kind: str, fields: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise TypeError(f"unknown {kind} field(s) {unknown}; known: {sorted(allowed)}")


class FakeStore:
    """One shop: its catalogue, orders, tokens, bulk operations, injected faults and a log of requests."""

    def __init__(
        self, fake: FakeShopify, domain: str, *, currency: str, timezone: str, name: str, scopes: Iterable[str]
    ):
        self._fake = fake
        self.domain = domain
        self.currency = currency
        self.timezone = timezone
        self.name = name
        self.scopes: set[str] = set(scopes)
        self.partner_development = False
        self.installed = True
        self.products: dict[int, dict] = {}
        self.orders: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.auth_codes: set[str] = set()
        self.bulk_operations: dict[str, BulkOperation] = {}
        self._collections: dict[str, dict] = {}
        self._next_product_id = 1001
        self._next_variant_id = 40001
        self._next_collection_id = 300001
        self._next_order_id = 5001
        self._next_order_number = 1001
        self._next_line_item_id = 9000001
        self._failures: collections.deque[int] = collections.deque()
        self._rate_limits: collections.deque[float] = collections.deque()
        self._throttles = 0
        self._graphql_errors: collections.deque[str] = collections.deque()
        self._fail_next_bulk = 0
        # A standard plan's bucket; tests change these to stand for other plans.
        self.bucket_maximum = BUCKET_MAXIMUM
        self.restore_rate = BUCKET_RESTORE_RATE
        self._bucket = BUCKET_MAXIMUM
        self._corrupt_next_bulk = 0
        # Shopify may price a query above the documented rules (fields with their own cost): the
        # fake charges and refuses by requested cost × this factor.
        self.cost_factor = 1.0
        # Protected customer data: without the app's approval Shopify refuses customer fields even
        # with read_customers granted.
        self.protected_customer_data = True
        self._throttle_probability = 0.0
        self._throttle_rng = random.Random(0)
        self._bucket_at = self._fake.now()

    def __repr__(self) -> str:
        return f"<FakeStore {self.domain}: {len(self.products)} products, {len(self.orders)} orders>"

    @property
    def scope_string(self) -> str:
        return ",".join(sorted(self.scopes))

    # --- catalogue ---

    def add_product(self, **fields: Any) -> dict:
        _reject_unknown("product", fields, _PRODUCT_FIELDS)
        with self._fake._lock:
            product_id = numeric_id(fields["id"]) if "id" in fields else self._next_product_id
            title = fields.get("title", f"Product {product_id}")
            handle = fields.get("handle") or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or str(product_id)
            status = fields.get("status", "ACTIVE")
            if status not in _PRODUCT_STATUSES:
                raise ValueError(f"status must be one of {_PRODUCT_STATUSES}, not {status!r}")
            created = _timestamp(fields.get("createdAt")) or iso(utcnow())
            variants = self._variants(fields.get("variants"), handle)
            image_url = fields.get("image_url", _DEFAULT_IMAGE)
            if image_url is _DEFAULT_IMAGE:
                image_url = f"https://cdn.example/{self.domain}/{handle}.jpg"
            listed = status in ("ACTIVE", "UNLISTED")
            published = _timestamp(fields["publishedAt"]) if "publishedAt" in fields else created if listed else None
            product = {
                "id": gid("Product", product_id),
                "legacyResourceId": str(product_id),
                "title": title,
                "handle": handle,
                "status": status,
                "vendor": fields.get("vendor", self.name),
                "productType": fields.get("productType", ""),
                "tags": list(fields.get("tags", ())),
                "description": fields.get("description", f"{title}."),
                "createdAt": created,
                "updatedAt": _timestamp(fields.get("updatedAt")) or created,
                "publishedAt": published,
                "onlineStoreUrl": fields.get(
                    "onlineStoreUrl", f"https://{self.domain}/products/{handle}" if listed else None
                ),
                "totalInventory": fields.get("totalInventory", sum(v["inventoryQuantity"] for v in variants)),
                "tracksInventory": fields.get("tracksInventory", True),
                "featuredMedia": fields.get(
                    "featuredMedia",
                    {"preview": {"image": {"url": image_url, "altText": ""}}} if image_url else None,
                ),
                "variants": variants,
                "collections": self._collection_refs(fields.get("collections", ())),
            }
            self._insert_product(product_id, product)
            return product

    def touch_product(self, product_id: int, **changes: Any) -> dict:
        _reject_unknown("product", changes, _PRODUCT_FIELDS - {"id", "image_url"})
        with self._fake._lock:
            product = self.products[product_id]
            previous = product["updatedAt"]
            if "variants" in changes:
                changes["variants"] = self._variants(changes["variants"], changes.get("handle", product["handle"]))
                changes.setdefault("totalInventory", sum(v["inventoryQuantity"] for v in changes["variants"]))
            if "collections" in changes:
                changes["collections"] = self._collection_refs(changes["collections"])
            for key in ("createdAt", "publishedAt"):
                if key in changes:
                    changes[key] = _timestamp(changes[key])
            if ("status" in changes or "handle" in changes) and "onlineStoreUrl" not in changes:
                status = changes.get("status", product["status"])
                handle = changes.get("handle", product["handle"])
                listed = status in ("ACTIVE", "UNLISTED")
                changes["onlineStoreUrl"] = f"https://{self.domain}/products/{handle}" if listed else None
            updated = _timestamp(changes.pop("updatedAt", None))
            if updated is None:
                updated = iso(utcnow())
                # Two edits within one second would otherwise share a timestamp, and an `updated_at:>` sync
                # watermark taken between them would hide the second one forever.
                if updated <= previous:
                    updated = iso(parse_iso(previous) + timedelta(seconds=1))
            product.update(changes)
            product["updatedAt"] = updated
            return product

    def delete_product(self, product_id: int) -> None:
        with self._fake._lock:
            del self.products[product_id]

    def _insert_product(self, product_id: int, product: dict) -> None:
        self.products[product_id] = product
        self._next_product_id = max(self._next_product_id, product_id + 1)

    def _variants(self, given: Iterable[dict] | None, handle: str) -> list[dict]:
        given = list(given) if given is not None else [{}]
        variants = []
        for index, fields in enumerate(given, start=1):
            _reject_unknown("variant", fields, _VARIANT_FIELDS)
            variant_id = numeric_id(fields["id"]) if "id" in fields else self._next_variant_id
            self._next_variant_id = max(self._next_variant_id, variant_id + 1)
            quantity = fields.get("inventoryQuantity", 10)
            compare_at = fields.get("compareAtPrice")
            variants.append(
                {
                    "id": gid("ProductVariant", variant_id),
                    "legacyResourceId": str(variant_id),
                    "title": fields.get("title", "Default Title" if len(given) == 1 else f"Option {index}"),
                    "sku": fields.get("sku", f"{handle}-{index}".upper()),
                    "price": _money(fields.get("price", "19.99")),
                    "compareAtPrice": None if compare_at is None else _money(compare_at),
                    "availableForSale": fields.get("availableForSale", quantity > 0),
                    "inventoryQuantity": quantity,
                }
            )
        return variants

    def _collection_refs(self, given: Iterable[dict | str]) -> list[dict]:
        refs = []
        for entry in given:
            fields = {"handle": entry} if isinstance(entry, str) else dict(entry)
            handle = fields["handle"]
            collection = self._collections.get(handle)
            if collection is None:
                collection_id = numeric_id(fields["id"]) if "id" in fields else self._next_collection_id
                self._next_collection_id = max(self._next_collection_id, collection_id + 1)
                title = fields.get("title", handle.replace("-", " ").title())
                collection = {"id": gid("Collection", collection_id), "handle": handle, "title": title}
                self._collections[handle] = collection
            refs.append(collection)
        return refs

    # --- orders ---

    def add_order(self, **fields: Any) -> dict:
        """An order; `customer_id` is a shortcut for `customer`, which defaults to None (a guest checkout).

        Line items take their GraphQL fields or the shortcuts `product_id`, `variant_id` and `price`; a known
        product's first variant and its price fill whatever is left out.
        """
        _reject_unknown("order", fields, _ORDER_FIELDS)
        with self._fake._lock:
            order_id = numeric_id(fields["id"]) if "id" in fields else self._next_order_id
            currency = fields.get("currencyCode", self.currency)
            created = _timestamp(fields.get("createdAt")) or iso(utcnow())
            if "customer" in fields:
                customer = fields["customer"]
            elif fields.get("customer_id") is not None:
                customer = {"id": gid("Customer", numeric_id(fields["customer_id"]))}
            else:
                customer = None
            line_items = [self._line_item(item, currency) for item in fields.get("lineItems", ())]
            total = sum(
                (Decimal(i["originalUnitPriceSet"]["shopMoney"]["amount"]) * i["quantity"] for i in line_items),
                Decimal(0),
            )
            order = {
                "id": gid("Order", order_id),
                "legacyResourceId": str(order_id),
                "name": fields.get("name", f"#{self._next_order_number}"),
                "createdAt": created,
                "updatedAt": _timestamp(fields.get("updatedAt")) or created,
                "processedAt": _timestamp(fields.get("processedAt")) or created,
                "cancelledAt": _timestamp(fields.get("cancelledAt")),
                "test": fields.get("test", False),
                "displayFinancialStatus": fields.get("displayFinancialStatus", "PAID"),
                "currencyCode": currency,
                "customer": customer,
                "totalPriceSet": fields.get("totalPriceSet", _money_set(_money(total), currency)),
                "lineItems": line_items,
                "customAttributes": list(fields.get("customAttributes", ())),
            }
            self._insert_order(order_id, order)
            return order

    def touch_order(self, order_id: int, **changes: Any) -> dict:
        """Change an order (financial status, cancellation, test flag) and move its updatedAt on."""
        _reject_unknown("order", changes, frozenset({"displayFinancialStatus", "cancelledAt", "test"}))
        with self._fake._lock:
            order = self.orders[order_id]
            if "cancelledAt" in changes:
                changes["cancelledAt"] = _timestamp(changes["cancelledAt"])
            updated = iso(utcnow())
            if updated <= order["updatedAt"]:
                updated = iso(parse_iso(order["updatedAt"]) + timedelta(seconds=1))
            order.update(changes)
            order["updatedAt"] = updated
            return order

    def _insert_order(self, order_id: int, order: dict) -> None:
        self.orders[order_id] = order
        self._next_order_id = max(self._next_order_id, order_id + 1)
        self._next_order_number += 1

    def _line_item(self, fields: dict, currency: str) -> dict:
        _reject_unknown("line item", fields, _LINE_ITEM_FIELDS)
        item_id = numeric_id(fields["id"]) if "id" in fields else self._next_line_item_id
        self._next_line_item_id = max(self._next_line_item_id, item_id + 1)
        product = fields.get("product")
        if "product_id" in fields:
            product = {"id": gid("Product", numeric_id(fields["product_id"]))}
        variant = fields.get("variant")
        if "variant_id" in fields:
            variant = {"id": gid("ProductVariant", numeric_id(fields["variant_id"]))}
        known = self.products.get(numeric_id(product["id"])) if product else None
        if known and known["variants"] and variant is None and "variant" not in fields:
            variant = {"id": known["variants"][0]["id"]}
        price = fields.get("price")
        if price is None and known and variant:
            price = next((v["price"] for v in known["variants"] if v["id"] == variant["id"]), None)
        return {
            "id": gid("LineItem", item_id),
            "quantity": fields.get("quantity", 1),
            "product": product,
            "variant": variant,
            "originalUnitPriceSet": fields.get(
                "originalUnitPriceSet", _money_set(_money(price if price is not None else "10.00"), currency)
            ),
            "customAttributes": list(fields.get("customAttributes", ())),
        }

    # --- install state and tokens ---

    def issue_auth_code(self) -> str:
        with self._fake._lock:
            code = secrets.token_hex(16)
            self.auth_codes.add(code)
            return code

    def issue_access_token(self, *, expiring: bool = False) -> dict:
        """A token response as the token endpoint would give it, for tests that skip the install flow."""
        with self._fake._lock:
            return self._mint(expiring=expiring)

    def expire_access_tokens(self) -> None:
        with self._fake._lock:
            past = time.time() - 1
            for access in self.access_tokens.values():
                access.expires_at = past

    def revoke_all(self) -> None:
        """What uninstalling does: every token dies and the token endpoint turns the app away until reinstalled."""
        with self._fake._lock:
            for access in self.access_tokens.values():
                access.revoked = True
            for refresh in self.refresh_tokens.values():
                refresh.retired = True
            self.auth_codes.clear()
            self.installed = False

    def reinstall(self) -> None:
        with self._fake._lock:
            self.installed = True

    def _mint(
        self, *, expiring: bool, online: bool = False, user_id: str | None = None, issued_from: str | None = None
    ) -> dict:
        now = time.time()
        ttl = self._fake.access_token_ttl
        access = AccessToken(
            token=("shpua_" if online else "shpat_") + secrets.token_hex(16),
            scope=self.scope_string,
            expires_at=now + ttl if expiring or online else None,
            online=online,
            issued_from=issued_from,
        )
        self.access_tokens[access.token] = access
        response: dict[str, Any] = {"access_token": access.token, "scope": access.scope}
        if online:
            response["expires_in"] = ttl
            response["associated_user_scope"] = access.scope
            response["associated_user"] = {
                "id": int(user_id) if user_id and user_id.isdigit() else user_id,
                "first_name": "Test",
                "last_name": "User",
                "email": f"user{user_id}@example.com",
                "account_owner": True,
                "locale": "en",
                "collaborator": False,
                "email_verified": True,
            }
        elif expiring:
            refresh = RefreshToken("shprt_" + secrets.token_hex(16), now + self._fake.refresh_token_ttl)
            self.refresh_tokens[refresh.token] = refresh
            response["expires_in"] = ttl
            response["refresh_token"] = refresh.token
            response["refresh_token_expires_in"] = self._fake.refresh_token_ttl
        return response

    def _authenticate(self, token: str | None) -> AccessToken | None:
        access = self.access_tokens.get(token or "")
        if access is None or not access.valid(time.time()):
            return None
        if not access.used:
            access.used = True
            # Refresh-token rotation: the spent refresh token is retired only once its successor is in use, so a
            # client that lost the refresh response can still retry with the old one.
            if access.issued_from and access.issued_from in self.refresh_tokens:
                self.refresh_tokens[access.issued_from].retired = True
        return access

    # --- fault injection ---

    def set_bucket(self, available: float) -> None:
        """Leave `available` points in the cost bucket now (it refills at the restore rate)."""
        with self._fake._lock:
            self._bucket = min(self.bucket_maximum, max(0.0, available))
            self._bucket_at = self._fake.now()

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._fake._lock:
            self._failures.extend([status] * n)

    def rate_limit_next(self, n: int = 1, retry_after: float = 1) -> None:
        with self._fake._lock:
            self._rate_limits.extend([retry_after] * n)

    def throttle_next(self, n: int = 1) -> None:
        with self._fake._lock:
            self._throttles += n

    def graphql_error_next(
        self, n: int = 1, message: str = "Internal error. Looks like something went wrong on our end."
    ) -> None:
        with self._fake._lock:
            self._graphql_errors.extend([message] * n)

    def fail_bulk_next(self, n: int = 1) -> None:
        with self._fake._lock:
            self._fail_next_bulk += n

    def corrupt_bulk_next(self, n: int = 1) -> None:
        """The next bulk results get a line that is not JSON in their middle."""
        with self._fake._lock:
            self._corrupt_next_bulk += n

    def throttle_randomly(self, probability: float, *, seed: int = 0) -> None:
        """Answer this share of otherwise good requests with THROTTLED (seeded, so runs repeat)."""
        with self._fake._lock:
            self._throttle_probability = probability
            self._throttle_rng = random.Random(seed)

    def _throttled_body(self, requested_cost: int) -> dict:
        return {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
            "extensions": {"cost": self._cost(requested_cost, None)},
        }

    def _throttled(self, requested_cost: int) -> dict | None:
        """THROTTLED when the bucket holds less than the requested cost, or by random injection."""
        if self._throttle_probability and self._throttle_rng.random() < self._throttle_probability:
            return self._throttled_body(requested_cost)
        self._cost(requested_cost, None)  # refill to now
        if self._bucket < requested_cost:
            return self._throttled_body(requested_cost)
        return None

    def _injected_fault(self, requested_cost: int) -> tuple[int, Any, dict[str, str]] | None:
        if self._failures:
            status = self._failures.popleft()
            return status, {"errors": http.HTTPStatus(status).phrase}, {}
        if self._rate_limits:
            # Shopify writes Retry-After with a decimal point ("2.0").
            return 429, {"errors": "Throttled"}, {"Retry-After": str(float(self._rate_limits.popleft()))}
        if self._throttles:
            self._throttles -= 1
            # Leave the bucket just short of the query's cost so that a client waiting for it to refill waits
            # a fraction of a second rather than the full restore time.
            self._bucket = max(0.0, requested_cost - 10.0)
            self._bucket_at = self._fake.now()
            return 200, self._throttled_body(requested_cost), {}
        if self._graphql_errors:
            message = self._graphql_errors.popleft()
            return 200, _graphql_error(message, "INTERNAL_SERVER_ERROR", requestId=str(uuid.uuid4())), {}
        return None

    def _cost(self, requested: int, actual: int | None) -> dict:
        now = self._fake.now()
        self._bucket = min(self.bucket_maximum, self._bucket + (now - self._bucket_at) * self.restore_rate)
        self._bucket_at = now
        if actual is not None:
            self._bucket = max(0.0, self._bucket - actual)
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.bucket_maximum,
                "currentlyAvailable": round(self._bucket, 1),
                "restoreRate": self.restore_rate,
            },
        }

    # --- what queries see ---

    def _visible_orders(self) -> Iterator[tuple[int, dict]]:
        if "read_all_orders" in self.scopes:
            yield from self.orders.items()
            return
        cutoff = iso(utcnow() - ORDER_WINDOW)
        for order_id, order in self.orders.items():
            if order["createdAt"] >= cutoff:
                yield order_id, order


# --- search syntax and argument reading --------------------------------------------------------------------------

_SEARCH_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt"}
_SEARCH_TERM = re.compile(r"""(?P<field>\w+):(?P<op>>=|<=|>|<)?\s*(?:'(?P<q1>[^']*)'|"(?P<q2>[^"]*)"|(?P<bare>\S+))""")
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "": lambda a, b: a == b,
}


def _parse_search(search: str | None, root: str) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """Conditions on timestamps, plus warnings for every term the fake ignores, as Shopify reports them."""
    conditions: list[tuple[str, str, str]] = []
    warnings: list[dict] = []
    if not search:
        return conditions, warnings
    rest = search
    for match in _SEARCH_TERM.finditer(search):
        rest = rest.replace(match.group(0), " ", 1)
        name, op = match["field"], match["op"] or ""
        value = match["q1"] if match["q1"] is not None else match["q2"] if match["q2"] is not None else match["bare"]
        if name not in _SEARCH_FIELDS:
            warnings.append({"field": name, "message": "Invalid search field for this query."})
            continue
        try:
            moment = parse_iso(value)
        except ValueError:
            warnings.append({"field": name, "message": f"Invalid date {value!r}."})
            continue
        # Stored timestamps have whole seconds: round a fractional bound so the comparison keeps its meaning.
        bound = iso(moment)
        if moment.microsecond and op in (">=", "<"):
            bound = iso(moment.replace(microsecond=0) + timedelta(seconds=1))
        conditions.append((_SEARCH_FIELDS[name], op, bound))
    for word in rest.split():
        if word.upper() not in ("AND",):
            warnings.append({"field": word, "message": "Free-text and other search terms are not supported."})
    return conditions, warnings


def _matches(record: dict, conditions: list[tuple[str, str, str]]) -> bool:
    return all(_COMPARE[op](record[key], bound) for key, op, bound in conditions)


# --- documents: arguments, projection onto the selection, cost ---------------------------------------------------

_BULK_ROOTS = ("products", "orders")
# Without the published schema (see shopify_schema.py) the fake still refuses what these scopes guard.
_FALLBACK_ACCESS = {
    "products": ("read_products",),
    "product": ("read_products",),
    "orders": ("read_orders",),
    "order": ("read_orders",),
    "customer": ("read_customers",),
}
_NOTHING = object()


class _QueryError(Exception):
    """A document the fake answers with a GraphQL error (HTTP 200)."""

    def __init__(self, message: str, code: str, **extensions: Any):
        super().__init__(message)
        self.body = {"data": None, **_graphql_error(message, code, **extensions)}


@dataclass
class _Document:
    tree: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict

    @classmethod
    def parse(cls, text: str, variables: dict, operation_name: str | None = None) -> _Document:
        try:
            tree = graphql_parse(text)
        except GraphQLSyntaxError as error:
            raise _QueryError(error.message, "syntaxError") from error
        operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            operations = [o for o in operations if o.name and o.name.value == operation_name]
        if len(operations) != 1:
            raise _QueryError("An operation name is required when a document holds several.", "invalidQuery")
        fragments = {d.name.value: d for d in tree.definitions if isinstance(d, FragmentDefinitionNode)}
        return cls(tree, operations[0], fragments, variables)

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation == OperationType.MUTATION

    def arguments(self, field: FieldNode) -> dict[str, Any]:
        """The field's arguments; one given as a variable the request left out is absent."""
        values = {a.name.value: value_from_ast_untyped(a.value, self.variables) for a in field.arguments or ()}
        return {name: value for name, value in values.items() if value is not Undefined}

    def root_fields(self) -> list[FieldNode]:
        return list(self.fields(self.operation.selection_set, "Mutation" if self.is_mutation else "QueryRoot"))

    def fields(self, selection_set: SelectionSetNode, typename: str | None) -> Iterator[FieldNode]:
        """The fields selected on an object of this type, fragments flattened."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
                continue
            fragment = (
                selection if isinstance(selection, InlineFragmentNode) else self.fragments.get(selection.name.value)
            )
            if fragment is None:
                continue
            condition = fragment.type_condition.name.value if fragment.type_condition else None
            if condition is None or typename is None or condition == typename:
                yield from self.fields(fragment.selection_set, typename)


def _typename(value: dict) -> str | None:
    if "__typename" in value:
        return value["__typename"]
    ident = value.get("id")
    if isinstance(ident, str) and ident.startswith("gid://shopify/"):
        return ident.split("/")[3]
    return None


def _index_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["i", index]).encode()).decode()


def _index_from_cursor(cursor: Any) -> int:
    try:
        kind, index = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        if kind != "i" or not isinstance(index, int):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error) as error:
        raise _QueryError("Invalid cursor for current pagination sort.", "BAD_USER_INPUT") from error
    return index


def _page_size(arguments: dict, name: str) -> int:
    if "last" in arguments or "before" in arguments:
        raise _QueryError(f"The fake pages {name} forwards only (first/after).", "FAKE_UNIMPLEMENTED")
    first = arguments.get("first")
    if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_PAGE_SIZE:
        raise _QueryError(
            f"The first argument of {name} must be between 0 and {MAX_PAGE_SIZE}, not {first!r}.", "BAD_USER_INPUT"
        )
    return first


def _list_connection(items: list, arguments: dict, name: str) -> dict:
    """A nested connection (a product's variants, an order's lines) paged from the stored list."""
    first = _page_size(arguments, name)
    start = _index_from_cursor(arguments["after"]) + 1 if arguments.get("after") is not None else 0
    chosen = items[start : start + first]
    edges = [{"cursor": _index_cursor(start + offset), "node": item} for offset, item in enumerate(chosen)]
    return {
        "edges": edges,
        "nodes": chosen,
        "pageInfo": {
            "hasNextPage": start + len(chosen) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _is_connection_selection(field: FieldNode) -> bool:
    return field.selection_set is not None and any(
        isinstance(s, FieldNode) and s.name.value in ("edges", "nodes") for s in field.selection_set.selections
    )


def _project(value: Any, selection_set: SelectionSetNode | None, doc: _Document) -> Any:
    """The answer to a selection: only the fields asked for, under their aliases, nested
    connections paged by their arguments. A field the fake does not hold is an error, never a
    silent null."""
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [_project(item, selection_set, doc) for item in value]
    if not isinstance(value, dict):
        return value
    projected: dict[str, Any] = {}
    for field in doc.fields(selection_set, _typename(value)):
        key, name = (field.alias or field.name).value, field.name.value
        if name == "__typename":
            projected[key] = _typename(value)
            continue
        raw = value.get(name, _NOTHING)
        if raw is _NOTHING:
            where = _typename(value) or "this object"
            raise _QueryError(f"The fake holds no {name!r} on {where}.", "FAKE_UNIMPLEMENTED")
        if field.selection_set is not None and isinstance(raw, list) and _is_connection_selection(field):
            raw = _list_connection(raw, doc.arguments(field), name)
        projected[key] = _project(raw, field.selection_set, doc)
    return projected


def _actual_cost(data: Any, selection_set: SelectionSetNode | None, doc: _Document) -> int:
    """What the answer cost: the requested-cost rules applied to what came back."""
    if selection_set is None or not isinstance(data, dict):
        return 0
    total = 0
    for field in doc.fields(selection_set, _typename(data)):
        value = data.get((field.alias or field.name).value)
        if field.selection_set is None or value is None:
            continue
        if isinstance(value, dict) and ("nodes" in value or "edges" in value) and _is_connection_selection(field):
            nodes = value.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in value.get("edges") or ()]
            inner = next(
                (s for s in field.selection_set.selections if isinstance(s, FieldNode) and s.name.value == "nodes"),
                None,
            )
            node_selection = inner.selection_set if inner is not None else None
            if node_selection is None:
                edges = next(s for s in field.selection_set.selections if s.name.value == "edges")
                node_selection = next(s for s in edges.selection_set.selections if s.name.value == "node").selection_set
            total += 2 + sum(1 + _actual_cost(node, node_selection, doc) for node in nodes)
        elif isinstance(value, list):
            total += 1 + max((_actual_cost(item, field.selection_set, doc) for item in value), default=0)
        else:
            total += 1 + _actual_cost(value, field.selection_set, doc)
    return total


def _fallback_cost(doc: _Document) -> int:
    """Requested cost without the schema: a field with `first` is a connection."""

    def cost(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for field in doc.fields(selection_set, None):
            if field.selection_set is None:
                continue
            arguments = doc.arguments(field)
            if "first" in arguments or "last" in arguments:
                size = int(arguments.get("first") or arguments.get("last") or 0)
                node = 0
                for inner in field.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "nodes":
                        node = max(node, 1 + cost(inner.selection_set))
                    elif isinstance(inner, FieldNode) and inner.name.value == "edges" and inner.selection_set:
                        for leaf in inner.selection_set.selections:
                            if isinstance(leaf, FieldNode) and leaf.name.value == "node":
                                node = max(node, 1 + cost(leaf.selection_set))
                total += 2 + size * node
            else:
                total += 1 + cost(field.selection_set)
        return total

    if doc.is_mutation:
        return 10 * len(doc.root_fields())
    return cost(doc.operation.selection_set)


def _fallback_denied(doc: _Document, scopes: set[str]) -> list[tuple[list[str], str, str]]:
    granted = granted_scopes(scopes)
    found: list[tuple[list[str], str, str]] = []

    def walk(selection_set: SelectionSetNode | None, path: list[str]) -> None:
        if selection_set is None:
            return
        for field in doc.fields(selection_set, None):
            here = [*path, (field.alias or field.name).value]
            needed = _FALLBACK_ACCESS.get(field.name.value)
            if needed and not any(scope in granted for scope in needed):
                found.append((here, field.name.value, f"`{needed[0]}` access scope."))
                continue
            walk(field.selection_set, here)

    walk(doc.operation.selection_set, [])
    return found


def _encode_cursor(key: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: Any) -> tuple[str, int]:
    try:
        updated, record_id = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        if not isinstance(updated, str) or not isinstance(record_id, int):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error) as error:
        raise _QueryError("Invalid cursor for current pagination sort.", "BAD_USER_INPUT") from error
    return updated, record_id


# --- bulk results ----------------------------------------------------------------------------------------------------


def _connection_node_selection(field: FieldNode) -> SelectionSetNode | None:
    for selection in field.selection_set.selections if field.selection_set else ():
        if isinstance(selection, FieldNode) and selection.name.value == "nodes":
            return selection.selection_set
        if isinstance(selection, FieldNode) and selection.name.value == "edges" and selection.selection_set:
            for inner in selection.selection_set.selections:
                if isinstance(inner, FieldNode) and inner.name.value == "node":
                    return inner.selection_set
    return None


def _bulk_objects(
    value: dict, selection_set: SelectionSetNode, doc: _Document, parent_id: str | None, out: list[dict]
) -> None:
    """One JSONL object for this node, then one for each node of its nested connections."""
    line: dict[str, Any] = {}
    nested: list[tuple[list, SelectionSetNode]] = []
    for field in doc.fields(selection_set, _typename(value)):
        key, name = (field.alias or field.name).value, field.name.value
        if name == "__typename":
            line[key] = _typename(value)
            continue
        raw = value.get(name, _NOTHING)
        if raw is _NOTHING:
            raise _QueryError(f"The fake holds no {name!r} on {_typename(value)}.", "FAKE_UNIMPLEMENTED")
        if isinstance(raw, list) and _is_connection_selection(field):
            nested.append((raw, _connection_node_selection(field)))
        else:
            line[key] = _project(raw, field.selection_set, doc)
    if parent_id is not None:
        line["__parentId"] = parent_id
    out.append(line)
    for items, node_selection in nested:
        for item in items:
            _bulk_objects(item, node_selection, doc, value["id"], out)


def _bulk_lines(records: Iterable[dict], doc: _Document, *, grouped: bool, seed: int) -> list[dict]:
    """The objects of a bulk result. Grouped: each parent, then its children. Ungrouped (Shopify's
    default since 2026-01): parents in order, children scattered anywhere, before or after their
    parent, so that a reader depending on order fails."""
    root = doc.root_fields()[0]
    node_selection = _connection_node_selection(root)
    if node_selection is None:
        raise _QueryError("A bulk query selects edges { node } or nodes of its connection.", "INVALID")
    if grouped:
        lines: list[dict] = []
        for record in records:
            _bulk_objects(record, node_selection, doc, None, lines)
        return lines
    rng = random.Random(seed)
    parents: list[dict] = []
    children: list[dict] = []
    for record in records:
        objects: list[dict] = []
        _bulk_objects(record, node_selection, doc, None, objects)
        parents.append(objects[0])
        children.extend(objects[1:])
    keyed = [(float(index), line) for index, line in enumerate(parents)]
    keyed += [(rng.uniform(-0.5, len(parents) - 0.5), child) for child in children]
    keyed.sort(key=lambda pair: pair[0])
    return [line for _, line in keyed]


# --- the server ----------------------------------------------------------------------------------------------------

_TOKEN_ROUTE = re.compile(r"^/shops/(?P<domain>[^/]+)/admin/oauth/access_token$")
_GRAPHQL_ROUTE = re.compile(r"^/shops/(?P<domain>[^/]+)/admin/api/(?P<version>[^/]+)/graphql\.json$")
_BULK_ROUTE = re.compile(r"^/bulk/(?P<key>[A-Za-z0-9_-]+)\.jsonl$")


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    content_type: str = "application/json; charset=utf-8"


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, _compact(payload), headers or {})


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as the app's pooled client expects; every reply sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "FakeShopify"
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read FakeStore.requests instead of stderr noise

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

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
        path = urlsplit(self.path).path
        fake = self.server.fake
        try:
            bulk = _BULK_ROUTE.match(path)
            if bulk and method == "GET":
                self._send_file(fake._bulk_file(bulk["key"]))
            else:
                try:
                    reply = fake._handle(method, path, self.headers, body)
                except Exception as error:  # a defect of the fake: say so rather than hang up
                    reply = _json_reply(500, {"errors": f"fake Shopify crashed: {type(error).__name__}: {error}"})
                self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _send_file(self, data: bytes | None) -> None:
        if data is None:
            self._send(_Reply(404, b"<Error><Code>NoSuchKey</Code></Error>", {}, "application/xml"))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        view = memoryview(data)
        for offset in range(0, len(data), DOWNLOAD_CHUNK_BYTES):
            self.wfile.write(view[offset : offset + DOWNLOAD_CHUNK_BYTES])
            self.wfile.flush()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeShopify


class FakeShopify:
    """The fake Admin API for any number of stores; use as a context manager or call start() and stop()."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_version: str = "2026-10",
        bulk_polls_until_done: int = 2,
        access_token_ttl: int = 3600,
        refresh_token_ttl: int = 7_776_000,
        schema: AdminSchema | None | object = SCHEMA_AUTO,
        enforce_bucket: bool = True,
    ):
        """`schema`: Shopify's Admin schema to hold requests to; by default the published one for
        `api_version` (installed on first use), None to run without it."""
        if schema is SCHEMA_AUTO:
            schema = admin_schema(api_version)
            if schema is None and os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}:
                raise RuntimeError(
                    f"REQUIRE_SERVICES=1 but Shopify's Admin schema {api_version} is unavailable: "
                    + unavailable_reason(api_version)
                )
        self.schema: AdminSchema | None = schema  # type: ignore[assignment]
        self.enforce_bucket = enforce_bucket
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_version = api_version
        self.bulk_polls_until_done = bulk_polls_until_done
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.stores: dict[str, FakeStore] = {}
        # One lock for all state: handler threads and the test thread both read and change the stores.
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bulk_files: dict[str, bytes] = {}
        self._next_bulk_id = 1
        self._clock_offset = 0.0

    # --- time ---

    def now(self) -> float:
        """The fake's monotonic clock, which refills the cost buckets."""
        return time.monotonic() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the clock on, as if that time had passed: a test that skips the client's waits
        passes this as its sleep, so that the buckets refill as they would have."""
        self._clock_offset += max(0.0, float(seconds))

    # --- lifecycle ---

    def start(self) -> FakeShopify:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-shopify", daemon=True
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

    def __enter__(self) -> FakeShopify:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeShopify is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def admin_base_url(self, domain: str) -> str:
        return f"{self.base_url}/shops/{domain}"

    # --- stores ---

    def add_store(
        self,
        domain: str,
        *,
        currency: str = "USD",
        timezone: str = "UTC",
        name: str | None = None,
        scopes: tuple[str, ...] = ("read_products", "read_orders", "read_customers", "write_app_proxy"),
    ) -> FakeStore:
        domain = domain.lower()
        with self._lock:
            if domain in self.stores:
                raise ValueError(f"store {domain} already exists")
            name = name or domain.split(".")[0].replace("-", " ").title()
            store = FakeStore(self, domain, currency=currency, timezone=timezone, name=name, scopes=scopes)
            self.stores[domain] = store
            return store

    def store(self, domain: str) -> FakeStore:
        return self.stores[domain.lower()]

    # --- what Shopify sends to the app ---

    def id_token(
        self,
        domain: str,
        *,
        user_id: str = "42",
        expires_in: int = 60,
        secret: str | None = None,
        audience: str | None = None,
        dest: str | None = None,
        iss: str | None = None,
        nbf_offset: int = 0,
    ) -> str:
        """An App Bridge session (ID) token; the keyword arguments spoil it on purpose for negative tests."""
        now = int(time.time())
        claims = {
            "iss": iss if iss is not None else f"https://{domain}/admin",
            "dest": dest if dest is not None else f"https://{domain}",
            "aud": audience if audience is not None else self.client_id,
            "sub": str(user_id),
            "exp": now + expires_in,
            "nbf": now + nbf_offset,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "sid": secrets.token_hex(16),
        }
        return jwt.encode(claims, secret if secret is not None else self.client_secret, algorithm="HS256")

    def deliver_webhook(
        self,
        url: str,
        *,
        topic: str,
        domain: str,
        payload: dict | bytes,
        secret: str | None = None,
        webhook_id: str | None = None,
        triggered_at: str | None = None,
        api_version: str | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """POST a webhook as Shopify does; answers (status, headers with lower-case names, body)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        digest = hmac.new((secret if secret is not None else self.client_secret).encode(), body, hashlib.sha256)
        sent = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest.digest()).decode(),
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-API-Version": api_version or self.api_version,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at or iso(utcnow()),
            **(headers or {}),
        }
        response = httpx.post(url, content=body, headers=sent, timeout=30)
        return response.status_code, dict(response.headers.items()), response.content

    # --- request handling ---

    def _bulk_file(self, key: str) -> bytes | None:
        with self._lock:
            return self._bulk_files.get(key)

    def _handle(self, method: str, path: str, headers: Any, body: bytes) -> _Reply:
        route = _TOKEN_ROUTE.match(path) or _GRAPHQL_ROUTE.match(path)
        with self._lock:
            store = self.stores.get(route["domain"].lower()) if route else None
            if store is None:
                return _json_reply(404, {"errors": "Not Found"})
            entry: dict[str, Any] = {"path": path, "method": method, "operation": None, "status": None}
            store.requests.append(entry)
            if method != "POST":
                reply = _json_reply(405, {"errors": "Method Not Allowed"})
            elif route.re is _TOKEN_ROUTE:
                entry["operation"] = "token"
                reply = self._token_endpoint(store, headers, body)
            else:
                reply = self._graphql_endpoint(store, route["version"], headers, body, entry)
            entry["status"] = reply.status
            return reply

    # --- token endpoint ---

    def _token_endpoint(self, store: FakeStore, headers: Any, body: bytes) -> _Reply:
        record: dict[str, Any] = {"grant_type": None, "status": None}
        try:
            params = self._form(headers, body)
            record.update(
                grant_type=params.get("grant_type"),
                requested_token_type=params.get("requested_token_type"),
                expiring=params.get("expiring"),
                has_code="code" in params,
            )
            status, payload = 200, self._grant(store, params)
        except _Rejected as rejected:
            status, payload = rejected.status, rejected.body
        record["status"] = status
        if status == 200:
            record["access_token"] = payload["access_token"]
        store.token_requests.append(record)
        return _json_reply(status, payload)

    @staticmethod
    def _form(headers: Any, body: bytes) -> dict[str, Any]:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = None
            if not isinstance(params, dict):
                raise _Rejected(400, {"error": "invalid_request", "error_description": "Malformed JSON body."})
            return params
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def _grant(self, store: FakeStore, params: dict[str, Any]) -> dict:
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            raise _Rejected(400, {"error": "invalid_client", "error_description": "Client credentials are invalid."})
        grant_type = params.get("grant_type")
        if not grant_type or grant_type == "authorization_code":
            return self._authorization_code_grant(store, params)
        if not store.installed:
            raise _Rejected(400, {"error": "invalid_client", "error_description": "The app is not installed."})
        if grant_type == TOKEN_EXCHANGE_GRANT:
            return self._token_exchange_grant(store, params)
        if grant_type == "refresh_token":
            refresh = store.refresh_tokens.get(str(params.get("refresh_token") or ""))
            if refresh is None or not refresh.valid(time.time()):
                raise _Rejected(
                    400, {"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."}
                )
            return store._mint(expiring=True, issued_from=refresh.token)
        raise _Rejected(
            400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type {grant_type!r}."}
        )

    def _authorization_code_grant(self, store: FakeStore, params: dict[str, Any]) -> dict:
        code = params.get("code")
        if not code:
            raise _Rejected(400, {"error": "invalid_request", "error_description": "Missing grant_type or code."})
        if code not in store.auth_codes:
            raise _Rejected(
                400, {"error": "invalid_grant", "error_description": "The authorization code was not found."}
            )
        store.auth_codes.discard(code)
        store.installed = True  # the authorization-code grant is how the legacy OAuth flow installs the app
        return store._mint(expiring=_flag(params.get("expiring")))

    def _token_exchange_grant(self, store: FakeStore, params: dict[str, Any]) -> dict:
        if params.get("subject_token_type") != ID_TOKEN_TYPE:
            raise _Rejected(
                400, {"error": "invalid_request", "error_description": f"subject_token_type must be {ID_TOKEN_TYPE}."}
            )
        requested = params.get("requested_token_type") or OFFLINE_TOKEN_TYPE
        if requested not in (OFFLINE_TOKEN_TYPE, ONLINE_TOKEN_TYPE):
            raise _Rejected(
                400, {"error": "invalid_request", "error_description": f"Unknown requested_token_type {requested!r}."}
            )
        claims = self._verify_id_token(store, str(params.get("subject_token") or ""))
        if requested == ONLINE_TOKEN_TYPE:
            return store._mint(expiring=True, online=True, user_id=claims["sub"])
        return store._mint(expiring=_flag(params.get("expiring")))

    def _verify_id_token(self, store: FakeStore, token: str) -> dict:
        def reject(reason: str) -> _Rejected:
            return _Rejected(400, {"error": "invalid_subject_token", "error_description": reason})

        try:
            claims = jwt.decode(
                token,
                self.client_secret,
                algorithms=["HS256"],
                audience=self.client_id,
                leeway=ID_TOKEN_LEEWAY_SECONDS,
                options={"require": ["exp", "nbf", "iat", "iss", "dest", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            raise reject(f"The ID token is invalid: {error}.") from error
        if urlsplit(str(claims["dest"])).hostname != store.domain:
            raise reject("The ID token was issued for another shop.")
        if urlsplit(str(claims["iss"])).hostname != store.domain:
            raise reject("The ID token's issuer does not match its destination.")
        return claims

    # --- GraphQL endpoint ---

    def _graphql_endpoint(self, store: FakeStore, version: str, headers: Any, body: bytes, entry: dict) -> _Reply:
        if version != self.api_version:
            return _json_reply(404, {"errors": "Not Found"})
        if store._authenticate(headers.get("X-Shopify-Access-Token")) is None:
            return _json_reply(401, INVALID_TOKEN_BODY)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if content_type == "application/graphql":
                query, variables, operation_name = body.decode(), {}, None
            else:
                request = json.loads(body)
                query, variables = request["query"], request.get("variables") or {}
                operation_name = request.get("operationName")
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError(query)
        except (ValueError, KeyError, TypeError):
            return _json_reply(400, {"errors": {"query": "Required parameter missing or invalid"}})
        entry["query"] = query
        entry["variables"] = variables
        try:
            doc = self._checked_document(store, query, variables, operation_name)
            roots = doc.root_fields()
            entry["operation"] = roots[0].name.value if roots else None
            requested = int(self._requested_cost(doc) * store.cost_factor)
            entry["requested_cost"] = requested
            if requested > MAX_QUERY_COST:
                # Priced before it runs, and refused without charging the bucket.
                return _json_reply(200, self._cost_refusal(requested))
            self._check_access(store, doc)
        except _QueryError as error:
            return _json_reply(200, error.body)
        # Faults come after validation: they stand for Shopify failing an otherwise good request.
        fault = store._injected_fault(requested)
        if fault is not None:
            status, payload, extra_headers = fault
            return _json_reply(status, payload, extra_headers)
        throttled = store._throttled(requested) if self.enforce_bucket else None
        if throttled is not None:
            return _json_reply(200, throttled)
        try:
            payload = self._resolve(store, doc, requested)
        except _QueryError as error:
            return _json_reply(200, error.body)
        return _json_reply(200, payload, {"X-Shopify-API-Version": self.api_version})

    def _checked_document(self, store: FakeStore, query: str, variables: dict, operation_name: str | None) -> _Document:
        doc = _Document.parse(query, variables, operation_name)
        if self.schema is not None:
            errors = self.schema.validate(doc.tree)
            if errors:
                raise _QueryError("; ".join(error.message for error in errors), *_validation_code(errors[0]))
            coerced = get_variable_values(self.schema.schema, doc.operation.variable_definitions or (), variables)
            if isinstance(coerced, list):
                raise _QueryError("; ".join(error.message for error in coerced), "variableMismatch")
            doc.variables = coerced.coerced if hasattr(coerced, "coerced") else coerced
        else:
            known = {"shop", "currentAppInstallation", "products", "orders", "product", "order"}
            known |= {"bulkOperation", "currentBulkOperation", "bulkOperationRunQuery"}
            for field in doc.root_fields():
                if field.name.value not in known:
                    name = field.name.value
                    raise _QueryError(
                        f"Field '{name}' doesn't exist on type 'QueryRoot'",
                        "undefinedField",
                        typeName="QueryRoot",
                        fieldName=name,
                    )
        return doc

    def _requested_cost(self, doc: _Document) -> int:
        if self.schema is None:
            return _fallback_cost(doc)
        try:
            return self.schema.requested_cost(doc.tree, doc.variables)
        except CostError as error:
            raise _QueryError(str(error), "BAD_USER_INPUT") from error

    @staticmethod
    def _cost_refusal(requested: int) -> dict:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
            f"See {RATE_LIMIT_DOCS} for more information on how the cost of a query is calculated.\n\n"
            "To query larger amounts of data with fewer limits, bulk operations should be used instead."
        )
        return _graphql_error(
            message, "MAX_COST_EXCEEDED", cost=requested, maxCost=MAX_QUERY_COST, documentation=RATE_LIMIT_DOCS
        )

    def _denied(self, store: FakeStore, tree_doc: _Document) -> list[tuple[list[str], str, str]]:
        scopes = set(store.scopes)
        if not store.protected_customer_data:
            scopes -= {"read_customers", "write_customers"}
        if self.schema is None:
            return _fallback_denied(tree_doc, scopes)
        return [(list(d.path), d.field, d.access.text) for d in self.schema.denied(tree_doc.tree, scopes)]

    def _check_access(self, store: FakeStore, doc: _Document) -> None:
        denied = self._denied(store, doc)
        if not denied:
            return
        errors = [
            {
                "message": f"Access denied for {field} field. Required access: {text}",
                "path": path,
                "extensions": {
                    "code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": text,
                },
            }
            for path, field, text in denied
        ]
        error = _QueryError(errors[0]["message"], "ACCESS_DENIED")
        error.body = {"data": None, "errors": errors}
        raise error

    def _resolve(self, store: FakeStore, doc: _Document, requested: int) -> dict:
        if doc.is_mutation and {field.name.value for field in doc.root_fields()} & _BILLING_MUTATIONS:
            return _billing_resolve(store, doc)
        data: dict[str, Any] = {}
        extensions: dict[str, Any] = {}
        for field in doc.root_fields():
            value = self._root_field(store, doc, field, extensions)
            data[(field.alias or field.name).value] = _project(value, field.selection_set, doc)
        actual = MUTATION_COST if doc.is_mutation else max(1, _actual_cost(data, doc.operation.selection_set, doc))
        return {"data": data, "extensions": {**extensions, "cost": store._cost(requested, min(actual, requested))}}

    def _root_field(self, store: FakeStore, doc: _Document, field: FieldNode, extensions: dict) -> Any:
        name, arguments = field.name.value, doc.arguments(field)
        if name == "shop":
            return {
                "id": gid("Shop", zlib.crc32(store.domain.encode()) % 10**8),
                "name": store.name,
                "myshopifyDomain": store.domain,
                "currencyCode": store.currency,
                "ianaTimezone": store.timezone,
                "plan": {"partnerDevelopment": store.partner_development},
            }
        if name == "currentAppInstallation":
            return {
                "id": gid("AppInstallation", zlib.crc32(store.domain.encode()) % 10**8),
                "accessScopes": [{"handle": scope, "description": ""} for scope in sorted(store.scopes)],
                "activeSubscriptions": [store_billing(store).node(item) for item in store_billing(store).active()],
            }
        if name in ("products", "orders"):
            return self._connection(store, name, arguments, extensions)
        if name == "product":
            return store.products.get(_gid_number(arguments.get("id"), "Product"))
        if name == "order":
            wanted = _gid_number(arguments.get("id"), "Order")
            return next((order for order_id, order in store._visible_orders() if order_id == wanted), None)
        if name == "bulkOperationRunQuery":
            return self._run_bulk(store, arguments)
        if name == "bulkOperation":
            bulk = store.bulk_operations.get(str(arguments.get("id")))
            return self._poll(store, bulk).node() if bulk else None
        if name == "currentBulkOperation":
            latest = next(reversed(store.bulk_operations.values()), None)
            return self._poll(store, latest).node() if latest else None
        raise _QueryError(f"The fake does not answer {name}.", "FAKE_UNIMPLEMENTED")

    def _connection(self, store: FakeStore, root: str, arguments: dict, extensions: dict) -> dict:
        first = _page_size(arguments, root)
        after = arguments.get("after")
        after_key = _decode_cursor(after) if after is not None else ("", -1)
        search = arguments.get("query")
        conditions, warnings = _parse_search(search, root)
        records = store.products.items() if root == "products" else store._visible_orders()
        candidates = (
            ((record["updatedAt"], record_id), record)
            for record_id, record in records
            if (record["updatedAt"], record_id) > after_key and _matches(record, conditions)
        )
        page = heapq.nsmallest(first + 1, candidates, key=lambda pair: pair[0])
        has_next = len(page) > first
        page = page[:first]
        if warnings:
            extensions["search"] = [{"path": [root], "query": search, "warnings": warnings}]
        return {
            "pageInfo": {
                "hasNextPage": has_next,
                "hasPreviousPage": after is not None,
                "startCursor": _encode_cursor(page[0][0]) if page else None,
                "endCursor": _encode_cursor(page[-1][0]) if page else None,
            },
            "edges": [{"cursor": _encode_cursor(key), "node": record} for key, record in page],
            "nodes": [record for _, record in page],
        }

    # --- bulk operations ---

    def _run_bulk(self, store: FakeStore, arguments: dict) -> dict:
        inner, grouped = arguments.get("query"), bool(arguments.get("groupObjects", False))

        def refused(message: str, code: str = "INVALID") -> dict:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}

        if not isinstance(inner, str):
            return refused("Invalid bulk query: no query.")
        try:
            doc = _Document.parse(inner, {})
            if self.schema is not None and (errors := self.schema.validate(doc.tree)):
                return refused("Invalid bulk query: " + "; ".join(error.message for error in errors))
        except _QueryError as error:
            return refused(f"Invalid bulk query: {error}")
        roots = doc.root_fields()
        if doc.is_mutation or len(roots) != 1 or roots[0].name.value not in _BULK_ROOTS:
            return refused("Invalid bulk query: the fake runs bulk queries over products or orders.")
        if self.schema is not None:
            depths = self.schema.connection_depths(doc.tree)
            if len(depths) > MAX_BULK_CONNECTIONS:
                return refused(f"Bulk queries cannot contain more than {MAX_BULK_CONNECTIONS} connections.")
            if max(depths, default=0) > MAX_BULK_DEPTH:
                return refused(f"Bulk queries cannot contain connections nested more than {MAX_BULK_DEPTH} levels.")
        if sum(1 for bulk in store.bulk_operations.values() if bulk.active) >= MAX_ACTIVE_BULK_OPERATIONS:
            error = {
                "field": None,
                "message": "A bulk query operation for this app and shop is already in progress",
                "code": "OPERATION_IN_PROGRESS",
            }
            return {"bulkOperation": None, "userErrors": [error]}
        root = roots[0].name.value
        will_fail = store._fail_next_bulk > 0
        store._fail_next_bulk -= will_fail
        bulk = BulkOperation(
            numeric_id=self._next_bulk_id,
            root=root,
            query=inner,
            search=doc.arguments(roots[0]).get("query"),
            created_at=iso(utcnow()),
            will_fail=will_fail,
            grouped=grouped,
            # Shopify checks access when it runs the query: the operation fails with ACCESS_DENIED.
            denied=bool(self._denied(store, doc)),
        )
        self._next_bulk_id += 1
        store.bulk_operations[bulk.id] = bulk
        return {"bulkOperation": bulk.node(), "userErrors": []}

    def _poll(self, store: FakeStore, bulk: BulkOperation) -> BulkOperation:
        if not bulk.active:
            return bulk
        bulk.polls += 1
        if bulk.polls < self.bulk_polls_until_done:
            bulk.status = "RUNNING"
            return bulk
        if bulk.will_fail or bulk.denied:
            bulk.status = "FAILED"
            bulk.error_code = "ACCESS_DENIED" if bulk.denied else "INTERNAL_SERVER_ERROR"
            bulk.completed_at = iso(utcnow())
            return bulk
        conditions, _ = _parse_search(bulk.search, bulk.root)
        if bulk.root == "products":
            pairs: Iterable[tuple[int, dict]] = store.products.items()
        else:
            pairs = store._visible_orders()
        roots = [record for _, record in sorted(pairs, key=lambda pair: pair[0]) if _matches(record, conditions)]
        objects = _bulk_lines(roots, _Document.parse(bulk.query, {}), grouped=bulk.grouped, seed=bulk.numeric_id)
        bulk.status = "COMPLETED"
        bulk.completed_at = iso(utcnow())
        bulk.object_count = len(objects)
        bulk.root_object_count = len(roots)
        if objects:
            data = b"".join(_compact(line) + b"\n" for line in objects)
            if store._corrupt_next_bulk:
                store._corrupt_next_bulk -= 1
                cut = data.index(b"\n", len(data) // 2)
                data = data[:cut] + b"\n{not json\n" + data[cut + 1 :]
            key = secrets.token_urlsafe(24)
            self._bulk_files[key] = data
            bulk.file_size = len(data)
            bulk.url = f"{self.base_url}/bulk/{key}.jsonl"
        # With no objects Shopify completes the operation without a file: url and fileSize stay null.
        return bulk


def _validation_code(error: GraphQLError) -> tuple[str, ...]:
    return ("undefinedField",) if error.message.startswith("Cannot query field") else ("invalidQuery",)


def _gid_number(value: Any, kind: str) -> int | None:
    text = str(value or "")
    prefix = f"gid://shopify/{kind}/"
    return int(text[len(prefix) :]) if text.startswith(prefix) and text[len(prefix) :].isdigit() else None


# --- bulk data for sync tests and benchmarks --------------------------------------------------------------------

_ADJECTIVES = (
    "Classic", "Organic", "Vintage", "Handmade", "Everyday", "Deluxe", "Mini", "Rustic", "Modern", "Cozy",
    "Bold", "Soft", "Wild", "Golden", "Urban", "Coastal",
)  # fmt: skip
_NOUNS = (
    "Mug", "Candle", "Tote", "Scarf", "Notebook", "Teapot", "Blanket", "Soap", "Planter", "Apron",
    "Bowl", "Jar", "Basket", "Lamp", "Socks", "Print",
)  # fmt: skip
_VENDORS = ("Northwind", "Acme Goods", "Fern & Co", "Atelier Nine", "Oakline")
_PRODUCT_TYPES = ("Home", "Kitchen", "Apparel", "Stationery", "Bath", "Garden")
_TAGS = ("gift", "bestseller", "eco", "new", "limited", "sale", "handmade")
_COLLECTION_HANDLES = (
    "frontpage", "summer", "winter", "gifts-under-50", "new-arrivals", "bestsellers",
    "kitchen", "home-decor", "bath", "garden", "stationery", "sale",
)  # fmt: skip
_FINANCIAL_STATUSES = ("PAID", "PENDING", "AUTHORIZED", "PARTIALLY_REFUNDED", "REFUNDED")
_FINANCIAL_WEIGHTS = (85, 4, 5, 3, 3)


# --- Billing API (appSubscriptionCreate, appSubscriptionCancel, currentAppInstallation) ---


_BILLING_MUTATIONS = {"appSubscriptionCreate", "appSubscriptionCancel"}
_SUBSCRIPTION_STATUSES = ("PENDING", "ACTIVE", "DECLINED", "CANCELLED", "EXPIRED", "FROZEN")
_PRICING_INTERVALS = ("EVERY_30_DAYS", "ANNUAL")


class FakeBilling:
    """One store's app subscriptions, as Shopify's Billing API keeps them.

    A created subscription is PENDING until the test plays the merchant on the confirmation page
    (`approve` / `decline`). Approving cancels the subscription it replaces, as Shopify does for
    an app's single recurring subscription. `webhook_payload` is the `app_subscriptions/update`
    body Shopify would send for a subscription's current state.
    """

    def __init__(self, store: FakeStore):
        self.store = store
        self.subscriptions: dict[str, dict] = {}
        self.cancel_requests: list[str] = []
        self._next_id = 29000001

    def _gid(self, numeric: int) -> str:
        return gid("AppSubscription", numeric)

    def create(self, *, name: str, return_url: str, test: bool, line_items: list) -> dict:
        numeric, self._next_id = self._next_id, self._next_id + 1
        now = iso(utcnow())
        subscription = {
            "id": self._gid(numeric),
            "name": name,
            "status": "PENDING",
            "test": bool(test),
            "createdAt": now,
            "updatedAt": now,
            "currentPeriodEnd": None,
            "returnUrl": return_url,
            "lineItems": line_items,
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def confirmation_url(self, subscription_id: str) -> str:
        numeric = numeric_id(subscription_id)
        return (
            f"https://{self.store.domain}/admin/charges/4811/{numeric}/RecurringApplicationCharge/"
            f"confirm_recurring_application_charge?signature={secrets.token_urlsafe(12)}"
        )

    def approve(self, subscription_id: str) -> str:
        """The merchant approves; returns the URL Shopify sends them to (returnUrl + charge_id)."""
        subscription = self.subscriptions[subscription_id]
        for other in self.subscriptions.values():
            if other is not subscription and other["status"] == "ACTIVE":
                self._set(other, "CANCELLED")
        self._set(subscription, "ACTIVE")
        subscription["currentPeriodEnd"] = iso(utcnow() + timedelta(days=30))
        return self._return_url(subscription)

    def decline(self, subscription_id: str) -> str:
        subscription = self.subscriptions[subscription_id]
        self._set(subscription, "DECLINED")
        return self._return_url(subscription)

    def set_status(self, subscription_id: str, status: str) -> dict:
        """Shopify changing a subscription on its own (frozen store, expired, cancelled on uninstall)."""
        subscription = self.subscriptions[subscription_id]
        self._set(subscription, status)
        return subscription

    def _set(self, subscription: dict, status: str) -> None:
        assert status in _SUBSCRIPTION_STATUSES, status
        subscription["status"] = status
        # Strictly later each time, like Shopify's updated_at on successive changes.
        previous = parse_iso(subscription["updatedAt"])
        subscription["updatedAt"] = iso(max(utcnow(), previous + timedelta(seconds=1)))

    @staticmethod
    def _return_url(subscription: dict) -> str:
        separator = "&" if "?" in subscription["returnUrl"] else "?"
        return f"{subscription['returnUrl']}{separator}charge_id={numeric_id(subscription['id'])}"

    def active(self) -> list[dict]:
        return [item for item in self.subscriptions.values() if item["status"] == "ACTIVE"]

    def webhook_payload(self, subscription_id: str) -> dict:
        subscription = self.subscriptions[subscription_id]
        price = (
            ((subscription["lineItems"] or [{}])[0].get("plan") or {}).get("appRecurringPricingDetails") or {}
        ).get("price") or {}
        return {
            "app_subscription": {
                "admin_graphql_api_id": subscription["id"],
                "name": subscription["name"],
                "status": subscription["status"],
                "admin_graphql_api_shop_id": gid("Shop", zlib.crc32(self.store.domain.encode()) % 10**8),
                "created_at": subscription["createdAt"],
                "updated_at": subscription["updatedAt"],
                "currency": price.get("currencyCode", "USD"),
                "capped_amount": None,
                "price": str(price.get("amount", "")),
                "interval": "every_30_days",
                "plan_handle": None,
            }
        }

    def node(self, subscription: dict) -> dict:
        return {
            "id": subscription["id"],
            "name": subscription["name"],
            "status": subscription["status"],
            "test": subscription["test"],
            "createdAt": subscription["createdAt"],
            "currentPeriodEnd": subscription["currentPeriodEnd"],
            "returnUrl": subscription["returnUrl"],
            "trialDays": 0,
            "lineItems": [
                {
                    "id": f"gid://shopify/AppSubscriptionLineItem/{numeric_id(subscription['id'])}?v=1",
                    "plan": {
                        "pricingDetails": {
                            "__typename": "AppRecurringPricing",
                            "interval": ((item.get("plan") or {}).get("appRecurringPricingDetails") or {}).get(
                                "interval", "EVERY_30_DAYS"
                            ),
                            "price": ((item.get("plan") or {}).get("appRecurringPricingDetails") or {}).get("price"),
                            "planHandle": None,
                        }
                    },
                }
                for item in subscription["lineItems"]
            ],
        }


def store_billing(store: FakeStore) -> FakeBilling:
    """The store's billing state, created on first use."""
    billing = store.__dict__.get("billing")
    if billing is None:
        billing = store.__dict__["billing"] = FakeBilling(store)
    return billing


def _user_error(field: list[str] | None, message: str) -> dict:
    return {"field": field, "message": message}


def _billing_resolve(store: FakeStore, doc: _Document) -> dict:
    """The Billing API's answer to a billing mutation (appSubscriptionCreate or appSubscriptionCancel)."""
    field = doc.root_fields()[0]
    operation = field.name.value
    store.requests[-1]["operation"] = operation
    billing = store_billing(store)
    arguments = doc.arguments(field)

    def pick(name: str) -> Any:
        return arguments.get(name)

    if operation == "appSubscriptionCancel":
        subscription = billing.subscriptions.get(str(pick("id") or ""))
        billing.cancel_requests.append(str(pick("id")))
        if subscription is None or subscription["status"] != "ACTIVE":
            payload = {"appSubscription": None, "userErrors": [_user_error(["id"], "Subscription not found")]}
        else:
            billing._set(subscription, "CANCELLED")
            payload = {"appSubscription": {"id": subscription["id"], "status": "CANCELLED"}, "userErrors": []}
        return {"data": {"appSubscriptionCancel": payload}, "extensions": {"cost": store._cost(10, 10)}}
    errors = []
    name, return_url, line_items = pick("name"), pick("returnUrl"), pick("lineItems")
    if not isinstance(name, str) or not name.strip():
        errors.append(_user_error(["name"], "Name can't be blank"))
    if not isinstance(return_url, str) or urlsplit(return_url).scheme not in ("http", "https"):
        errors.append(_user_error(["returnUrl"], "Return url is invalid"))
    if not isinstance(line_items, list) or not line_items:
        errors.append(_user_error(["lineItems"], "Line items can't be blank"))
    for index, item in enumerate(line_items if isinstance(line_items, list) else []):
        recurring = ((item or {}).get("plan") or {}).get("appRecurringPricingDetails") or {}
        price = recurring.get("price") or {}
        try:
            amount = Decimal(str(price.get("amount")))
        except (ArithmeticError, ValueError):
            amount = Decimal("-1")
        if amount <= 0 or price.get("currencyCode") not in ("USD", store.currency):
            errors.append(_user_error(["lineItems", str(index), "plan"], "Price must be greater than 0"))
        if recurring.get("interval", "EVERY_30_DAYS") not in _PRICING_INTERVALS:
            errors.append(_user_error(["lineItems", str(index), "plan"], "Interval is invalid"))
    if errors:
        payload = {"appSubscription": None, "confirmationUrl": None, "userErrors": errors}
    else:
        subscription = billing.create(name=name, return_url=return_url, test=bool(pick("test")), line_items=line_items)
        node = billing.node(subscription)
        payload = {
            "appSubscription": {
                key: node[key] for key in ("id", "name", "status", "test", "createdAt", "currentPeriodEnd")
            },
            "confirmationUrl": billing.confirmation_url(subscription["id"]),
            "userErrors": [],
        }
    return {"data": {"appSubscriptionCreate": payload}, "extensions": {"cost": store._cost(10, 10)}}


def populate(
    store: FakeStore,
    *,
    products: int,
    orders: int,
    seed: int = 0,
    lines_per_order: tuple[int, int] = (1, 4),
    days: int = 50,
    now: datetime | None = None,
) -> None:
    """Fill a store with deterministic, plausible data: the same seed (and `now`) gives the same store.

    Products: mostly ACTIVE with some DRAFT, ARCHIVED and UNLISTED, 1-3 variants, some out of stock. Orders over the
    last `days` days: mostly paid, some test, cancelled and guest orders; popular products and "bought together"
    partners make baskets that recommendations can learn from. Built directly (not through add_order) so that 40k
    orders take a couple of seconds.
    """
    rng = random.Random(seed)
    end = int((now or utcnow()).timestamp())
    span = days * 86400
    stamp = time.gmtime

    def fmt(epoch: int) -> str:
        return time.strftime(_DATE_FORMAT, stamp(epoch))

    with store._fake._lock:
        collections_pool = store._collection_refs(_COLLECTION_HANDLES)
        sellable: list[tuple[dict, list[tuple[dict, dict, int]]]] = []
        for _ in range(products):
            product_id = store._next_product_id
            created = end - rng.randrange(span + 30 * 86400)
            updated = created + rng.randrange(end - created + 1)
            roll = rng.random()
            status = "ACTIVE" if roll < 0.85 else "DRAFT" if roll < 0.92 else "ARCHIVED" if roll < 0.96 else "UNLISTED"
            title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {product_id}"
            handle = title.lower().replace(" ", "-")
            variants = []
            for index in range(rng.choice((1, 1, 1, 2, 3))):
                variant_id = store._next_variant_id
                store._next_variant_id += 1
                price = rng.randrange(300, 15000)
                quantity = 0 if rng.random() < 0.12 else rng.randrange(1, 200)
                variants.append(
                    {
                        "id": gid("ProductVariant", variant_id),
                        "legacyResourceId": str(variant_id),
                        "title": "Default Title" if index == 0 else f"Option {index + 1}",
                        "sku": f"SKU-{product_id}-{index + 1}",
                        "price": _cents(price),
                        "compareAtPrice": _cents(price * 5 // 4) if rng.random() < 0.2 else None,
                        "availableForSale": quantity > 0,
                        "inventoryQuantity": quantity,
                    }
                )
            listed = status in ("ACTIVE", "UNLISTED")
            product_gid = gid("Product", product_id)
            product = {
                "id": product_gid,
                "legacyResourceId": str(product_id),
                "title": title,
                "handle": handle,
                "status": status,
                "vendor": rng.choice(_VENDORS),
                "productType": rng.choice(_PRODUCT_TYPES),
                "tags": rng.sample(_TAGS, rng.randrange(3)),
                "description": f"A {title.lower()}.",
                "createdAt": fmt(created),
                "updatedAt": fmt(updated),
                "publishedAt": fmt(created) if listed else None,
                "onlineStoreUrl": f"https://{store.domain}/products/{handle}" if listed else None,
                "totalInventory": sum(v["inventoryQuantity"] for v in variants),
                "tracksInventory": True,
                "featuredMedia": (
                    {"preview": {"image": {"url": f"https://cdn.example/{handle}.jpg", "altText": title}}}
                    if rng.random() < 0.9
                    else None
                ),
                "variants": variants,
                "collections": rng.sample(collections_pool, rng.randrange(3)),
            }
            store._insert_product(product_id, product)
            if listed:
                # Line items of many orders share these small reference dicts to keep 100k line items light:
                # replace them rather than mutate them.
                product_ref = {"id": product_gid}
                refs = [
                    ({"id": v["id"]}, _money_set(v["price"], store.currency), int(v["price"].replace(".", "")))
                    for v in variants
                ]
                sellable.append((product_ref, refs))
        _populate_orders(store, rng, sellable, orders, lines_per_order, end, span, fmt)


def _pick(cumulative: list[float], point: float) -> int:
    # Rounding can land the point on the last boundary itself.
    return min(bisect.bisect(cumulative, point), len(cumulative) - 1)


def _populate_orders(
    store: FakeStore,
    rng: random.Random,
    sellable: list[tuple[dict, list[tuple[dict, dict, int]]]],
    count: int,
    lines_per_order: tuple[int, int],
    end: int,
    span: int,
    fmt: Callable[[int], str],
) -> None:
    currency = store.currency
    random_unit = rng.random
    # Zipf-like popularity, and a fixed partner for each product, so that baskets carry co-purchase signal.
    # Weighted picks bisect precomputed cumulative weights: rng.choices rebuilds them on every call.
    product_cumulative = list(itertools.accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(sellable))))
    product_total = product_cumulative[-1] if sellable else 0.0
    partners = [rng.randrange(len(sellable)) for _ in sellable]
    # Customers are shared reference dicts too, and a few of them come back much more often than the rest.
    customers = [{"id": gid("Customer", 100001 + index)} for index in range(max(1, count // 3))]
    customer_cumulative = list(itertools.accumulate(range(len(customers), 0, -1)))
    customer_total = customer_cumulative[-1]
    status_cumulative = list(itertools.accumulate(_FINANCIAL_WEIGHTS))
    status_total = status_cumulative[-1]
    low, high = lines_per_order
    for created in sorted(end - rng.randrange(span) for _ in range(count)):
        order_id = store._next_order_id
        order_gid = gid("Order", order_id)
        line_items = []
        total = 0
        if sellable:
            chosen = [_pick(product_cumulative, random_unit() * product_total) for _ in range(rng.randint(low, high))]
            if random_unit() < 0.3:
                chosen.append(partners[chosen[0]])
            for position in dict.fromkeys(chosen):
                product_ref, refs = sellable[position]
                variant_ref, price_set, cents = refs[rng.randrange(len(refs))]
                quantity = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                total += cents * quantity
                item_id = store._next_line_item_id
                store._next_line_item_id += 1
                line_items.append(
                    {
                        "id": gid("LineItem", item_id),
                        "quantity": quantity,
                        "product": product_ref,
                        "variant": variant_ref,
                        "originalUnitPriceSet": price_set,
                        "customAttributes": (
                            [{"key": "_basketry", "value": "bought_together"}] if rng.random() < 0.05 else []
                        ),
                    }
                )
        if rng.random() < 0.01:
            # A custom line item: sold through the order, not from the catalogue.
            item_id = store._next_line_item_id
            store._next_line_item_id += 1
            cents = rng.randrange(100, 3000)
            total += cents
            line_items.append(
                {
                    "id": gid("LineItem", item_id),
                    "quantity": 1,
                    "product": None,
                    "variant": None,
                    "originalUnitPriceSet": _money_set(_cents(cents), currency),
                    "customAttributes": [],
                }
            )
        cancelled = rng.random() < 0.03
        status = _FINANCIAL_STATUSES[_pick(status_cumulative, random_unit() * status_total)]
        updated = min(end, created + (rng.randrange(3600) if rng.random() < 0.3 else 0))
        cancelled_at = fmt(min(end, created + 3600)) if cancelled else None
        if cancelled:
            status = "VOIDED" if status in ("PENDING", "AUTHORIZED") else "REFUNDED"
            updated = max(updated, min(end, created + 3600))
        guest = rng.random() < 0.1
        customer = None if guest else customers[_pick(customer_cumulative, random_unit() * customer_total)]
        created_text = fmt(created)
        store._insert_order(
            order_id,
            {
                "id": order_gid,
                "legacyResourceId": str(order_id),
                "name": f"#{store._next_order_number}",
                "createdAt": created_text,
                "updatedAt": fmt(updated),
                "processedAt": created_text,
                "cancelledAt": cancelled_at,
                "test": rng.random() < 0.02,
                "displayFinancialStatus": status,
                "currencyCode": currency,
                "customer": customer,
                "totalPriceSet": _money_set(_cents(total), currency),
                "lineItems": line_items,
                "customAttributes": [],
            },
        )
