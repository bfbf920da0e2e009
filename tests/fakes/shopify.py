"""A fake Shopify Admin API served over real HTTP on loopback.

Tests drive the app's install, GraphQL client and sync end to end against this server instead of mocks. The app
rewrites ``https://{handle}.myshopify.com/<path>`` to ``{admin_base_url}/<path>``, so every per-store route lives
under ``/shops/{domain}/``:

* ``POST /shops/{domain}/admin/oauth/access_token``: token exchange, refresh and authorization-code grants;
* ``POST /shops/{domain}/admin/api/{version}/graphql.json``: the GraphQL Admin API, restricted to the operations the
  app uses (``shop``, ``products``, ``orders`` and bulk queries);
* ``GET /bulk/{key}.jsonl``: bulk results, unauthenticated like Shopify's signed storage URLs.

The GraphQL endpoint has no parser: it recognises the operation by keywords in the query text, reads the top-level
field's arguments, and answers with every documented field whatever the selection set asks for.
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
DOWNLOAD_CHUNK_BYTES = 64 * 1024

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
        self._bucket = BUCKET_MAXIMUM
        self._bucket_at = time.monotonic()

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
            self._bucket = min(BUCKET_MAXIMUM, max(0.0, available))
            self._bucket_at = time.monotonic()

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
            self._bucket_at = time.monotonic()
            body = {
                "errors": [
                    {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}
                ],
                "extensions": {"cost": self._cost(requested_cost, None)},
            }
            return 200, body, {}
        if self._graphql_errors:
            message = self._graphql_errors.popleft()
            return 200, _graphql_error(message, "INTERNAL_SERVER_ERROR", requestId=str(uuid.uuid4())), {}
        return None

    def _cost(self, requested: int, actual: int | None) -> dict:
        now = time.monotonic()
        self._bucket = min(BUCKET_MAXIMUM, self._bucket + (now - self._bucket_at) * BUCKET_RESTORE_RATE)
        self._bucket_at = now
        if actual is not None:
            self._bucket = max(0.0, self._bucket - actual)
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": BUCKET_MAXIMUM,
                "currentlyAvailable": round(self._bucket, 1),
                "restoreRate": BUCKET_RESTORE_RATE,
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


_ARGUMENT = re.compile(
    r'(\w+)\s*:\s*("""[\s\S]*?"""|"(?:[^"\\]|\\.)*"|\$\w+|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[A-Z_]\w*)'
)


def _argument_text(text: str, field: str) -> str | None:
    """The text between the parentheses after `field`, skipping string literals that might hold parentheses."""
    match = re.search(rf"\b{field}\s*\(", text)
    if match is None:
        return None
    start = index = match.end()
    depth = 1
    while index < len(text):
        if text.startswith('"""', index):
            end = text.find('"""', index + 3)
            index = len(text) if end < 0 else end + 3
            continue
        char = text[index]
        if char == '"':
            index += 1
            while index < len(text) and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[start:index]
        index += 1
    return text[start:]


def _literal(raw: str, variables: dict) -> Any:
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw.startswith('"""'):
        return raw[3:-3].strip()
    if raw.startswith('"'):
        return json.loads(raw)
    if raw in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[raw]
    if raw[0] == "-" or raw[0].isdigit():
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    return raw  # an enum value


def _arguments(text: str, field: str, variables: dict) -> dict[str, Any]:
    inner = _argument_text(text, field)
    if inner is None:
        return {}
    return {name: _literal(raw, variables) for name, raw in _ARGUMENT.findall(inner)}


_OPERATIONS = (
    ("bulkOperationRunQuery", re.compile(r"\bbulkOperationRunQuery\b")),
    ("bulkOperation", re.compile(r"\bbulkOperation\s*\(")),
    ("currentBulkOperation", re.compile(r"\bcurrentBulkOperation\b")),
    ("products", re.compile(r"\bproducts\s*[({]")),
    ("orders", re.compile(r"\borders\s*[({]")),
    ("shop", re.compile(r"\bshop\s*\{")),
)
_BULK_ROOT = re.compile(r"\b(products|orders)\b")
_REQUIRED_SCOPES = {"products": ("read_products", "write_products"), "orders": ("read_orders", "write_orders")}


def _operation_of(query: str) -> str | None:
    return next((name for name, pattern in _OPERATIONS if pattern.search(query)), None)


def _encode_cursor(key: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: Any) -> tuple[str, int]:
    try:
        updated, record_id = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        if not isinstance(updated, str) or not isinstance(record_id, int):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error) as error:
        raise _Rejected(200, _graphql_error("Invalid cursor for current pagination sort.", "BAD_USER_INPUT")) from error
    return updated, record_id


# --- node shapes ---------------------------------------------------------------------------------------------------


