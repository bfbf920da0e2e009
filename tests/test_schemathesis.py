"""Schemathesis over every operation of the OpenAPI document, against the real WSGI application:
no input may make the server answer 5xx, and what it answers must be what the document says.

Each operation is run three ways, with a fixed seed so that CI repeats the same run:
- as documented, with everything generated ("positive");
- as documented, signed where the route needs a signature (App Proxy, webhooks, plugin, admin
  ID token) and aimed at seeded shops with products and a published model, so that the fuzzer
  reaches the code behind the authentication and the storefront's read path;
- against the document ("negative"): wrong types, missing fields, values out of range.

BASKETRY_FUZZ_EXAMPLES sets the examples per operation and way (default 15; try 150 locally).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import socket
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.openapi import SCHEMA_PATH
from integrations.shopify.webhooks import KNOWN_TOPICS
from integrations.woocommerce.connect import WEBHOOK_TOPICS
from integrations.woocommerce.views import plugin_signature
from recommendations.storefront.identity import CREDENTIALS_KEY
from recommendations.storefront.page_tokens import page_token_sign
from shops.demo.generator import demo_shop_generate
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.factories import make_privacy_request, make_shop
from tests.integrations.shopify.conftest import id_token

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("BASKETRY_FUZZ_EXAMPLES", "15"))
API_KEY = "fuzz-app"
API_SECRET = "fuzz-app-secret-of-at-least-32-bytes"
STOREFRONT_KEY = "f" * 64
WEBHOOK_SECRET = "fuzz-webhook-secret"
SHOPIFY_DOMAIN = "fuzz-store.myshopify.com"
WOO_DOMAIN = "fuzz-woo.example"

DOCUMENTED = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def application():
    """The WSGI application as gunicorn runs it. Django's test client unhooks the same two
    receivers around each request, so that the test's transaction survives the requests."""
    from config.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def server_errors():
    """The tracebacks of the exceptions behind any 500, to name them in the failure."""
    caught: list[str] = []

    def record(sender, request=None, **kwargs):
        caught.append(
            f"{request.method if request else ''} {request.get_full_path() if request else ''}\n"
            f"{traceback.format_exc()}"
        )

    signals.got_request_exception.connect(record)
    yield caught
    signals.got_request_exception.disconnect(record)


