"""The Admin GraphQL client, built per shop and passed to the sync code.

Written on httpx rather than `shopifyapp.admin_graphql_request`: that helper returns neither the
`errors` nor the `extensions` of a 200 response that carries errors, which is exactly how Shopify
reports THROTTLED, and it reads `Retry-After` as a whole number. Token exchange, refresh and
request verification do use `shopifyapp`.

Pacing: after each answer, if the leaky bucket (`throttleStatus`) holds less than the query's
cost, the client waits for the restore rate to refill it before the next request. Retries:
THROTTLED (waits until the leaky bucket holds the query's cost), 429 (honours
Retry-After), 5xx and network errors, each with a bounded number of attempts; a 401 refreshes the
token once. Anything else raises at once with Shopify's message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from django.conf import settings

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

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0
    retried: int = 0
    paced: int = 0
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
    def __init__(self, *, shop: Shop, sleep: Callable[[float], None] = time.sleep) -> None:
        self.shop = shop
        self.stats = ClientStats()
        self._sleep = sleep
        self._http = admin_http_client(base_url=admin_api_base_url(domain=shop.domain, credentials=shop.credentials))
        self._endpoint = f"https://{shop.domain}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"

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
        refreshed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
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
            errors = body.get("errors") or []
            if isinstance(errors, list) and any(
                (error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors
            ):
                self.stats.throttled += 1
                if attempt == MAX_ATTEMPTS:
                    raise ShopifyApiError("still throttled after retries", retryable=True)
                self._wait(_throttle_wait(body))
                continue
            if errors:
                messages = errors if isinstance(errors, str) else "; ".join(str(e.get("message")) for e in errors)
                retryable = isinstance(errors, list) and any(
                    (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in errors
                )
                raise ShopifyApiError(f"GraphQL errors: {messages}", retryable=retryable)
            self._pace(body)
            return body.get("data") or {}
        raise ShopifyApiError("no answer after retries", retryable=True)

    def _pace(self, body: dict) -> None:
        """Slow down before Shopify has to say THROTTLED: when the bucket holds less than this
        query cost, the next one (a page of the same query, usually) would be refused; wait until
        the restore rate has refilled the difference."""
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            wanted = float(cost.get("requestedQueryCost") or 0)
            available = float(status["currentlyAvailable"])
            rate = float(status.get("restoreRate") or 0)
        except (KeyError, TypeError, ValueError):
            return
        if rate > 0 and available < wanted:
            self.stats.paced += 1
            self._wait(min(MAX_WAIT_SECONDS, (wanted - available) / rate))

    def download(self, url: str):
        """Stream a bulk operation's JSONL result (a signed storage URL: no token)."""
        return httpx.stream("GET", url, timeout=httpx.Timeout(120.0, connect=5.0))
