from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from django.utils import timezone

API_KEY = "test-api-key"
SECRET = "test-app-secret-with-32-bytes-or-more"
OLD_SECRET = "previous-app-secret-also-32-bytes-long"


@pytest.fixture
def shopify_settings(settings):
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_SECRET_OLD = ""
    return settings


@pytest.fixture
def fake(shopify_settings):
    """The fake Shopify Admin API, with the client pointed at it."""
    from tests.fakes.shopify import FakeShopify

    with FakeShopify(client_id=API_KEY, client_secret=SECRET) as server:
        shopify_settings.SHOPIFY_ADMIN_API_BASE_URL = f"{server.base_url}/shops/{{shop}}"
        yield server


def id_token(domain: str, *, secret: str = SECRET, audience: str = API_KEY) -> str:
    """An App Bridge ID token for `domain`, signed as Shopify signs them (HS256, the app secret)."""
    import time

    import jwt

    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": audience,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def signed_webhook(
    client,
    *,
    topic: str,
    domain: str,
    payload,
    secret: str = SECRET,
    webhook_id: str | None = None,
    triggered_at: str | None = None,
    **headers,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        "/webhooks/shopify",
        data=body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Api-Version": "2026-10",
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at or timezone.now().isoformat().replace("+00:00", "Z"),
            **headers,
        },
    )