@pytest.fixture
def loopback_only(monkeypatch):
    """Generated store URLs (connect) must never reach the network: only loopback resolves."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host) not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "the fuzz run does not leave the machine")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def seeded(settings):
    """A Shopify store and a WooCommerce store, each with products, orders and a published
    model; the Shopify one has a privacy request for the admin API to show."""
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = API_SECRET
    settings.SHOPIFY_API_SECRET_OLD = ""
    # The run posts hundreds of batches a minute from one address: past the limit, only 429s.
    settings.EVENT_BATCHES_PER_MINUTE = 100_000
    shops = {}
    for domain, platform, seed in ((SHOPIFY_DOMAIN, "shopify", 5), (WOO_DOMAIN, "woocommerce", 6)):
        shop = make_shop(domain=domain, platform=platform)
        shop.credentials = {CREDENTIALS_KEY: STOREFRONT_KEY, "webhook_secret": WEBHOOK_SECRET, "consumer_key": "ck_x"}
        shop.save()
        demo = demo_shop_generate(seed=seed, product_count=30, order_count=300)
        with shop_scope(shop):
            demo_shop_load(shop=shop, demo=demo)
        call_command("train", shop.domain, stdout=io.StringIO())
        shops[platform] = (shop, [product.external_id for product in demo.products[:5]])
    with shop_scope(shops["shopify"][0]):
        request = make_privacy_request(shops["shopify"][0], export={"orders": []})
    return {**shops, "privacy_request": request.pk}


# --- signing: what the platforms and the plugin do, applied to a generated case ---------------


def _body_bytes(case) -> bytes:
    return json.dumps(case.body).encode() if isinstance(case.body, (dict, list)) else b""


def _sign_app_proxy(case, data, seeded) -> dict:
    query = {key: str(value) for key, value in (case.query or {}).items() if key != "signature"}
    query.update(shop=SHOPIFY_DOMAIN, path_prefix="/apps/basketry", timestamp=str(int(time.time())))
    if data.draw(st.booleans(), label="logged in"):
        query["logged_in_customer_id"] = data.draw(st.sampled_from(["1", "2", "12345"]), label="customer")
    if "product_id" in query or data.draw(st.booleans(), label="real product"):
        query["product_id"] = data.draw(st.sampled_from(seeded["shopify"][1]), label="product")
    message = "".join(f"{key}={value}" for key, value in sorted(query.items()))
    case.query = {**query, "signature": hmac.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()}
    return {}


def _sign_shopify_webhook(case, data, seeded) -> dict:
    body = _body_bytes(case)
    case.headers = {
        **(case.headers or {}),
        "X-Shopify-Topic": data.draw(st.sampled_from(KNOWN_TOPICS), label="topic"),
        "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    return {"data": body}


def _sign_woocommerce_webhook(case, data, seeded) -> dict:
    body = _body_bytes(case)
    case.path_parameters = {"shop_id": seeded["woocommerce"][0].pk}
    case.headers = {
        **(case.headers or {}),
        "X-WC-Webhook-Topic": data.draw(st.sampled_from(WEBHOOK_TOPICS), label="topic"),
        "X-WC-Webhook-Delivery-ID": str(uuid.uuid4()),
        "X-WC-Webhook-Signature": base64.b64encode(
            hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    case.media_type = "application/json"
    return {"data": body}


def _sign_plugin(case, data, seeded) -> dict:
    body = _body_bytes(case)
    timestamp = str(int(time.time()))
    query = urlencode(case.query or {}, doseq=True)
    path = case.formatted_path + (f"?{query}" if query else "")
    signature = plugin_signature(key=STOREFRONT_KEY, timestamp=timestamp, method=case.method, path=path, body=body)
    case.headers = {
        **(case.headers or {}),
        "X-Basketry-Shop": WOO_DOMAIN,
        "X-Basketry-Timestamp": timestamp,
        "X-Basketry-Signature": signature,
    }
    return {"data": body} if body else {}


def _sign_admin(case, data, seeded) -> dict:
    token = id_token(SHOPIFY_DOMAIN, secret=API_SECRET, audience=API_KEY)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    if case.path_parameters and "request_id" in case.path_parameters and data.draw(st.booleans(), label="own"):
        case.path_parameters = {"request_id": seeded["privacy_request"]}
    return {}


def _aim_storefront(case, data, seeded) -> dict:
    shop, products = seeded[data.draw(st.sampled_from(["shopify", "woocommerce"]), label="shop")]
    if case.path == "/api/storefront/v1/recommendations":
        case.query = {**(case.query or {}), "shop": shop.domain}
        if data.draw(st.booleans(), label="real product"):
            case.query["product_id"] = data.draw(st.sampled_from(products), label="product")
    elif isinstance(case.body, dict):
        case.body["shop"] = shop.domain
        case.body["page_token"] = page_token_sign(
            key=STOREFRONT_KEY, domain=shop.domain, expires=int(time.time()) + 600
        )
    return {}


SIGNERS: dict[str, Callable] = {
    "GET /proxy/recommendations": _sign_app_proxy,
    "POST /proxy/events": _sign_app_proxy,
    "POST /webhooks/shopify": _sign_shopify_webhook,
    "POST /webhooks/woocommerce/{shop_id}": _sign_woocommerce_webhook,
    "GET /api/plugin/v1/status": _sign_plugin,
    "POST /api/plugin/v1/privacy/export": _sign_plugin,
    "POST /api/plugin/v1/privacy/erase": _sign_plugin,
    "POST /api/plugin/v1/dashboard-link": _sign_plugin,
    # Signed here too; uninstall is fuzzed unsigned only, as it would disconnect the seeded store
    # for every operation after it (tests/integrations/woocommerce covers it signed).
    "POST /api/plugin/v1/pause": _sign_plugin,
    "POST /api/plugin/v1/resume": _sign_plugin,
    "GET /api/admin/v1/status": _sign_admin,
    "GET /api/admin/v1/privacy-requests": _sign_admin,
    "GET /api/admin/v1/privacy-requests/{request_id}": _sign_admin,
    "GET /api/storefront/v1/recommendations": _aim_storefront,
    "POST /api/storefront/v1/events": _aim_storefront,
}


def _fuzz(operation, *, mode: GenerationMode, signer: Callable | None, seeded, checks) -> Counter:
    """Run one operation one way; returns how often each status code was answered."""
    statuses: Counter = Counter()

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, data):
        extra = signer(case, data, seeded) if signer is not None else {}
        response = case.call(**extra)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    run()
    return statuses


def test_no_input_makes_any_operation_fail_on_the_server(application, server_errors, loopback_only, seeded):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    failures, answered = [], {}
    for operation in operations:
        signer = SIGNERS.get(operation.label)
        runs = [(GenerationMode.POSITIVE, None, [not_a_server_error, *DOCUMENTED])]
        definition = operation.definition.raw
        if definition.get("parameters") or definition.get("requestBody"):  # else nothing to get wrong
            runs.append((GenerationMode.NEGATIVE, None, [not_a_server_error]))
        if signer is not None:
            runs.append((GenerationMode.POSITIVE, signer, [not_a_server_error, *DOCUMENTED]))
        for mode, sign, checks in runs:
            way = f"{mode.value}{' signed' if sign else ''}"
            try:
                statuses = _fuzz(operation, mode=mode, signer=sign, seeded=seeded, checks=checks)
            except Exception as error:  # one operation's failure must not hide the others'
                failures.append(f"{operation.label} ({way}): {type(error).__name__}: {error}")
                continue
            answered[f"{operation.label} ({way})"] = dict(sorted(statuses.items()))
            # Signing that silently broke would leave only refusals: the run must get past them.
            if sign is not None and not set(statuses) - {401, 403}:
                failures.append(f"{operation.label} ({way}): never got past the authentication: {dict(statuses)}")

    print("\n".join(f"{run}: {statuses}" for run, statuses in answered.items()))
    assert any(200 in statuses for run, statuses in answered.items() if "recommendations" in run and "signed" in run)
    assert not server_errors, "\n\n".join(server_errors[:5])
    assert not failures, "\n\n".join(failures)


# --- what the fuzz run found, each with the exact input -----------------------------------------


def test_an_exposure_naming_a_test_id_beyond_64_bits_is_400_and_stores_nothing(client):
    """It was a 500 on SQLite (the id could not be bound) and a silently dropped exposure on
    PostgreSQL."""
    from recommendations.models import ShopperEvent

    shop = make_shop(domain=WOO_DOMAIN, platform="woocommerce")
    shop.credentials = {CREDENTIALS_KEY: STOREFRONT_KEY}
    shop.save()
    token = page_token_sign(key=STOREFRONT_KEY, domain=shop.domain, expires=int(time.time()) + 600)
    events = [
        {"product_id": "29", "block": "bought_together", "type": "impression"},
        {
            "type": "exposure",
            "experiment": 13860967857889304576,
            "visitor": "IvmZJu6dz",
            "block": "bought_together",
            "arm": "C",
        },
    ]
    response = client.post(
        "/api/storefront/v1/events",
        data=json.dumps({"shop": shop.domain, "page_token": token, "events": events}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {"error": "events[1].experiment: the id of a test"}
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 0
