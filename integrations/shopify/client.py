"""The Admin GraphQL client, built per shop and passed to the sync code.

Written on httpx rather than `shopifyapp.admin_graphql_request`: that helper returns neither the
`errors` nor the `extensions` of a 200 response that carries errors, which is exactly how Shopify
reports THROTTLED, and it reads `Retry-After` as a whole number. Token exchange, refresh and
request verification do use `shopifyapp`.

Cost: every document's requested cost is computed before it is sent (cost.py); one over Shopify's
1,000-point limit is not sent at all (ShopifyCostExceeded), and a MAX_COST_EXCEEDED answer raises
the same, so that the caller shrinks its page rather than give up. `budget` is what one request
should ask for, given the store's bucket and restore rate as the last answer reported them.

Pacing: before each request, if the leaky bucket (`throttleStatus` of the last answer, refilled
at the restore rate since) holds less than the request's cost, the client waits for it. Retries:
THROTTLED (waits until the bucket holds the query's cost), 429 (honours Retry-After), 5xx and
network errors, each with a bounded number of attempts; a 401 refreshes the token once. Anything
else raises at once with Shopify's message and code (e.g. ACCESS_DENIED).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from integrations.shopify.cost import MAX_QUERY_COST, cost_budget, requested_cost
from integrations.shopify.http import admin_http_client
from integrations.shopify.install import (
    ShopifyReauthRequired,
    admin_api_base_url,
    shopify_access_token_get,
)
from shops.models import Shop

logger = logging.getLogger("basketry.shopify")

MAX_ATTEMPTS = 8
MAX_WAIT_SECONDS = 30.0


class ShopifyApiError(Exception):
    """A request Shopify answered with an error that retrying will not fix, or retries ran out."""

    def __init__(self, message: str, *, retryable: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class ShopifyCostExceeded(ShopifyApiError):
    """The query asks for more than Shopify allows in one request: send a smaller page."""

    def __init__(self, message: str, *, cost: int, max_cost: int = MAX_QUERY_COST) -> None:
        super().__init__(message, code="MAX_COST_EXCEEDED")
        self.cost = cost
        self.max_cost = max_cost


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0
    retried: int = 0
    paced: int = 0
    cost_refused: int = 0
    max_requested_cost: int = 0
    waits: list[float] = field(default_factory=list)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(MAX_WAIT_SECONDS, max(0.0, float(response.headers.get("Retry-After", default))))
    except ValueError:
        return default


def _throttle_wait(body: dict) -> float:
    """Seconds until the bucket holds what the query asked for (Shopify restores `restoreRate` a second)."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    wanted = float(cost.get("requestedQueryCost") or 50)
    available = float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 50) or 50
    return min(MAX_WAIT_SECONDS, max(0.2, (wanted - available) / rate))


