"""The sync against a fake that behaves as Shopify documents: ungrouped bulk results, the
1,000-point cost limit, read_customers, nested connections longer than one page."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from integrations.models import SyncRun
from integrations.services import sync_execute
from integrations.shopify.queries import client_documents
from integrations.shopify.sync import SyncFailed
from shops.models import Order, OrderLine, Product, Shop
from shops.tenancy import shop_scope
from tests.fakes.shopify import populate

DOMAIN = "faithful.myshopify.com"
pytestmark = pytest.mark.django_db


@pytest.fixture
def store(fake):
    store = fake.add_store(DOMAIN, currency="EUR")
    populate(store, products=40, orders=300, seed=11)
    return store


@pytest.fixture
def shop(fake, store, monkeypatch):
    from integrations.shopify.install import shopify_connect_with_token

    monkeypatch.setattr("integrations.shopify.client.time.sleep", fake.advance)
    monkeypatch.setattr("integrations.services.time.sleep", fake.advance)
    return shopify_connect_with_token(domain=DOMAIN, access_token=store.issue_access_token()["access_token"])


def full_sync(shop: Shop) -> SyncRun:
    with shop_scope(shop):
        return sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)


def reconcile(shop: Shop) -> SyncRun:
    with shop_scope(shop):
        return sync_execute(shop=shop, kind="reconcile", wait=True, poll_seconds=0)


def visible_orders(store) -> int:
    return sum(1 for _ in store._visible_orders())


def sent_queries(store) -> list[str]:
    return [entry["query"] for entry in store.requests if entry.get("query")]


def test_an_ungrouped_result_with_children_before_their_parents_imports_exactly(fake, store, shop):
    run = full_sync(shop)

    assert run.status == "succeeded", run.error
    files = [data.decode().splitlines() for data in fake._bulk_files.values()]
    assert len(files) == 2
    for lines in files:
        seen: set[str] = set()
        early = 0
        for line in map(json.loads, lines):
            early += "__parentId" in line and line["__parentId"] not in seen
            seen.add(line["id"])
        assert early, "the fake wrote every child after its parent: the test proves nothing"
    with shop_scope(shop):
        assert Product.objects.count() == len(store.products)
        assert Order.objects.count() == visible_orders(store)
        expected_lines = sum(
            1 for _, order in store._visible_orders() for item in order["lineItems"] if item.get("product")
        )
        assert OrderLine.objects.count() == expected_lines
        for product in store.products.values():
            stored = Product.objects.get(external_id=product["legacyResourceId"])
            assert stored.price == min(Decimal(v["price"]) for v in product["variants"])
            assert {f"collection:{c['handle']}" for c in product["collections"]} <= set(stored.tags)
    # Nothing asked Shopify to group its output.
    assert not any("groupObjects" in query for query in sent_queries(store))


@pytest.mark.parametrize("phase", ["products", "orders"])
def test_a_malformed_bulk_result_fails_the_run_with_the_reason_and_writes_none_of_it(fake, store, shop, phase):
    from integrations.tasks import sync_run

    if phase == "orders":
        full_sync(shop)  # the products phase has been through once
        with shop_scope(shop):
            Order.objects.all().delete()
    store.corrupt_bulk_next()  # the next bulk result
    if phase == "orders":
        store.corrupt_bulk_next()  # products read fine the first time; corrupt both of this run
    sync_run.apply(args=(shop.pk, "full"))

    with shop_scope(shop):
        run = SyncRun.objects.order_by("-pk").first()
        assert run.status == "failed"
        assert "malformed" in run.error and "is not JSON" in run.error and "nothing of it was imported" in run.error
        if phase == "products":
            assert Product.objects.count() == 0 and Order.objects.count() == 0
        else:
            assert Order.objects.count() == 0


def test_reconciliation_reads_every_variant_collection_and_line_within_the_cost_limit(fake, store, shop):
    full_sync(shop)
    product_id = next(iter(store.products))
    variants = [{"price": f"{50 + index}.00", "inventoryQuantity": 0} for index in range(120)]
    variants[113] = {"price": "7.50", "inventoryQuantity": 3}
    store.touch_product(product_id, variants=variants, collections=[f"shelf-{n}" for n in range(14)])
    many_lines = store.add_order(lineItems=[{"product_id": pid} for pid in list(store.products)[:25]])

    run = reconcile(shop)

    assert run.status == "succeeded", run.error
    with shop_scope(shop):
        product = Product.objects.get(external_id=str(product_id))
        assert product.price == Decimal("7.50") and product.in_stock
        assert {f"collection:shelf-{n}" for n in range(14)} <= set(product.tags)
        order = Order.objects.get(external_id=many_lines["legacyResourceId"])
        assert OrderLine.objects.filter(order=order).count() == 25
    costs = [entry["requested_cost"] for entry in store.requests if "requested_cost" in entry]
    assert costs and max(costs) <= 1000
    assert any("ProductVariants" in query for query in sent_queries(store))
    assert any("OrderLines" in query for query in sent_queries(store))


def test_a_query_shopify_prices_higher_is_shrunk_until_it_fits(fake, store, shop):
    full_sync(shop)
    store.touch_product(next(iter(store.products)), title="Changed")
    store.cost_factor = 1.6  # Shopify counts more than the documented rules

    run = reconcile(shop)

    assert run.status == "succeeded", run.error
    refused = [e for e in store.requests if e.get("requested_cost", 0) > 1000]
    accepted = [e for e in store.requests if e.get("status") == 200 and 0 < e.get("requested_cost", 0) <= 1000]
    assert refused and accepted
    assert run.checkpoint["cost_budget"] < 1000
    with shop_scope(shop):
        assert Product.objects.get(external_id=str(next(iter(store.products)))).title == "Changed"


def test_when_not_even_one_node_fits_the_run_fails_with_the_reason(fake, store, shop):
    full_sync(shop)
    store.cost_factor = 100.0  # the shop query (3 points) still fits; one product with one variant does not
    with pytest.raises(SyncFailed, match="smallest page"):
        reconcile(shop)


def test_without_read_customers_orders_are_anonymous_and_the_overview_says_why(client, fake, store, shop):
    from shops.dashboard.access import dashboard_link_create

    store.scopes.discard("read_customers")

    run = full_sync(shop)
    store.touch_product(next(iter(store.products)), title="Changed")
    store.add_order(customer_id=4242, lineItems=[{"product_id": next(iter(store.products))}])
    again = reconcile(shop)

    assert run.status == again.status == "succeeded"
    shop.refresh_from_db()
    assert "read_customers" not in shop.credentials["scope"]
    with shop_scope(shop):
        assert Order.objects.count() == visible_orders(store)
        assert not Order.objects.exclude(customer_ref__isnull=True).exclude(customer_ref="").exists()
    assert not any("customer {" in query or "customer{" in query for query in sent_queries(store))
    assert not any("customer {" in json.dumps(e.get("variables")) for e in store.requests)
    link = dashboard_link_create(shop_id=shop.pk)
    client.get("/dashboard/enter?token=" + link.split("token=", 1)[1])
    page = client.get("/dashboard/").content.decode()
    assert "not been granted access to customers (read_customers)" in page and "anonymous baskets" in page


def test_customers_refused_by_shopify_despite_the_scope_degrade_the_sync_not_fail_it(client, fake, store, shop):
    store.protected_customer_data = False

    run = full_sync(shop)
    store.add_order(customer_id=4242, lineItems=[{"product_id": next(iter(store.products))}])
    again = reconcile(shop)

    assert run.status == again.status == "succeeded", (run.error, again.error)
    shop.refresh_from_db()
    assert "read_customers" in shop.credentials["scope"] and shop.credentials["customers_denied"] is True
    with shop_scope(shop):
        assert Order.objects.count() == visible_orders(store)
        assert not Order.objects.exclude(customer_ref__isnull=True).exclude(customer_ref="").exists()
    from integrations.shopify.install import customer_access_note

    assert "Shopify refused" in customer_access_note(shop)

    store.protected_customer_data = True  # approved since: the next sync reads customers again
    store.add_order(customer_id=4343, lineItems=[{"product_id": next(iter(store.products))}])
    reconcile(shop)
    shop.refresh_from_db()
    assert "customers_denied" not in shop.credentials and customer_access_note(shop) == ""
    with shop_scope(shop):
        assert Order.objects.filter(customer_ref=shop.customer_ref("4343")).exists()


def test_every_document_sent_in_a_sync_is_one_the_document_walk_covers(fake, store, shop):
    """The schema walk (test_documents.py) checks client_documents(); the sync sends nothing else."""
    full_sync(shop)
    product_id = next(iter(store.products))
    store.touch_product(product_id, variants=[{"price": "1.00"}] * 30, collections=[f"c-{n}" for n in range(12)])
    store.add_order(lineItems=[{"product_id": pid} for pid in list(store.products)[:12]])
    reconcile(shop)

    def shape(document: str) -> str:
        return re.sub(r"created_at:>='[^']*'", "created_at:>='…'", document)

    known = {document for _, document, _, _ in client_documents()}
    inner = {shape(document) for _, document, _, bulk in client_documents() if bulk}
    sent = [entry for entry in store.requests if entry.get("query")]
    assert {entry["operation"] for entry in sent} >= {"shop", "bulkOperationRunQuery", "products", "product", "order"}
    for entry in sent:
        assert entry["query"] in known, entry["query"][:120]
        if entry["operation"] == "bulkOperationRunQuery":
            assert shape(entry["variables"]["query"]) in inner
