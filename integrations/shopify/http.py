"""The HTTP client every Shopify call goes through: keep-alive, timeouts, and (for development
and tests) an Admin API base URL that stands in for `https://{shop}`."""

from __future__ import annotations

import httpx

# Shopify answers most Admin calls in well under a second; a bulk result download streams for
# longer, so reads get a generous timeout and connects a short one.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class _AdminBaseTransport(httpx.HTTPTransport):
    """Sends `https://{shop}/admin/...` to `{base}/admin/...`: a local Shopify stand-in (the fake
    server in tests, `connect_shopify --admin-api-base-url` in development)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base = httpx.URL(base_url.rstrip("/"))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith(".myshopify.com"):
            request.url = self._base.copy_with(
                path=self._base.path.rstrip("/") + request.url.path, query=request.url.query
            )
            request.headers["Host"] = request.url.netloc.decode()
        return super().handle_request(request)


def admin_http_client(*, base_url: str = "") -> httpx.Client:
    """A client for one shop's Admin API; callers close it (or use it as a context manager)."""
    transport = _AdminBaseTransport(base_url) if base_url else httpx.HTTPTransport()
    return httpx.Client(timeout=TIMEOUT, transport=transport, follow_redirects=False)