class ShopifyClient:
    def __init__(self, *, shop: Shop, sleep: Callable[[float], None] | None = None) -> None:
        self.shop = shop
        self.stats = ClientStats()
        # Looked up at each wait, so that a test replacing time.sleep reaches this client too.
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._http = admin_http_client(base_url=admin_api_base_url(domain=shop.domain, credentials=shop.credentials))
        self._endpoint = f"https://{shop.domain}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
        # The bucket as the last answer described it, and when that answer came.
        self.throttle: dict | None = None
        self._throttle_at = 0.0

    @property
    def budget(self) -> int:
        """The requested cost one request should stay within on this store."""
        return cost_budget(self.throttle)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _wait(self, seconds: float) -> None:
        self.stats.waits.append(seconds)
        self._sleep(seconds)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """The `data` of a successful response; raises ShopifyApiError or ShopifyReauthRequired."""
        cost = requested_cost(query, variables)
        if cost > MAX_QUERY_COST:
            self.stats.cost_refused += 1
            raise ShopifyCostExceeded(f"query cost {cost} exceeds Shopify's limit of {MAX_QUERY_COST}", cost=cost)
        self.stats.max_requested_cost = max(self.stats.max_requested_cost, cost)
        refreshed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._pace(cost)
            token = shopify_access_token_get(shop=self.shop)
            self.stats.requests += 1
            try:
                response = self._http.post(
                    self._endpoint,
                    json={"query": query, "variables": variables or {}},
                    headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
                )
            except httpx.TransportError as error:
                if attempt == MAX_ATTEMPTS:
                    raise ShopifyApiError(f"network error: {error}", retryable=True) from error
                self.stats.retried += 1
                self._wait(min(MAX_WAIT_SECONDS, 0.5 * 2**attempt))
                continue
            if response.status_code == 401:
                if refreshed:
                    raise ShopifyReauthRequired(f"{self.shop.domain}: Shopify refused the access token")
                shopify_access_token_get(shop=self.shop, force_refresh=True)
                refreshed = True
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == MAX_ATTEMPTS:
                    raise ShopifyApiError(f"HTTP {response.status_code} after {attempt} attempts", retryable=True)
                self.stats.retried += 1
                default = 1.0 if response.status_code == 429 else min(MAX_WAIT_SECONDS, 0.5 * 2**attempt)
                self._wait(_retry_after(response, default))
                continue
            if response.status_code != 200:
                raise ShopifyApiError(f"HTTP {response.status_code}: {response.text[:300]}")
            try:
                body = response.json()
            except ValueError as error:
                raise ShopifyApiError("Shopify answered with something other than JSON") from error
            self._observe(body)
            errors = body.get("errors") or []
            listed = [error for error in errors if isinstance(error, dict)] if isinstance(errors, list) else []
            codes = [str((error.get("extensions") or {}).get("code") or "") for error in listed]
            if "THROTTLED" in codes:
                self.stats.throttled += 1
                if attempt == MAX_ATTEMPTS:
                    raise ShopifyApiError("still throttled after retries", retryable=True, code="THROTTLED")
                self._wait(_throttle_wait(body))
                self._assume_refilled(cost)
                continue
            if "MAX_COST_EXCEEDED" in codes:
                self.stats.cost_refused += 1
                extensions = listed[codes.index("MAX_COST_EXCEEDED")].get("extensions") or {}
                refused = int(extensions.get("cost") or cost)
                raise ShopifyCostExceeded(
                    f"Shopify priced the query at {refused} points, over its limit of "
                    f"{extensions.get('maxCost') or MAX_QUERY_COST}",
                    cost=refused,
                    max_cost=int(extensions.get("maxCost") or MAX_QUERY_COST),
                )
            if errors:
                messages = errors if isinstance(errors, str) else "; ".join(str(e.get("message")) for e in errors)
                code = next((code for code in codes if code), "")
                raise ShopifyApiError(
                    f"GraphQL errors: {messages}", retryable=code == "INTERNAL_SERVER_ERROR", code=code
                )
            return body.get("data") or {}
        raise ShopifyApiError("no answer after retries", retryable=True)

    def _observe(self, body: dict) -> None:
        status = ((body.get("extensions") or {}).get("cost") or {}).get("throttleStatus")
        if isinstance(status, dict) and "currentlyAvailable" in status:
            self.throttle = status
            self._throttle_at = time.monotonic()

    def _pace(self, cost: int) -> None:
        """Wait before Shopify has to say THROTTLED: when the bucket, refilled at the restore rate
        since the last answer, holds less than this request's requested cost."""
        if not self.throttle:
            return
        try:
            rate = float(self.throttle.get("restoreRate") or 0)
            maximum = float(self.throttle.get("maximumAvailable") or 0)
            available = float(self.throttle["currentlyAvailable"])
        except (KeyError, TypeError, ValueError):
            return
        if rate <= 0:
            return
        available = min(maximum or available, available + (time.monotonic() - self._throttle_at) * rate)
        wanted = min(float(cost), maximum) if maximum else float(cost)
        if available < wanted:
            self.stats.paced += 1
            self._wait(min(MAX_WAIT_SECONDS, (wanted - available) / rate))
            self._assume_refilled(cost)

    def _assume_refilled(self, cost: int) -> None:
        """Waited for the bucket: count it as holding the cost rather than wait twice for it."""
        if self.throttle:
            self.throttle = {**self.throttle, "currentlyAvailable": float(cost)}
            self._throttle_at = time.monotonic()

    def download(self, url: str):
        """Stream a bulk operation's JSONL result (a signed storage URL: no token)."""
        return httpx.stream("GET", url, timeout=httpx.Timeout(120.0, connect=5.0))
