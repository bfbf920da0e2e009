"""The fake Shopify Admin API, exercised over real HTTP the way the app talks to Shopify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from datetime import timedelta

import httpx
import pytest

from tests.fakes.shopify import (
    ID_TOKEN_TYPE,
    INVALID_TOKEN_BODY,
    OFFLINE_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    FakeShopify,
    FakeStore,
    gid,
    iso,
    populate,
    utcnow,
)

CLIENT_ID = "basketry-test-client"
# At least 32 bytes: PyJWT warns about shorter HMAC keys.
CLIENT_SECRET = "shpss_0123456789abcdef0123456789abcdef"
DOMAIN = "acme.myshopify.com"
VERSION = "2026-10"

SHOP_QUERY = "query { shop { name myshopifyDomain currencyCode ianaTimezone plan { partnerDevelopment } } }"
PRODUCTS_QUERY = """
query Products($first: Int!, $cursor: String, $query: String) {
  products(first: $first, after: $cursor, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt variants(first: 10) { nodes { id } } }
  }
}
"""
ORDERS_QUERY = """
query Orders($first: Int!, $cursor: String, $query: String) {
  orders(first: $first, after: $cursor, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id createdAt lineItems(first: 5) { nodes { id } } }
  }
}
"""
BULK_RUN = """
mutation Run($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""
BULK_POLL = "query Poll($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url } }"
BULK_PRODUCTS = (
    "{ products { edges { node { id title variants { edges { node { id } } }"
    " collections { edges { node { id } } } } } } }"
)


@pytest.fixture
def fake():
    with FakeShopify(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_version=VERSION) as server:
        yield server


@pytest.fixture
def store(fake: FakeShopify) -> FakeStore:
    return fake.add_store(DOMAIN, currency="EUR", timezone="Europe/Paris")


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as http_client:
        yield http_client


def token_url(fake: FakeShopify, domain: str = DOMAIN) -> str:
    return f"{fake.admin_base_url(domain)}/admin/oauth/access_token"


def exchange(fake: FakeShopify, client: httpx.Client, id_token: str, *, expiring: str = "1") -> httpx.Response:
    return client.post(
        token_url(fake),
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": id_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": expiring,
        },
    )


def refresh(fake: FakeShopify, client: httpx.Client, refresh_token: str) -> httpx.Response:
    return client.post(
        token_url(fake),
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )


def graphql(
    fake: FakeShopify, client: httpx.Client, token: str, query: str, variables: dict | None = None, version=VERSION
) -> httpx.Response:
    return client.post(
        f"{fake.admin_base_url(DOMAIN)}/admin/api/{version}/graphql.json",
        headers={"X-Shopify-Access-Token": token},
        json={"query": query, "variables": variables or {}},
    )


def all_pages(fake, client, token, query, root, *, first=50, search=None) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        response = graphql(fake, client, token, query, {"first": first, "cursor": cursor, "query": search})
        assert response.status_code == 200, response.text
        connection = response.json()["data"][root]
        ids += [node["id"] for node in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            return ids, pages
        cursor = connection["pageInfo"]["endCursor"]


# --- install and tokens ---


def test_token_exchange_issues_an_expiring_offline_token_that_opens_graphql(fake, store, client):
    response = exchange(fake, client, fake.id_token(DOMAIN))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"].startswith("shpat_")
    assert body["refresh_token"].startswith("shprt_")
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 7_776_000
    assert set(body["scope"].split(",")) == {"read_products", "read_orders", "read_customers", "write_app_proxy"}

    shop = graphql(fake, client, body["access_token"], SHOP_QUERY)
    assert shop.status_code == 200
    assert shop.json()["data"]["shop"] == {
        "name": "Acme",
        "myshopifyDomain": DOMAIN,
        "currencyCode": "EUR",
        "ianaTimezone": "Europe/Paris",
        "plan": {"partnerDevelopment": False},
    }
    cost = shop.json()["extensions"]["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert 0 < cost["throttleStatus"]["currentlyAvailable"] <= 2000.0
    assert [(r["operation"], r["status"]) for r in store.requests] == [("token", 200), ("shop", 200)]


def test_non_expiring_exchange_over_a_form_body_gives_only_token_and_scope(fake, store, client):
    response = client.post(
        token_url(fake),
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": fake.id_token(DOMAIN),
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": "0",
        },
    )

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "scope"}
    assert store.access_tokens[response.json()["access_token"]].expires_at is None