def _product_node(product: dict) -> dict:
    node = _flat(product, ("variants", "collections"))
    node["variants"] = {"nodes": product["variants"]}
    node["collections"] = {"nodes": product["collections"]}
    return node


def _order_node(order: dict) -> dict:
    node = _flat(order, ("lineItems",))
    node["lineItems"] = {"nodes": order["lineItems"]}
    return node


def _flat(record: dict, connections: tuple[str, ...]) -> dict:
    return {key: value for key, value in record.items() if key not in connections}


def _bulk_lines(root: str, records: Iterable[dict]) -> Iterator[dict]:
    """The JSONL objects of a bulk result: each parent before its children, as Shopify guarantees."""
    for record in records:
        if root == "products":
            yield _flat(record, ("variants", "collections"))
            for child in (*record["variants"], *record["collections"]):
                yield {**child, "__parentId": record["id"]}
        else:
            yield _flat(record, ("lineItems",))
            for child in record["lineItems"]:
                yield {**child, "__parentId": record["id"]}


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
                self._send(fake._handle(method, path, self.headers, body))
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
    ):
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
        scopes: tuple[str, ...] = ("read_products", "read_orders", "write_app_proxy"),
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
                query, variables = body.decode(), {}
            else:
                request = json.loads(body)
                query, variables = request["query"], request.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError(query)
        except (ValueError, KeyError, TypeError):
            return _json_reply(400, {"errors": {"query": "Required parameter missing or invalid"}})
        operation = _operation_of(query)
        entry["operation"] = operation
        entry["variables"] = variables
        # Faults come after authentication: they stand for Shopify failing an otherwise good request.
        fault = store._injected_fault(self._requested_cost(operation, query, variables))
        if fault is not None:
            status, payload, extra_headers = fault
            return _json_reply(status, payload, extra_headers)
        try:
            payload = self._resolve(store, operation, query, variables)
        except _Rejected as rejected:
            return _json_reply(rejected.status, rejected.body)
        return _json_reply(200, payload, {"X-Shopify-API-Version": self.api_version})

    @staticmethod
    def _requested_cost(operation: str | None, query: str, variables: dict) -> int:
        if operation in ("products", "orders"):
            first = _arguments(query, operation, variables).get("first", variables.get("first"))
            return 2 + (first if isinstance(first, int) and first > 0 else DEFAULT_PAGE_SIZE)
        return 10 if operation == "bulkOperationRunQuery" else 1

    def _resolve(self, store: FakeStore, operation: str | None, query: str, variables: dict) -> dict:
        billing = _billing_resolve(store, query, variables)
        if billing is not None:
            return billing
        requested = self._requested_cost(operation, query, variables)
        if operation is None:
            field = (re.search(r"\{\s*(\w+)", query) or re.search(r"(\w+)", query) or [None, "?"])[1]
            return _graphql_error(
                f"Field '{field}' doesn't exist on type 'QueryRoot'",
                "undefinedField",
                typeName="QueryRoot",
                fieldName=field,
            )
        if operation == "shop":
            shop = {
                "id": gid("Shop", zlib.crc32(store.domain.encode()) % 10**8),
                "name": store.name,
                "myshopifyDomain": store.domain,
                "currencyCode": store.currency,
                "ianaTimezone": store.timezone,
                "plan": {"partnerDevelopment": store.partner_development},
            }
            return {"data": {"shop": shop}, "extensions": {"cost": store._cost(requested, 1)}}
        if operation in ("products", "orders"):
            data, extensions, actual = self._connection(store, operation, query, variables)
            return {"data": data, "extensions": {**extensions, "cost": store._cost(requested, actual)}}
        if operation == "bulkOperationRunQuery":
            data = {"bulkOperationRunQuery": self._run_bulk(store, query, variables)}
        elif operation == "bulkOperation":
            arguments = _arguments(query, "bulkOperation", variables)
            operation_id = arguments.get("id", variables.get("id"))
            bulk = store.bulk_operations.get(str(operation_id))
            data = {"bulkOperation": self._poll(store, bulk).node() if bulk else None}
        else:
            latest = next(reversed(store.bulk_operations.values()), None)
            data = {"currentBulkOperation": self._poll(store, latest).node() if latest else None}
        return {"data": data, "extensions": {"cost": store._cost(requested, requested)}}

    def _connection(self, store: FakeStore, root: str, query: str, variables: dict) -> tuple[dict, dict, int]:
        if not any(scope in store.scopes for scope in _REQUIRED_SCOPES[root]):
            needed = f"`{_REQUIRED_SCOPES[root][0]}` access scope."
            raise _Rejected(
                200,
                {
                    "data": None,
                    **_graphql_error(
                        f"Access denied for {root} field. Required access: {needed}",
                        "ACCESS_DENIED",
                        documentation="https://shopify.dev/api/usage/access-scopes",
                        requiredAccess=needed,
                    ),
                },
            )
        arguments = _arguments(query, root, variables)

        def pick(name: str, *conventional: str) -> Any:
            # Arguments written in the query win; without them, fall back to the variable names the app uses.
            if name in arguments:
                return arguments[name]
            return next((variables[key] for key in conventional if key in variables), None)

        first = pick("first", "first")
        first = DEFAULT_PAGE_SIZE if first is None else first
        if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_PAGE_SIZE:
            raise _Rejected(
                200,
                _graphql_error(
                    f"The first argument of {root} must be between 0 and {MAX_PAGE_SIZE}, not {first!r}.",
                    "BAD_USER_INPUT",
                ),
            )
        after = pick("after", "cursor", "after")
        after_key = _decode_cursor(after) if after is not None else ("", -1)
        search = pick("query", "query")
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
        render = _product_node if root == "products" else _order_node
        connection = {
            "pageInfo": {
                "hasNextPage": has_next,
                "hasPreviousPage": after is not None,
                "startCursor": _encode_cursor(page[0][0]) if page else None,
                "endCursor": _encode_cursor(page[-1][0]) if page else None,
            },
            "nodes": [render(record) for _, record in page],
        }
        extensions = {}
        if warnings:
            extensions["search"] = [{"path": [root], "query": search, "warnings": warnings}]
        return {root: connection}, extensions, 2 + len(page)

    # --- bulk operations ---

    def _run_bulk(self, store: FakeStore, query: str, variables: dict) -> dict:
        inner = _arguments(query, "bulkOperationRunQuery", variables).get("query", variables.get("query"))
        root_match = _BULK_ROOT.search(inner) if isinstance(inner, str) else None
        if root_match is None:
            error = {
                "field": ["query"],
                "message": "Invalid bulk query: no products or orders field.",
                "code": "INVALID",
            }
            return {"bulkOperation": None, "userErrors": [error]}
        if sum(1 for bulk in store.bulk_operations.values() if bulk.active) >= MAX_ACTIVE_BULK_OPERATIONS:
            error = {
                "field": None,
                "message": "A bulk query operation for this app and shop is already in progress",
                "code": "OPERATION_IN_PROGRESS",
            }
            return {"bulkOperation": None, "userErrors": [error]}
        root = root_match[1]
        will_fail = store._fail_next_bulk > 0
        store._fail_next_bulk -= will_fail
        bulk = BulkOperation(
            numeric_id=self._next_bulk_id,
            root=root,
            query=inner,
            search=_arguments(inner, root, {}).get("query"),
            created_at=iso(utcnow()),
            will_fail=will_fail,
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
        if bulk.will_fail:
            bulk.status, bulk.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
            return bulk
        conditions, _ = _parse_search(bulk.search, bulk.root)
        if bulk.root == "products":
            pairs: Iterable[tuple[int, dict]] = store.products.items()
        else:
            pairs = store._visible_orders()
        roots = [record for _, record in sorted(pairs, key=lambda pair: pair[0]) if _matches(record, conditions)]
        lines = [json.dumps(line, separators=(",", ":")) for line in _bulk_lines(bulk.root, roots)]
        bulk.status = "COMPLETED"
        bulk.completed_at = iso(utcnow())
        bulk.object_count = len(lines)
        bulk.root_object_count = len(roots)
        if lines:
            data = ("\n".join(lines) + "\n").encode()
            key = secrets.token_urlsafe(24)
            self._bulk_files[key] = data
            bulk.file_size = len(data)
            bulk.url = f"{self.base_url}/bulk/{key}.jsonl"
        # With no objects Shopify completes the operation without a file: url and fileSize stay null.
        return bulk


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


_BILLING_OPERATIONS = (
    ("appSubscriptionCreate", re.compile(r"\bappSubscriptionCreate\s*\(")),
    ("appSubscriptionCancel", re.compile(r"\bappSubscriptionCancel\s*\(")),
    ("currentAppInstallation", re.compile(r"\bcurrentAppInstallation\s*\{")),
)
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


def _billing_resolve(store: FakeStore, query: str, variables: dict) -> dict | None:
    """The Billing API's answer, or None when the document is not a billing operation."""
    operation = next((name for name, pattern in _BILLING_OPERATIONS if pattern.search(query)), None)
    if operation is None:
        return None
    store.requests[-1]["operation"] = operation
    billing = store_billing(store)
    if operation == "currentAppInstallation":
        data = {
            "currentAppInstallation": {
                "id": gid("AppInstallation", zlib.crc32(store.domain.encode()) % 10**8),
                "activeSubscriptions": [billing.node(item) for item in billing.active()],
            }
        }
        return {"data": data, "extensions": {"cost": store._cost(2, 2)}}
    arguments = _arguments(query, operation, variables)

    def pick(name: str) -> Any:
        return arguments[name] if name in arguments else variables.get(name)

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
