"""The WooCommerce REST client (`/wp-json/wc/v3`), built per shop and passed to the sync code.

A thin client on httpx rather than the `woocommerce` package: that package opens a new
connection per call (no session, so a TLS handshake and a WordPress boot each time), has no
timeout beyond 5 s, no retries and no pagination, duplicates query parameters in OAuth mode, and
signs values containing "/" differently from WooCommerce, so OAuth requests with such values
fail. Wrapping it would mean replacing most of it. This client:

- keeps one keep-alive connection per shop and always sets a timeout;
- authenticates like WooCommerce expects: HTTP Basic over https, falling back for good to the
  query string (`consumer_key`/`consumer_secret`) when a host strips the Authorization header
  (401 `woocommerce_rest_cannot_view` to an authenticated request); OAuth 1.0a (HMAC-SHA256,
  WooCommerce's own base-string rules) over plain http, for local stores only;
- retries 429, 5xx and timeouts with bounded backoff, honouring Retry-After;
- reports an HTML page where JSON was expected (a WAF or Cloudflare challenge, a login page) as
  what it is;
- pages through collections with `X-WP-TotalPages`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

API_PREFIX = "/wp-json/wc/v3/"
MAX_ATTEMPTS = 6
MAX_WAIT_SECONDS = 30.0
PER_PAGE = 100
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class WooCommerceError(Exception):
    """A request WooCommerce (or something in front of it) refused; `retryable` says whether
    trying again later can help."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable


@dataclass
class ClientStats:
    requests: int = 0
    retried: int = 0


def _rfc3986(value: str) -> str:
    # PHP's rawurlencode, which WooCommerce uses for the OAuth base string: "/" is encoded too.
    return quote(value, safe="-._~")