@pytest.mark.parametrize(
    "spoil",
    [
        {"secret": "another-secret-that-is-long-enough-000"},
        {"audience": "someone-else"},
        {"expires_in": -60},
        {"nbf_offset": 60},
        {"dest": "https://other.myshopify.com"},
        {"iss": "https://other.myshopify.com/admin"},
    ],
    ids=["secret", "audience", "expired", "not-yet-valid", "dest", "iss"],
)
def test_token_exchange_rejects_a_bad_id_token(fake, store, client, spoil):
    response = exchange(fake, client, fake.id_token(DOMAIN, **spoil))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subject_token"
    assert store.access_tokens == {}


def test_id_token_expired_within_the_leeway_is_still_accepted(fake, store, client):
    assert exchange(fake, client, fake.id_token(DOMAIN, expires_in=-5)).status_code == 200


def test_wrong_client_secret_is_invalid_client(fake, store, client):
    response = client.post(
        token_url(fake),
        json={"client_id": CLIENT_ID, "client_secret": "nope", "grant_type": "refresh_token", "refresh_token": "x"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_refresh_token_stays_valid_until_its_successor_is_used(fake, store, client):
    first = exchange(fake, client, fake.id_token(DOMAIN)).json()

    second = refresh(fake, client, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 3600

    # The new access token is unused, so a client that lost the answer can retry with the old refresh token.
    retry = refresh(fake, client, first["refresh_token"])
    assert retry.status_code == 200

    assert graphql(fake, client, second["access_token"], SHOP_QUERY).status_code == 200
    retired = refresh(fake, client, first["refresh_token"])
    assert retired.status_code == 400
    assert retired.json()["error"] == "invalid_grant"

    assert refresh(fake, client, second["refresh_token"]).status_code == 200
    assert graphql(fake, client, first["access_token"], SHOP_QUERY).status_code == 200, "old token lives to expiry"
    assert refresh(fake, client, "shprt_unknown").json()["error"] == "invalid_grant"
    refreshes = [r["status"] for r in store.token_requests if r["grant_type"] == "refresh_token"]
    assert refreshes == [200, 200, 400, 200, 400]


def test_authorization_code_is_single_use(fake, store, client):
    code = store.issue_auth_code()
    params = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "expiring": "1"}

    granted = client.post(token_url(fake), json=params)
    assert granted.status_code == 200, granted.text
    assert {"access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"} <= set(granted.json())

    again = client.post(token_url(fake), json=params)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_graphql_rejects_unknown_expired_and_revoked_tokens(fake, store, client):
    bad = graphql(fake, client, "shpat_not-a-token", SHOP_QUERY)
    assert bad.status_code == 401
    assert bad.json() == INVALID_TOKEN_BODY

    token = store.issue_access_token()["access_token"]
    assert graphql(fake, client, token, SHOP_QUERY).status_code == 200
    store.expire_access_tokens()
    assert graphql(fake, client, token, SHOP_QUERY).status_code == 401

    tokens = exchange(fake, client, fake.id_token(DOMAIN)).json()
    store.revoke_all()
    assert graphql(fake, client, tokens["access_token"], SHOP_QUERY).status_code == 401
    assert refresh(fake, client, tokens["refresh_token"]).json()["error"] == "invalid_client"
    assert exchange(fake, client, fake.id_token(DOMAIN)).json()["error"] == "invalid_client"


def test_access_token_ttl_drives_expires_in(client):
    with FakeShopify(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, access_token_ttl=120) as fake:
        fake.add_store(DOMAIN)
        assert exchange(fake, client, fake.id_token(DOMAIN)).json()["expires_in"] == 120


# --- GraphQL reads ---


def test_unknown_field_version_and_store(fake, store, client):
    token = store.issue_access_token()["access_token"]

    unknown = graphql(fake, client, token, "{ widgets(first: 5) { nodes { id } } }")
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "undefinedField"
    assert graphql(fake, client, token, SHOP_QUERY, version="2020-01").status_code == 404
    other = client.post(f"{fake.admin_base_url('ghost.myshopify.com')}/admin/api/{VERSION}/graphql.json", json={})
    assert other.status_code == 404


def test_products_pagination_returns_every_product_exactly_once(fake, store, client):
    populate(store, products=137, orders=0)
    token = store.issue_access_token()["access_token"]

    ids, pages = all_pages(fake, client, token, PRODUCTS_QUERY, "products", first=50)

    assert pages == 3
    assert len(ids) == len(set(ids)) == 137
    assert set(ids) == {product["id"] for product in store.products.values()}
    node = graphql(fake, client, token, PRODUCTS_QUERY, {"first": 1}).json()["data"]["products"]["nodes"][0]
    # Exactly what was selected: variants, not the collections the store also holds.
    assert node["variants"]["nodes"] and "collections" not in node and set(node) == {"id", "updatedAt", "variants"}


def test_products_page_size_and_cursor_are_validated(fake, store, client):
    store.add_product()
    token = store.issue_access_token()["access_token"]

    too_many = graphql(fake, client, token, PRODUCTS_QUERY, {"first": 251}).json()
    assert too_many["errors"] and not too_many.get("data")
    garbage = graphql(fake, client, token, PRODUCTS_QUERY, {"first": 10, "cursor": "not-a-cursor"}).json()
    assert "Invalid cursor" in garbage["errors"][0]["message"]
    inline = graphql(fake, client, token, "{ products(first: 250) { nodes { id } } }").json()
    assert len(inline["data"]["products"]["nodes"]) == 1


def test_updated_at_filter(fake, store, client):
    old = utcnow() - timedelta(days=3)
    for _ in range(3):
        store.add_product(createdAt=old)
    middle = store.add_product(createdAt=old + timedelta(hours=1))
    touched = store.touch_product(1001, title="Renamed")
    token = store.issue_access_token()["access_token"]

    newer, _ = all_pages(fake, client, token, PRODUCTS_QUERY, "products", search=f"updated_at:>'{iso(old)}'")
    assert newer == [middle["id"], touched["id"]]
    since, _ = all_pages(fake, client, token, PRODUCTS_QUERY, "products", search=f"updated_at:>='{iso(old)}'")
    assert len(since) == 4
    watermark = middle["updatedAt"]
    latest, _ = all_pages(fake, client, token, PRODUCTS_QUERY, "products", search=f"updated_at:>'{watermark}'")
    assert latest == [touched["id"]]


def test_orders_older_than_60_days_need_read_all_orders(fake, store, client):
    now = utcnow()
    store.add_product()
    ancient = store.add_order(createdAt=now - timedelta(days=90), customer_id=77, lineItems=[{"product_id": 1001}])
    recent = store.add_order(createdAt=now - timedelta(days=10), lineItems=[{"product_id": 1001, "quantity": 2}])
    token = store.issue_access_token()["access_token"]

    visible, _ = all_pages(fake, client, token, ORDERS_QUERY, "orders")
    assert visible == [recent["id"]]
    assert recent["totalPriceSet"] == {"shopMoney": {"amount": "39.98", "currencyCode": "EUR"}}

    store.scopes.add("read_all_orders")
    everything, _ = all_pages(fake, client, token, ORDERS_QUERY, "orders")
    assert everything == [ancient["id"], recent["id"]]
    since = iso(now - timedelta(days=30))
    created, _ = all_pages(fake, client, token, ORDERS_QUERY, "orders", search=f"created_at:>='{since}'")
    assert created == [recent["id"]]


def test_each_injected_fault_appears_once_in_precedence_order(fake, store, client):
    token = store.issue_access_token()["access_token"]
    store.graphql_error_next()
    store.throttle_next()
    store.rate_limit_next(retry_after=2)
    store.fail_next(status=503)

    responses = [graphql(fake, client, token, SHOP_QUERY) for _ in range(5)]

    assert [r.status_code for r in responses] == [503, 429, 200, 200, 200]
    assert responses[1].headers["Retry-After"] == "2.0"
    throttled = responses[2].json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 50
    assert responses[3].json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert responses[4].json()["data"]["shop"]["myshopifyDomain"] == DOMAIN
    assert [entry["status"] for entry in store.requests] == [503, 429, 200, 200, 200]


# --- bulk operations ---


def run_bulk(fake, client, token, inner: str) -> dict:
    response = graphql(fake, client, token, BULK_RUN, {"query": inner})
    assert response.status_code == 200, response.text
    return response.json()["data"]["bulkOperationRunQuery"]


def poll_until_finished(fake, client, token, operation_id: str) -> tuple[list[str], dict]:
    statuses = []
    for _ in range(10):
        operation = graphql(fake, client, token, BULK_POLL, {"id": operation_id}).json()["data"]["bulkOperation"]
        statuses.append(operation["status"])
        if operation["status"] not in ("CREATED", "RUNNING"):
            return statuses, operation
    raise AssertionError(f"bulk operation never finished: {statuses}")


def download(client, url: str) -> list[dict]:
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/jsonl"
        return [json.loads(line) for line in response.iter_lines() if line]


def regroup(lines: list[dict]) -> dict[str, list[dict]]:
    """Children under their parents, wherever in the file they come; every child has its parent."""
    groups: dict[str, list[dict]] = {line["id"]: [] for line in lines if "__parentId" not in line}
    for line in lines:
        if "__parentId" in line:
            assert line["__parentId"] in groups, f"{line['id']} names a parent that is not in the file"
            groups[line["__parentId"]].append(line)
    return groups


def test_bulk_products_lifecycle_and_jsonl(fake, store, client):
    populate(store, products=40, orders=0, seed=3)
    token = store.issue_access_token()["access_token"]

    started = run_bulk(fake, client, token, BULK_PRODUCTS)
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] == "CREATED"
    statuses, done = poll_until_finished(fake, client, token, started["bulkOperation"]["id"])

    assert statuses == ["RUNNING", "COMPLETED"]
    assert done["errorCode"] is None
    lines = download(client, done["url"])
    groups = regroup(lines)
    assert int(done["objectCount"]) == len(lines)
    assert int(done["rootObjectCount"]) == len(groups) == 40
    for product in store.products.values():
        children = groups[product["id"]]
        kinds = [child["id"].split("/")[3] for child in children]
        assert kinds.count("ProductVariant") == len(product["variants"])
        assert kinds.count("Collection") == len(product["collections"])


def test_bulk_orders_through_current_bulk_operation_respects_the_60_day_rule(fake, store, client):
    store.add_product(variants=[{"price": "4.50"}, {"price": "6.00"}])
    now = utcnow()
    store.add_order(createdAt=now - timedelta(days=70), lineItems=[{"product_id": 1001}])
    for days in (1, 2, 3):
        store.add_order(createdAt=now - timedelta(days=days), lineItems=[{"product_id": 1001}] * days)
    token = store.issue_access_token()["access_token"]
    inline = (
        'mutation { bulkOperationRunQuery(query: """{ orders { edges { node { id lineItems { edges { node { id'
        ' originalUnitPriceSet { shopMoney { amount currencyCode } } } } } } } } }""") { userErrors { code } } }'
    )

    assert graphql(fake, client, token, inline).json()["data"]["bulkOperationRunQuery"]["userErrors"] == []
    current = "{ currentBulkOperation { id status url rootObjectCount objectCount } }"
    polls = [graphql(fake, client, token, current).json()["data"]["currentBulkOperation"] for _ in range(2)]

    assert [poll["status"] for poll in polls] == ["RUNNING", "COMPLETED"]
    groups = regroup(download(client, polls[-1]["url"]))
    assert sorted(len(items) for items in groups.values()) == [1, 2, 3]
    assert polls[-1]["rootObjectCount"] == "3"
    line_item = groups[gid("Order", 5002)][0]
    assert line_item["originalUnitPriceSet"]["shopMoney"] == {"amount": "4.50", "currencyCode": "EUR"}


def test_bulk_failure_and_concurrency_limit(fake, store, client):
    store.add_product()
    token = store.issue_access_token()["access_token"]

    store.fail_bulk_next()
    failing = run_bulk(fake, client, token, BULK_PRODUCTS)["bulkOperation"]["id"]
    statuses, failed = poll_until_finished(fake, client, token, failing)
    assert failed["status"] == "FAILED"
    assert failed["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert failed["url"] is None

    for _ in range(5):
        assert run_bulk(fake, client, token, BULK_PRODUCTS)["userErrors"] == []
    sixth = run_bulk(fake, client, token, BULK_PRODUCTS)
    assert sixth["bulkOperation"] is None
    assert sixth["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    missing = graphql(fake, client, token, BULK_POLL, {"id": gid("BulkOperation", 999)}).json()
    assert missing["data"]["bulkOperation"] is None


# --- webhooks ---


def test_webhook_delivery_is_signed_with_the_client_secret(fake):
    received: dict = {}

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            received["headers"] = self.headers  # an email.message.Message: names are case-insensitive
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/shopify"
        status, _, body = fake.deliver_webhook(
            url, topic="products/update", domain=DOMAIN, payload={"id": 1001, "title": "Mug"}, webhook_id="wh-1"
        )
    finally:
        receiver.shutdown()
        receiver.server_close()

    assert (status, body) == (202, b"ok")
    headers = received["headers"]
    expected = base64.b64encode(hmac.new(CLIENT_SECRET.encode(), received["body"], hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected
    assert json.loads(received["body"]) == {"id": 1001, "title": "Mug"}
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Shop-Domain"] == DOMAIN
    assert headers["X-Shopify-API-Version"] == VERSION
    assert headers["X-Shopify-Webhook-Id"] == "wh-1"
    assert headers["X-Shopify-Event-Id"]
    assert headers["X-Shopify-Triggered-At"].endswith("Z")


# --- generated data ---


def test_populate_is_deterministic_and_varied(fake):
    now = utcnow()
    first = fake.add_store("one.myshopify.com")
    second = fake.add_store("two.myshopify.com")
    populate(first, products=300, orders=1500, seed=7, now=now)
    populate(second, products=300, orders=1500, seed=7, now=now)

    assert json.dumps(list(first.orders.values())) == json.dumps(list(second.orders.values()))
    products = list(first.products.values())
    orders = list(first.orders.values())
    assert {p["status"] for p in products} == {"ACTIVE", "DRAFT", "ARCHIVED", "UNLISTED"}
    assert any(not v["availableForSale"] for p in products for v in p["variants"])
    assert any(o["test"] for o in orders)
    assert any(o["cancelledAt"] for o in orders)
    assert any(o["customer"] is None for o in orders)
    assert all(o["createdAt"] >= iso(now - timedelta(days=50)) for o in orders)
    line_items = sum(len(o["lineItems"]) for o in orders)
    assert 1500 <= line_items <= 1500 * 5


# --- fidelity: schema, scopes, cost, ungrouped bulk output ---


@pytest.fixture
def schema():
    from tests.fakes.shopify_schema import schema_or_skip

    return schema_or_skip(VERSION)


def test_documents_are_validated_against_shopifys_schema(fake, store, client, schema):
    assert fake.schema is schema
    store.add_product()
    token = store.issue_access_token()["access_token"]

    unknown = graphql(fake, client, token, "{ products(first: 1) { nodes { id flavour } } }").json()
    assert unknown["data"] is None and unknown["errors"][0]["extensions"]["code"] == "undefinedField"
    assert "flavour" in unknown["errors"][0]["message"]
    missing = graphql(fake, client, token, PRODUCTS_QUERY, {"cursor": None}).json()
    assert missing["errors"][0]["extensions"]["code"] == "variableMismatch"
    wrong_type = graphql(fake, client, token, PRODUCTS_QUERY, {"first": "ten"}).json()
    assert wrong_type["errors"] and wrong_type["data"] is None
    no_page_size = graphql(fake, client, token, "{ products { nodes { id } } }").json()
    assert "first or last" in no_page_size["errors"][0]["message"]


def test_required_access_is_enforced_from_the_schema(fake, store, client, schema):
    store.add_product()
    store.add_order(customer_id=9, lineItems=[{"product_id": 1001}])
    token = store.issue_access_token()["access_token"]
    query = "{ orders(first: 5) { nodes { id customer { id } } } }"

    assert graphql(fake, client, token, query).json()["data"]["orders"]["nodes"][0]["customer"]["id"].endswith("/9")
    store.scopes.discard("read_customers")
    denied = graphql(fake, client, token, query).json()
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert denied["errors"][0]["path"] == ["orders", "nodes", "customer"]
    assert "`read_customers`" in denied["errors"][0]["extensions"]["requiredAccess"]
    # Shopify's own answer to "which scopes do I hold" needs none.
    held = graphql(fake, client, token, "{ currentAppInstallation { accessScopes { handle } } }").json()
    assert {scope["handle"] for scope in held["data"]["currentAppInstallation"]["accessScopes"]} == store.scopes
    store.scopes.discard("read_orders")
    no_orders = graphql(fake, client, token, "{ orders(first: 1) { nodes { id } } }").json()
    assert no_orders["errors"][0]["path"] == ["orders", "nodes"]  # Order itself needs read_orders


def test_queries_over_1000_points_are_refused_and_charged_nothing(fake, store, client):
    store.add_product()
    token = store.issue_access_token()["access_token"]
    expensive = "{ products(first: 100) { nodes { id variants(first: 100) { nodes { id } } } } }"

    refused = graphql(fake, client, token, expensive).json()

    error = refused["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 100 * (1 + 2 + 100) and error["extensions"]["maxCost"] == 1000
    cheap = graphql(
        fake, client, token, "{ products(first: 9) { nodes { id variants(first: 100) { nodes { id } } } } }"
    )
    cost = cheap.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 9 * 103 and cost["actualQueryCost"] < cost["requestedQueryCost"]


def test_an_empty_bucket_answers_throttled(fake, store, client):
    token = store.issue_access_token()["access_token"]
    store.set_bucket(0.0)
    throttled = graphql(fake, client, token, PRODUCTS_QUERY, {"first": 50}).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    fake.advance(10)  # ten seconds at 100 points a second
    assert "data" in graphql(fake, client, token, PRODUCTS_QUERY, {"first": 50}).json()


def test_bulk_output_is_ungrouped_unless_asked_otherwise(fake, store, client):
    populate(store, products=60, orders=0, seed=5)
    token = store.issue_access_token()["access_token"]

    def lines_of(mutation: str, variables: dict) -> list[dict]:
        started = graphql(fake, client, token, mutation, variables).json()["data"]["bulkOperationRunQuery"]
        _, done = poll_until_finished(fake, client, token, started["bulkOperation"]["id"])
        return download(client, done["url"])

    def child_before_parent(lines: list[dict]) -> bool:
        seen: set[str] = set()
        for line in lines:
            if "__parentId" in line and line["__parentId"] not in seen:
                return True
            seen.add(line["id"])
        return False

    ungrouped = lines_of(BULK_RUN, {"query": BULK_PRODUCTS})
    grouped_run = BULK_RUN.replace(
        "bulkOperationRunQuery(query: $query)", "bulkOperationRunQuery(query: $query, groupObjects: true)"
    )
    grouped = lines_of(grouped_run, {"query": BULK_PRODUCTS})

    assert child_before_parent(ungrouped) and not child_before_parent(grouped)

    def by_parent(lines: list[dict]) -> dict[str, list[str]]:
        return {parent: sorted(child["id"] for child in children) for parent, children in regroup(lines).items()}

    assert by_parent(ungrouped) == by_parent(grouped)
    # Parents keep their order; only the selected fields are written.
    assert [line["id"] for line in ungrouped if "__parentId" not in line] == list(regroup(grouped))
    assert all(set(line) <= {"id", "title", "__parentId"} for line in ungrouped)


def test_a_bulk_query_without_the_scope_fails_with_access_denied(fake, store, client, schema):
    store.add_product()
    store.add_order(customer_id=9, lineItems=[{"product_id": 1001}])
    store.protected_customer_data = False  # read_customers granted, protected data not approved
    token = store.issue_access_token()["access_token"]
    inner = "{ orders { edges { node { id customer { id } } } } }"

    started = run_bulk(fake, client, token, inner)
    _, done = poll_until_finished(fake, client, token, started["bulkOperation"]["id"])

    assert (done["status"], done["errorCode"], done["url"]) == ("FAILED", "ACCESS_DENIED", None)
    invalid = run_bulk(fake, client, token, "{ orders { edges { node { id flavour } } } }")
    assert invalid["bulkOperation"] is None and invalid["userErrors"][0]["code"] == "INVALID"
    too_deep = run_bulk(
        fake,
        client,
        token,
        "{ products { edges { node { id variants { edges { node { id sellingPlanGroups { edges { node { id"
        " sellingPlans { edges { node { id } } } } } } } } } } } } }",
    )
    assert too_deep["bulkOperation"] is None and "nested" in too_deep["userErrors"][0]["message"]
