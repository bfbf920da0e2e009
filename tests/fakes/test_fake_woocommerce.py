"""The fake WooCommerce store, exercised over real HTTP the way the app talks to a WordPress site."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import http.server
import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.fakes.woocommerce import FakeWooCommerce

# --- a client-side OAuth 1.0a signer, written from the research notes (§1.6), not from the fake ---


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def oauth_query(
    method: str,
    url: str,
    consumer_key: str,
    consumer_secret: str,
    params: dict | None = None,
    *,
    nonce: str | None = None,
    timestamp: int | None = None,
    algorithm: str = "HMAC-SHA256",
) -> dict[str, str]:
    """The query parameters of a one-legged OAuth request: `params` plus the oauth_* ones and the signature."""
    signed = {str(k): str(v) for k, v in (params or {}).items()}
    signed.update(
        oauth_consumer_key=consumer_key,
        oauth_timestamp=str(timestamp if timestamp is not None else int(time.time())),
        oauth_nonce=nonce or secrets.token_hex(16),
        oauth_signature_method=algorithm,
    )
    pairs = [_encode(f"{_encode(k)}={_encode(v)}") for k, v in sorted(signed.items())]
    base_string = f"{method}&{_encode(url)}&{'%26'.join(pairs)}"
    digest = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    mac = hmac.new(f"{consumer_secret}&".encode(), base_string.encode(), digest).digest()
    return {**signed, "oauth_signature": base64.b64encode(mac).decode()}


# --- a tiny receiver standing in for the app's callback and webhook endpoints ---


class Receiver:
    """Records every POST and answers with the next queued status (or the default one)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.queued: collections.deque[int] = collections.deque()
        self.hits: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                status = receiver.queued.popleft() if receiver.queued else receiver.status
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere/")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def fake():
    with FakeWooCommerce(seed=7) as store:
        yield store


@pytest.fixture
def tls_fake():
    with FakeWooCommerce(tls=True, seed=7) as store:
        yield store


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as http_client:
        yield http_client


@pytest.fixture
def tls_client(tls_fake):
    with httpx.Client(timeout=10, verify=tls_fake.ssl_context()) as http_client:
        yield http_client


def products_url(store: FakeWooCommerce) -> str:
    return f"{store.base_url}/wp-json/wc/v3/products"


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["data"]["status"] == status
    if message is not None:
        assert body["message"] == message


# --- authentication ---


def test_oauth_over_http_accepts_a_correct_signature(fake, client):
    key, secret = fake.add_key(permissions="read")
    fake.add_product(name="Blue Mug", regular_price="9.5")
    fake.add_product(name="Red Mug")
    url = products_url(fake)

    for algorithm in ("HMAC-SHA256", "HMAC-SHA1"):
        params = oauth_query("GET", url, key, secret, {"search": "blue mug", "per_page": 5}, algorithm=algorithm)
        response = client.get(url, params=params)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=UTF-8"
        assert [p["name"] for p in response.json()] == ["Blue Mug"]
        assert response.json()[0]["price"] == "9.50"
    assert fake.requests[-1]["auth"] == "oauth"
    assert fake.requests[-1]["authenticated"] is True


def test_oauth_signs_the_plain_permalink_form_with_the_bare_home_url(fake, client):
    key, secret = fake.add_key()
    fake.add_product(name="Teapot")
    # With ?rest_route= the request path is "/", and WordPress's home_url('') has no trailing slash.
    params = oauth_query("GET", fake.base_url, key, secret, {"rest_route": "/wc/v3/products"})

    response = client.get(f"{fake.base_url}/", params=params)

    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()] == ["Teapot"]