def oauth_signature(*, method: str, url: str, params: dict[str, str], consumer_secret: str) -> str:
    """OAuth 1.0a as WooCommerce verifies it (class-wc-rest-authentication.php): every parameter
    but the signature, keys and values encoded, sorted, each `key=value` encoded again, joined
    with %26; HMAC keyed with the secret plus "&"; base64 of the raw digest."""
    pairs = sorted((_rfc3986(key), _rfc3986(str(value))) for key, value in params.items() if key != "oauth_signature")
    query = "%26".join(_rfc3986(f"{key}={value}") for key, value in pairs)
    base = f"{method.upper()}&{_rfc3986(url)}&{query}"
    digest = hmac.new(f"{consumer_secret}&".encode(), base.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class WooCommerceClient:
    def __init__(
        self,
        *,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        query_string_auth: bool = False,
        verify: bool | ssl.SSLContext = True,
        sleep: Callable[[float], None] = time.sleep,
        on_query_string_auth: Callable[[], None] | None = None,
    ) -> None:
        self.store_url = store_url.rstrip("/")
        self.https = urlsplit(self.store_url).scheme == "https"
        self._key = consumer_key
        self._secret = consumer_secret
        self.query_string_auth = query_string_auth
        self._on_query_string_auth = on_query_string_auth
        self._sleep = sleep
        self.stats = ClientStats()
        self._http = httpx.Client(timeout=TIMEOUT, verify=verify, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- one request ---------------------------------------------------------------------------

    def _prepare(self, method: str, url: str, params: dict[str, str]) -> tuple[dict[str, str], httpx.Auth | None]:
        if self.https:
            if self.query_string_auth:
                return {**params, "consumer_key": self._key, "consumer_secret": self._secret}, None
            return params, httpx.BasicAuth(self._key, self._secret)
        oauth = {
            **params,
            "oauth_consumer_key": self._key,
            "oauth_timestamp": str(int(time.time())),
            "oauth_nonce": secrets.token_hex(16),
            "oauth_signature_method": "HMAC-SHA256",
        }
        oauth["oauth_signature"] = oauth_signature(method=method, url=url, params=oauth, consumer_secret=self._secret)
        return oauth, None

    def _wait(self, seconds: float) -> None:
        self._sleep(min(MAX_WAIT_SECONDS, max(0.0, seconds)))

    def request(
        self, method: str, path: str, *, params: dict | None = None, json: dict | None = None
    ) -> httpx.Response:
        """One API call with retries; returns the successful response, raises WooCommerceError."""
        url = f"{self.store_url}{API_PREFIX}{path.lstrip('/')}"
        params = {key: str(value) for key, value in (params or {}).items()}
        switched = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            query, auth = self._prepare(method, url, params)
            self.stats.requests += 1
            try:
                response = self._http.request(method, url, params=query, json=json, auth=auth)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                if attempt == MAX_ATTEMPTS:
                    raise WooCommerceError(f"{self.store_url} did not answer: {error}", retryable=True) from error
                self.stats.retried += 1
                self._wait(0.5 * 2**attempt)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if attempt == MAX_ATTEMPTS:
                    raise WooCommerceError(
                        f"{self.store_url} kept answering HTTP {status}", status=status, retryable=True
                    )
                self.stats.retried += 1
                self._wait(_retry_after(response, default=0.5 * 2**attempt))
                continue
            body = _json_or_none(response)
            if body is None and _claims_json(response):
                # A page cut off mid-body (a PHP timeout or memory limit, a proxy closing early):
                # the same request usually answers whole a moment later.
                if attempt == MAX_ATTEMPTS:
                    raise WooCommerceError(
                        f"{url} kept sending a truncated or malformed JSON body "
                        f"(HTTP {status}, {len(response.content)} bytes)",
                        status=status,
                        retryable=True,
                    )
                self.stats.retried += 1
                self._wait(0.5 * 2**attempt)
                continue
            if 300 <= status < 400:
                raise WooCommerceError(
                    f"{url} redirects to {response.headers.get('Location', '?')}: check the store URL "
                    "(scheme, www) in the connection",
                    status=status,
                )
            if body is None:
                message, retryable = _html_explanation(response, self.store_url)
                raise WooCommerceError(message, status=status, retryable=retryable)
            if status == 401 and self.https and not self.query_string_auth and not switched:
                code = body.get("code", "") if isinstance(body, dict) else ""
                if code == "woocommerce_rest_cannot_view":
                    # The credentials never reached WooCommerce: the host strips Authorization.
                    self.query_string_auth = switched = True
                    if self._on_query_string_auth:
                        self._on_query_string_auth()
                    continue
            if status >= 400:
                code = body.get("code", "") if isinstance(body, dict) else ""
                message = body.get("message", "") if isinstance(body, dict) else ""
                raise WooCommerceError(f"HTTP {status} {code}: {message}".strip(), status=status, code=code)
            return response
        raise WooCommerceError("no answer after retries", retryable=True)

    def get(self, path: str, **params) -> object:
        return self.request("GET", path, params=params).json()

    def pages(self, path: str, *, start_page: int = 1, **params) -> Iterator[tuple[int, int, list[dict]]]:
        """(page, total pages, items) for each page from `start_page`, 100 items a page."""
        page = start_page
        while True:
            response = self.request("GET", path, params={**params, "per_page": PER_PAGE, "page": page})
            items = response.json()
            if not isinstance(items, list):
                raise WooCommerceError(f"{path}: expected a list, got {type(items).__name__}")
            total_pages = int(response.headers.get("X-WP-TotalPages") or 0)
            yield page, total_pages, items
            if page >= total_pages or not items:
                return
            page += 1

    def supports_modified_after(self, path: str) -> bool:
        """Stores older than WooCommerce 5.x silently ignore `modified_after`; their collection
        schema (OPTIONS) says whether it is accepted."""
        schema = self.request("OPTIONS", path).json()
        endpoints = schema.get("endpoints") or [] if isinstance(schema, dict) else []
        return any("modified_after" in (endpoint.get("args") or {}) for endpoint in endpoints)


def _retry_after(response: httpx.Response, *, default: float) -> float:
    try:
        return float(response.headers.get("Retry-After", default))
    except ValueError:
        return default


def _claims_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _json_or_none(response: httpx.Response):
    if not _claims_json(response):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _html_explanation(response: httpx.Response, store_url: str) -> tuple[str, bool]:
    """What the HTML page is, and whether trying again later may help: a firewall challenge often
    clears after a while, a login page means the API is blocked until someone changes a setting."""
    text = response.text[:4000].lower()
    if response.headers.get("cf-mitigated") == "challenge" or "just a moment" in text or "cf-chl" in text:
        return (
            f"{store_url} answered with a Cloudflare challenge page instead of the API (HTTP "
            f"{response.status_code}): allow this server's requests to /wp-json/wc/ in the firewall.",
            True,
        )
    if "wp-login" in text or "user_login" in text:
        return (
            f"{store_url} answered with the WordPress login page instead of the API: a security plugin "
            "or the host blocks REST API requests.",
            False,
        )
    return (
        f"{store_url} answered HTTP {response.status_code} with "
        f"{response.headers.get('Content-Type', 'no content type')} where JSON was expected.",
        False,
    )
