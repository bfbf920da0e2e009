"""Signature checks against the published Shopify test vectors (secret "hush")."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import RequestFactory

from integrations.shopify.auth import query_hmac_valid
from recommendations.storefront.views import _proxy_verified

OAUTH_VECTORS = [
    (
        {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com", "timestamp": "1337178173"},
        "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
    ),
    (
        {
            "code": "0907a61c0c8d55e99db179b68161bc00",
            "shop": "some-shop.myshopify.com",
            "state": "0.6784241404160823",
            "timestamp": "1337178173",
        },
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
    ),
]
PROXY_TIMESTAMP = 1317327555
PROXY_BASE = {"extra": ["1", "2"], "path_prefix": "/apps/awesome_reviews", "shop": "shop-name.myshopify.com"}
PROXY_VECTORS = [
    ({"logged_in_customer_id": "1"}, "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb", "1"),
    ({"logged_in_customer_id": ""}, "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb", ""),
    ({}, "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3", ""),
]


@pytest.fixture
def hush(settings):
    settings.SHOPIFY_API_SECRET = "hush"
    settings.SHOPIFY_API_SECRET_OLD = ""


@pytest.mark.parametrize("params,signature", OAUTH_VECTORS)
def test_oauth_query_vectors(hush, params, signature):
    assert query_hmac_valid({**params, "hmac": signature}, now=1337178173)
    assert not query_hmac_valid({**params, "hmac": signature.replace("4", "5", 1)}, now=1337178173)
    assert not query_hmac_valid({**params, "shop": "other-shop.myshopify.com", "hmac": signature}, now=1337178173)
    # Right signature, stale request: Shopify's libraries allow 90 s of clock difference.
    assert not query_hmac_valid({**params, "hmac": signature}, now=1337178173 + 91)


@pytest.mark.parametrize("extra,signature,customer", PROXY_VECTORS)
def test_app_proxy_vectors(hush, monkeypatch, extra, signature, customer):
    monkeypatch.setattr("shopify_app.verify.app_proxy.time.time", lambda: PROXY_TIMESTAMP)
    query = urlencode({**PROXY_BASE, **extra, "timestamp": PROXY_TIMESTAMP, "signature": signature}, doseq=True)
    request = RequestFactory().get(f"/proxy/extra/path/components?{query}")

    assert _proxy_verified(request) == ("shop-name.myshopify.com", customer)

    tampered = RequestFactory().get(f"/proxy/extra/path/components?{query.replace('extra=2', 'extra=3')}")
    assert _proxy_verified(tampered) is None