def test_oauth_rejects_a_wrong_signature_an_unknown_key_and_an_old_timestamp(fake, client):
    key, secret = fake.add_key()
    url = products_url(fake)

    tampered = oauth_query("GET", url, key, secret, {"per_page": 5})
    tampered["per_page"] = "6"
    assert_error(
        client.get(url, params=tampered),
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.",
    )
    assert_error(
        client.get(url, params=oauth_query("GET", url, key, "cs_wrong", {})),
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.",
    )
    assert_error(
        client.get(url, params=oauth_query("GET", url, "ck_" + "0" * 40, secret, {})),
        401,
        "woocommerce_rest_authentication_error",
        "Consumer key is invalid.",
    )
    stale = oauth_query("GET", url, key, secret, {}, timestamp=int(time.time()) - 16 * 60)
    assert_error(client.get(url, params=stale), 401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
    # A client that signs another host name than the store's own fails too.
    localhost = url.replace("127.0.0.1", "localhost")
    assert client.get(localhost, params=oauth_query("GET", localhost, key, secret, {})).status_code == 401


def test_oauth_rejects_a_reused_nonce(fake, client):
    key, secret = fake.add_key()
    url = products_url(fake)
    params = oauth_query("GET", url, key, secret, {}, nonce="a" * 32)

    assert client.get(url, params=params).status_code == 200
    assert_error(
        client.get(url, params=params),
        401,
        "woocommerce_rest_authentication_error",
        "Invalid nonce - nonce has already been used.",
    )


def test_basic_auth_over_plain_http_is_ignored(fake, client):
    key, secret = fake.add_key()

    response = client.get(products_url(fake), auth=(key, secret))

    assert_error(response, 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert fake.requests[-1]["auth"] == "basic"
    assert fake.requests[-1]["authenticated"] is False


def test_basic_auth_over_tls(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    tls_fake.add_product(name="Lamp")
    assert tls_fake.base_url.startswith("https://127.0.0.1:")
    assert tls_fake.ca_path and open(tls_fake.ca_path).read().startswith("-----BEGIN CERTIFICATE-----")

    response = tls_client.get(products_url(tls_fake), auth=(key, secret))

    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()] == ["Lamp"]
    assert_error(
        tls_client.get(products_url(tls_fake), auth=(key, "cs_wrong")),
        401,
        "woocommerce_rest_authentication_error",
        "Consumer secret is invalid.",
    )
    # As in WooCommerce's Basic path, an unknown key is no error of its own: the request is just anonymous.
    assert_error(tls_client.get(products_url(tls_fake), auth=("ck_nope", secret)), 401, "woocommerce_rest_cannot_view")


def test_a_stripped_authorization_header_leaves_query_string_auth_working():
    with FakeWooCommerce(tls=True, strip_authorization=True) as store:
        key, secret = store.add_key()
        with httpx.Client(verify=store.ssl_context(), timeout=10) as http_client:
            basic = http_client.get(products_url(store), auth=(key, secret))
            query = http_client.get(products_url(store), params={"consumer_key": key, "consumer_secret": secret})

    assert_error(basic, 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert query.status_code == 200, query.text
    assert [r["auth"] for r in store.requests] == [None, "query"]


def test_401_means_no_user_and_403_means_a_user_without_the_capability(tls_fake, tls_client):
    weak_key, weak_secret = tls_fake.add_key(user_can=False)
    read_key, read_secret = tls_fake.add_key(permissions="read")
    tls_fake.add_product()
    url = products_url(tls_fake)

    assert_error(tls_client.get(url), 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert_error(
        tls_client.get(url, auth=(weak_key, weak_secret)),
        403,
        "woocommerce_rest_cannot_view",
        "Sorry, you cannot list resources.",
    )
    assert tls_client.get(url, auth=(read_key, read_secret)).status_code == 200
    assert_error(
        tls_client.post(
            f"{tls_fake.base_url}/wp-json/wc/v3/webhooks",
            auth=(read_key, read_secret),
            json={"topic": "order.updated", "delivery_url": "https://example.com/hook"},
        ),
        401,
        "woocommerce_rest_authentication_error",
        "The API key provided does not have write permissions.",
    )
    tls_fake.revoke_key(read_key)
    assert tls_client.get(url, auth=(read_key, read_secret)).status_code == 401


def test_the_general_settings_carry_the_stores_currency_to_a_manager_only(tls_fake, tls_client):
    key, secret = tls_fake.add_key(permissions="read")
    weak_key, weak_secret = tls_fake.add_key(user_can=False)
    base = f"{tls_fake.base_url}/wp-json/wc/v3/settings"
    assert tls_fake.currency == "EUR"  # the fake store is not a USD store unless a test says so

    group = tls_client.get(f"{base}/general", auth=(key, secret))
    one = tls_client.get(f"{base}/general/woocommerce_currency", auth=(key, secret), params={"_fields": "id,value"})

    assert group.status_code == 200
    currency = next(setting for setting in group.json() if setting["id"] == "woocommerce_currency")
    assert (currency["value"], currency["default"], currency["group_id"]) == ("EUR", "USD", "general")
    assert "EUR" in currency["options"]
    assert one.json() == {"id": "woocommerce_currency", "value": "EUR"}
    assert_error(tls_client.get(f"{base}/general"), 401, "woocommerce_rest_cannot_view")
    assert_error(tls_client.get(f"{base}/general", auth=(weak_key, weak_secret)), 403, "woocommerce_rest_cannot_view")
    assert_error(tls_client.get(f"{base}/nope", auth=(key, secret)), 404, "rest_setting_setting_group_invalid")
    assert_error(tls_client.get(f"{base}/general/nope", auth=(key, secret)), 404, "rest_setting_setting_invalid")

    tls_fake.currency = "GBP"
    assert tls_client.get(f"{base}/general/woocommerce_currency", auth=(key, secret)).json()["value"] == "GBP"
    tls_fake.settings_fault = (403, "rest_forbidden", "Blocked by a security plugin.")
    assert_error(tls_client.get(f"{base}/general/woocommerce_currency", auth=(key, secret)), 403, "rest_forbidden")


# --- collections ---


def test_per_page_above_the_maximum_is_a_400(tls_fake, tls_client):
    key, secret = tls_fake.add_key()

    response = tls_client.get(products_url(tls_fake), auth=(key, secret), params={"per_page": 101})

    assert_error(response, 400, "rest_invalid_param", "Invalid parameter(s): per_page")
    assert response.json()["data"]["params"]["per_page"] == "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert tls_client.get(products_url(tls_fake), auth=(key, secret), params={"per_page": 100}).status_code == 200
    assert_error(
        tls_client.get(products_url(tls_fake), auth=(key, secret), params={"orderby": "price"}),
        400,
        "rest_invalid_param",
    )


def test_pagination_returns_every_product_once_with_totals_and_links(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    tls_fake.populate(products=95, orders=0, seed=3)
    trashed = next(iter(tls_fake.products))
    tls_fake.trash_product(trashed)
    expected = {pid for pid, p in tls_fake.products.items() if p["status"] != "trash"}

    seen: list[int] = []
    url: str | None = products_url(tls_fake)
    params: dict | None = {"per_page": 10, "consumer_key": key, "consumer_secret": secret}
    responses = []
    while url:
        response = tls_client.get(url, params=params)
        assert response.status_code == 200, response.text
        responses.append(response)
        seen += [p["id"] for p in response.json()]
        url, params = response.links.get("next", {}).get("url"), None

    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen)) == 94
    assert {r.headers["x-wp-total"] for r in responses} == {"94"}
    assert {r.headers["x-wp-totalpages"] for r in responses} == {"10"}
    assert set(responses[0].links) == {"next"}
    assert set(responses[-1].links) == {"prev"}
    assert set(responses[4].links) == {"prev", "next"}
    # Like WooCommerce, the links repeat the request's query string, secret included.
    assert f"consumer_secret={secret}" in responses[0].links["next"]["url"]

    past = tls_client.get(products_url(tls_fake), auth=(key, secret), params={"per_page": 10, "page": 11})
    assert past.status_code == 200
    assert past.json() == []
    assert past.headers["x-wp-total"] == "94"
    assert past.headers["x-wp-totalpages"] == "10"


def test_orderby_modified_ascending_pages_are_stable_for_equal_timestamps(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [tls_fake.add_product(date_created_gmt=moment)["id"] for _ in range(5)]

    pages = [
        tls_client.get(
            products_url(tls_fake),
            auth=(key, secret),
            params={"orderby": "modified", "order": "asc", "per_page": 2, "page": page},
        ).json()
        for page in (1, 2, 3)
    ]

    assert [p["id"] for page in pages for p in page] == ids


def test_modified_after_filters_on_the_gmt_column(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    old = tls_fake.add_product(name="Old", date_created_gmt=datetime(2024, 1, 1, tzinfo=UTC))
    tls_fake.add_product(name="Older", date_created_gmt=datetime(2023, 1, 1, tzinfo=UTC))
    tls_fake.update_product(old["id"], name="Old but edited")
    watermark = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")

    response = tls_client.get(
        products_url(tls_fake),
        auth=(key, secret),
        params={"modified_after": watermark, "dates_are_gmt": "true"},
    )

    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()] == ["Old but edited"]
    assert response.headers["x-wp-total"] == "1"
    options = tls_client.options(products_url(tls_fake)).json()
    args = options["endpoints"][0]["args"]
    assert {"modified_after", "modified_before", "dates_are_gmt"} <= set(args)
    assert args["per_page"]["maximum"] == 100


def test_without_modified_after_support_the_filter_is_silently_ignored():
    with FakeWooCommerce(tls=True, supports_modified_after=False) as store:
        key, secret = store.add_key()
        store.add_product(name="A", date_created_gmt=datetime(2024, 1, 1, tzinfo=UTC))
        store.add_product(name="B", date_created_gmt=datetime(2024, 2, 1, tzinfo=UTC))
        with httpx.Client(verify=store.ssl_context(), timeout=10) as http_client:
            filtered = http_client.get(
                products_url(store), auth=(key, secret), params={"modified_after": "2030-01-01T00:00:00"}
            )
            options = http_client.options(f"{store.base_url}/wp-json/wc/v3/orders")

    assert filtered.status_code == 200
    assert {p["name"] for p in filtered.json()} == {"A", "B"}
    assert options.status_code == 200
    args = options.json()["endpoints"][0]["args"]
    assert "modified_after" not in args
    assert "per_page" in args and "status" in args


def test_fields_keeps_only_the_requested_top_level_keys(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    product = tls_fake.add_product(name="Scarf")
    tls_fake.add_order(line_items=[{"product_id": product["id"], "quantity": 2}])

    products = tls_client.get(products_url(tls_fake), auth=(key, secret), params={"_fields": "id,date_modified_gmt"})
    orders = tls_client.get(
        f"{tls_fake.base_url}/wp-json/wc/v3/orders", auth=(key, secret), params={"_fields": "id,status,line_items"}
    )

    assert [set(p) for p in products.json()] == [{"id", "date_modified_gmt"}]
    assert [set(o) for o in orders.json()] == [{"id", "status", "line_items"}]
    assert orders.json()[0]["line_items"][0]["product_id"] == product["id"]


def test_orders_and_single_resources(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    shirt = tls_fake.add_product(name="Shirt", type="variable")
    medium = tls_fake.add_variation(shirt["id"], attributes={"Size": "M"}, regular_price=20)
    mug = tls_fake.add_product(name="Mug", regular_price="7.25")
    paid = tls_fake.add_order(
        line_items=[
            {"product_id": shirt["id"], "variation_id": medium["id"]},
            {"product_id": mug["id"], "quantity": 2},
        ],
        customer_id=5,
    )
    tls_fake.add_order(status="failed", line_items=[{"product_id": mug["id"]}])
    orders_url = f"{tls_fake.base_url}/wp-json/wc/v3/orders"

    completed_or_processing = tls_client.get(orders_url, auth=(key, secret), params={"status": "processing,completed"})
    single = tls_client.get(f"{orders_url}/{paid['id']}", auth=(key, secret)).json()
    variations = tls_client.get(f"{products_url(tls_fake)}/{shirt['id']}/variations", auth=(key, secret)).json()
    variable = tls_client.get(f"{products_url(tls_fake)}/{shirt['id']}", auth=(key, secret)).json()

    assert [o["id"] for o in completed_or_processing.json()] == [paid["id"]]
    lines = single["line_items"]
    pairs = [(line["product_id"], line["variation_id"]) for line in lines]
    assert pairs == [(shirt["id"], medium["id"]), (mug["id"], 0)]
    assert lines[0]["price"] == 20 and lines[1]["price"] == 7.25
    assert lines[1]["total"] == "14.50" and single["total"] == "34.50"
    assert lines[0]["meta_data"][0]["key"] == "pa_size" and lines[0]["parent_name"] == "Shirt"
    assert single["customer_id"] == 5 and "@" in single["billing"]["email"]
    assert [v["id"] for v in variations] == [medium["id"]]
    assert variable["variations"] == [medium["id"]] and variable["price"] == "20.00"
    assert_error(
        tls_client.get(f"{orders_url}/999999", auth=(key, secret)), 404, "woocommerce_rest_shop_order_invalid_id"
    )
    missing_product = tls_client.get(f"{products_url(tls_fake)}/999999", auth=(key, secret))
    assert_error(missing_product, 404, "woocommerce_rest_product_invalid_id")


# --- key provisioning ---


def authorize_url(store: FakeWooCommerce, callback: str, *, scope: str = "read_write", user_id: str = "42") -> str:
    query = (
        f"app_name=Basketry&scope={scope}&user_id={user_id}"
        f"&return_url={quote('https://app.example/woo/return?shop=1', safe='')}"
        f"&callback_url={quote(callback, safe='')}"
    )
    return f"{store.base_url}/wc-auth/v1/authorize?{query}"


def test_authorize_posts_the_keys_to_the_callback_and_redirects(receiver, client):
    with FakeWooCommerce(allow_http_callback=True) as store:
        landing = store.authorize(authorize_url(store, f"{receiver.url}/woo/callback"))
        body = json.loads(receiver.hits[0]["body"])
        response = client.get(
            products_url(store),
            params=oauth_query("GET", products_url(store), body["consumer_key"], body["consumer_secret"]),
        )

    assert landing == "https://app.example/woo/return?shop=1&success=1&user_id=42"
    assert receiver.hits[0]["path"] == "/woo/callback"
    assert receiver.hits[0]["headers"]["content-type"] == "application/json;charset=UTF-8"
    assert body["user_id"] == "42"  # the raw request value: a string, whatever the docs show
    assert isinstance(body["key_id"], int)
    assert body["key_permissions"] == "read_write"
    assert len(body["consumer_key"]) == len(body["consumer_secret"]) == 43
    assert body["consumer_key"].startswith("ck_") and body["consumer_secret"].startswith("cs_")
    assert response.status_code == 200


def test_authorize_deletes_the_key_when_the_callback_does_not_answer_200(receiver):
    receiver.status = 201
    with FakeWooCommerce(allow_http_callback=True) as store:
        with pytest.raises(ValueError, match="unable to send the consumer data"):
            store.authorize(authorize_url(store, f"{receiver.url}/woo/callback"))
        consumer_key = json.loads(receiver.hits[0]["body"])["consumer_key"]

        assert store.api_keys == {}
        assert store.key(consumer_key) is None


def test_authorize_validates_like_wc_auth(receiver):
    with FakeWooCommerce() as store:
        with pytest.raises(ValueError, match="callback_url needs to be over SSL"):
            store.authorize(authorize_url(store, f"{receiver.url}/cb"))
        with pytest.raises(ValueError, match="Invalid scope admin"):
            store.authorize(authorize_url(store, "https://app.example/cb", scope="admin"))
        with pytest.raises(ValueError, match="Missing parameter user_id"):
            store.authorize(authorize_url(store, "https://app.example/cb", user_id=""))
        denied = store.authorize(authorize_url(store, "https://app.example/cb", user_id="shop-9"), approve=False)

    assert denied == "https://app.example/woo/return?shop=1&success=0&user_id=shop-9"
    assert receiver.hits == []
    assert store.api_keys == {}


# --- webhooks ---


def create_webhook(store, http_client, key, secret, receiver, topic="product.updated", **extra) -> httpx.Response:
    url = f"{store.base_url}/wp-json/wc/v3/webhooks"
    payload = {"name": "Basketry", "topic": topic, "delivery_url": f"{receiver.url}/hooks", "secret": "s3cret", **extra}
    if store.tls:
        return http_client.post(url, auth=(key, secret), json=payload)
    # Over plain http the JSON body is not part of the OAuth signature.
    return http_client.post(url, params=oauth_query("POST", url, key, secret), json=payload)


def test_webhook_creation_sends_an_unsigned_ping_before_answering(fake, client, receiver):
    key, secret = fake.add_key()

    response = create_webhook(fake, client, key, secret, receiver, status="paused")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active"  # create_item ignores the requested status
    assert body["topic"] == "product.updated" and body["resource"] == "product" and body["event"] == "updated"
    assert "secret" not in body
    assert response.headers["location"] == f"{fake.base_url}/wp-json/wc/v3/webhooks/{body['id']}"
    # The ping went out while the request was being answered, so it is already there.
    assert len(receiver.hits) == 1
    ping = receiver.hits[0]
    assert ping["body"] == f"webhook_id={body['id']}".encode()
    assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert not [name for name in ping["headers"] if name.startswith("x-wc-webhook")]
    assert fake.deliveries == []
    assert fake.pings[0]["status_code"] == 200


def test_webhook_validation_and_deletion(tls_fake, tls_client, receiver):
    key, secret = tls_fake.add_key()
    url = f"{tls_fake.base_url}/wp-json/wc/v3/webhooks"

    assert_error(
        create_webhook(tls_fake, tls_client, key, secret, receiver, topic="product.exploded"),
        400,
        "woocommerce_rest_shop_webhook_invalid_topic",
    )
    assert_error(
        tls_client.post(url, auth=(key, secret), json={"topic": "order.created", "delivery_url": "ftp://x.example/"}),
        400,
        "woocommerce_rest_shop_webhook_invalid_delivery_url",
    )
    created = create_webhook(tls_fake, tls_client, key, secret, receiver).json()
    assert_error(
        tls_client.delete(f"{url}/{created['id']}", auth=(key, secret)), 501, "woocommerce_rest_trash_not_supported"
    )
    deleted = tls_client.delete(f"{url}/{created['id']}", auth=(key, secret), params={"force": "true"})
    assert deleted.status_code == 200
    assert tls_fake.webhooks == {}


def test_event_delivery_is_signed_over_the_exact_body(tls_fake, tls_client, receiver):
    key, secret = tls_fake.add_key()
    product = tls_fake.add_product(name="Crème Jar")
    webhook = create_webhook(tls_fake, tls_client, key, secret, receiver).json()

    tls_fake.update_product(product["id"], regular_price="15")

    hit = receiver.hits[-1]
    expected = base64.b64encode(hmac.new(b"s3cret", hit["body"], hashlib.sha256).digest()).decode()
    assert hit["headers"]["x-wc-webhook-signature"] == expected
    assert hit["headers"]["x-wc-webhook-topic"] == "product.updated"
    assert hit["headers"]["x-wc-webhook-resource"] == "product"
    assert hit["headers"]["x-wc-webhook-event"] == "updated"
    assert hit["headers"]["x-wc-webhook-id"] == str(webhook["id"])
    assert hit["headers"]["x-wc-webhook-source"] == tls_fake.base_url + "/"
    assert hit["headers"]["user-agent"].startswith("WooCommerce/") and "Hookshot" in hit["headers"]["user-agent"]
    # wp_json_encode escapes slashes and non-ASCII, so re-serialising the parsed body would not match the signature.
    assert b"\\/" in hit["body"] and b"Cr\\u00e8me" in hit["body"]
    payload = json.loads(hit["body"])
    assert payload["id"] == product["id"] and payload["price"] == "15.00"
    assert tls_fake.deliveries[-1]["status_code"] == 200
    assert tls_fake.deliveries[-1]["delivery_id"] == hit["headers"]["x-wc-webhook-delivery-id"]

    tls_fake.trash_product(product["id"])
    assert receiver.hits[-1]["headers"]["x-wc-webhook-topic"] == "product.updated"  # no product.deleted hook yet
    create_webhook(tls_fake, tls_client, key, secret, receiver, topic="product.deleted")
    tls_fake.restore_product(product["id"])
    tls_fake.trash_product(product["id"])
    assert json.loads(receiver.hits[-1]["body"]) == {"id": product["id"]}
    assert receiver.hits[-1]["headers"]["x-wc-webhook-topic"] == "product.deleted"


def test_the_seventh_consecutive_failure_disables_a_webhook_and_a_redirect_counts_as_success(
    tls_fake, tls_client, receiver
):
    key, secret = tls_fake.add_key()
    order = tls_fake.add_order()
    webhook_id = create_webhook(tls_fake, tls_client, key, secret, receiver, topic="order.updated").json()["id"]
    receiver.queued.extend([500] * 5 + [302] + [500] * 6)

    for _ in range(6):
        tls_fake.update_order(order["id"], customer_note="again")
    assert tls_fake.webhooks[webhook_id]["failure_count"] == 0  # the 302 reset it
    assert tls_fake.webhooks[webhook_id]["status"] == "active"

    for _ in range(6):
        tls_fake.update_order(order["id"], customer_note="again")
    assert tls_fake.webhooks[webhook_id]["status"] == "active"
    assert tls_fake.webhooks[webhook_id]["failure_count"] == 6

    receiver.queued.append(500)
    tls_fake.update_order(order["id"], status="completed")
    assert tls_fake.webhooks[webhook_id]["status"] == "disabled"
    delivered = len(tls_fake.deliveries)
    tls_fake.update_order(order["id"], customer_note="no one listens")
    assert len(tls_fake.deliveries) == delivered == 13
    assert [d["status_code"] for d in tls_fake.deliveries[:6]] == [500] * 5 + [302]

    reactivated = tls_client.put(
        f"{tls_fake.base_url}/wp-json/wc/v3/webhooks/{webhook_id}", auth=(key, secret), json={"status": "active"}
    )
    assert reactivated.json()["status"] == "active"
    assert len(tls_fake.pings) == 2


def test_order_dates_move_forward_on_every_update(fake):
    order = fake.add_order(date_created_gmt=datetime.now(UTC) + timedelta(seconds=30))
    first = order["date_modified_gmt"]
    fake.update_order(order["id"], status="completed")
    second = order["date_modified_gmt"]
    fake.update_order(order["id"], customer_note="x")

    assert first < second < order["date_modified_gmt"]
    assert order["date_completed_gmt"] is not None


# --- faults ---


def test_injected_faults_answer_html_like_hosts_do(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    url = products_url(tls_fake)
    tls_fake.challenge_next()
    tls_fake.login_page_next()
    tls_fake.fail_next(status=503, retry_after=2)

    challenge = tls_client.get(url, auth=(key, secret))
    login = tls_client.get(url, auth=(key, secret))
    unavailable = tls_client.get(url, auth=(key, secret))
    fine = tls_client.get(url, auth=(key, secret))

    assert challenge.status_code == 403
    assert challenge.headers["cf-mitigated"] == "challenge"
    assert challenge.headers["content-type"].startswith("text/html")
    assert "Just a moment..." in challenge.text
    assert login.status_code == 200 and login.headers["content-type"].startswith("text/html")
    assert 'id="loginform"' in login.text
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "2"
    assert fine.status_code == 200 and fine.json() == []
    assert [r["status"] for r in tls_fake.requests] == [403, 200, 503, 200]


def test_random_failures_follow_the_seed():
    statuses = []
    for _ in range(2):
        with FakeWooCommerce(seed=11) as store, httpx.Client(timeout=10) as http_client:
            store.fail_randomly(0.3)
            statuses.append([http_client.get(products_url(store)).status_code for _ in range(30)])

    assert statuses[0] == statuses[1]
    assert statuses[0].count(503) >= 3
    assert set(statuses[0]) == {401, 503}


# --- bulk data ---


def test_populate_builds_5k_products_and_50k_orders_quickly_and_plausibly(tls_fake, tls_client):
    started = time.perf_counter()
    tls_fake.populate(products=5000, orders=50_000, seed=1)
    elapsed = time.perf_counter() - started
    print(f"populate(products=5000, orders=50000): {elapsed:.2f}s")

    assert elapsed < 30
    assert len(tls_fake.orders) == 50_000
    products = list(tls_fake.products.values())
    assert len(products) == 5000
    statuses = collections.Counter(p["status"] for p in products)
    assert statuses["publish"] > 4000 and statuses["draft"] and statuses["private"]
    assert any(p["catalog_visibility"] == "hidden" for p in products)
    assert any(p["stock_status"] == "outofstock" for p in products)
    variable = [p for p in products if p["type"] == "variable"]
    assert 800 < len(variable) < 1200 and all(2 <= len(p["variations"]) <= 4 for p in variable)
    orders = list(tls_fake.orders.values())
    order_statuses = collections.Counter(o["status"] for o in orders)
    assert order_statuses["completed"] + order_statuses["processing"] > 35_000
    assert order_statuses["cancelled"] and order_statuses["refunded"] and order_statuses["failed"]
    assert 5000 < sum(o["customer_id"] == 0 for o in orders) < 10_000
    lines = [line for o in orders for line in o["line_items"]]
    assert all(1 <= len(o["line_items"]) <= 6 for o in orders)
    assert any(line["variation_id"] for line in lines)
    popularity = collections.Counter(line["product_id"] for line in lines).most_common(10)
    assert popularity[0][1] > 20 * len(lines) / 5000  # a few products sell far more than the average

    key, secret = tls_fake.add_key()
    started = time.perf_counter()
    pages = [
        tls_client.get(
            f"{tls_fake.base_url}/wp-json/wc/v3/orders",
            auth=(key, secret),
            params={"per_page": 100, "page": page, "orderby": "id", "order": "asc"},
        )
        for page in (1, 2, 3)
    ]
    print(f"3 pages of 100 orders: {time.perf_counter() - started:.2f}s")
    assert pages[0].headers["x-wp-total"] == str(50_000 - order_statuses["trash"])
    assert pages[2].json()[-1]["id"] == pages[0].json()[0]["id"] + 299

    again = FakeWooCommerce(seed=5)
    with again:
        again.populate(products=50, orders=200, seed=1, now=1_750_000_000)
        first = [(o["id"], o["total"], o["status"]) for o in again.orders.values()]
    repeat = FakeWooCommerce(seed=5)
    with repeat:
        repeat.populate(products=50, orders=200, seed=1, now=1_750_000_000)
        assert [(o["id"], o["total"], o["status"]) for o in repeat.orders.values()] == first


def test_link_headers_point_at_the_neighbouring_pages(tls_fake, tls_client):
    key, secret = tls_fake.add_key()
    for _ in range(3):
        tls_fake.add_product()

    response = tls_client.get(products_url(tls_fake), auth=(key, secret), params={"per_page": 1, "page": 2})
    next_query = parse_qs(urlsplit(response.links["next"]["url"]).query)
    prev_query = parse_qs(urlsplit(response.links["prev"]["url"]).query)

    assert next_query == {"per_page": ["1"], "page": ["3"]}
    assert prev_query == {"per_page": ["1"], "page": ["1"]}
