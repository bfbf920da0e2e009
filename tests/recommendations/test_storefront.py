"""GET /api/storefront/v1/recommendations: contract, bad input, caching, invalidation, failures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from django.db import DatabaseError

from recommendations.storefront import cache as caches
from recommendations.storefront.service import storefront_memory_clear
from shops.models import Product, Shop
from shops.records import ProductRecord
from shops.services.catalog import product_bulk_delete, product_bulk_upsert
from shops.tenancy import shop_scope
from tests.factories import demo_shop_trained

URL = "/api/storefront/v1/recommendations"
pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(shop):
    demo = demo_shop_trained(shop, seed=9, products=50, orders=900)
    anchor = demo.complementary_pairs[0][0]
    return shop, demo, anchor


def record_of(product: Product):
    return ProductRecord(
        external_id=product.external_id, title=product.title, price=product.price, category=product.category
    )


def get(client, **params):
    return client.get(URL, params)


def test_a_product_gets_its_cards_with_explanations(client, trained):
    shop, demo, anchor = trained
    response = get(client, shop=shop.domain, type="bought_together", product_id=anchor, limit=4)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    assert body["type"] == "bought_together" and body["fallback"] is False
    assert 1 <= len(body["items"]) <= 4
    with shop_scope(shop):
        sellable = dict(Product.objects.filter(status="published", in_stock=True).values_list("external_id", "title"))
    for item in body["items"]:
        assert set(item) == {"product_id", "title", "url", "image_url", "price", "currency", "explanation"}
        assert item["product_id"] != anchor and item["title"] == sellable[item["product_id"]]
        assert item["currency"] == "EUR" and item["explanation"]


def test_cart_lists_leave_out_the_cart(client, trained):
    shop, demo, anchor = trained
    other = demo.complementary_pairs[1][0]
    response = get(client, shop=shop.domain, type="cart", product_id=anchor, cart=other, limit=10)
    assert response.status_code == 200
    ids = [item["product_id"] for item in response.json()["items"]]
    assert ids and anchor not in ids and other not in ids


def test_related_beside_the_bought_together_block_shows_none_of_its_products(client, trained):
    shop, demo, _ = trained
    with shop_scope(shop):
        products = list(Product.objects.filter(status="published", in_stock=True).values_list("external_id", flat=True))
    overlapped = 0
    for product in products[:20]:
        together = get(client, shop=shop.domain, type="bought_together", product_id=product).json()["items"]
        alone = get(client, shop=shop.domain, type="related", product_id=product, limit=6).json()["items"]
        beside = get(client, shop=shop.domain, type="related", product_id=product, limit=6, beside="bought_together")
        assert beside.status_code == 200
        items = beside.json()["items"]
        shown = {item["product_id"] for item in together}
        assert not shown & {item["product_id"] for item in items}
        # The rest of the related list in its order, then products from further down in place of
        # the ones left out.
        kept = [item for item in alone if item["product_id"] not in shown]
        assert items[: len(kept)] == kept
        assert len(kept) <= len(items) <= 6
        overlapped += len(kept) < len(alone)
    assert overlapped  # the demo shop's lists do overlap: the case is exercised


def test_unknown_shop_is_404_and_unknown_product_gets_the_flagged_popular_list(client, trained):
    shop, _, _ = trained
    assert get(client, shop="nobody.example", type="related", product_id="1").status_code == 404
    response = get(client, shop=shop.domain, type="related", product_id="NOT-A-PRODUCT", limit=3)
    assert response.status_code == 200
    assert response.json()["fallback"] is True and len(response.json()["items"]) == 3
    # Nothing was ever bought with it: no "bought together" block, not best sellers under that title.
    response = get(client, shop=shop.domain, type="bought_together", product_id="NOT-A-PRODUCT", limit=3)
    assert response.status_code == 200
    assert response.json()["fallback"] is True and response.json()["items"] == []


@pytest.mark.parametrize(
    "params,message",
    [
        ({"type": "related", "product_id": "1"}, "shop:"),
        ({"shop": "a.example", "type": "personal", "product_id": "1"}, "customer_token:"),
        ({"shop": "a.example", "type": "popular", "product_id": "1"}, "type:"),
        ({"shop": "a.example", "type": "related", "product_id": ""}, "product_id:"),
        ({"shop": "a.example", "type": "related", "product_id": "<script>"}, "product_id:"),
        ({"shop": "a.example", "type": "related", "product_id": "1", "limit": "25"}, "limit:"),
        ({"shop": "a.example", "type": "related", "product_id": "1", "limit": "ten"}, "limit:"),
        ({"shop": "a.example", "type": "related", "product_id": "1", "cart": "2"}, "cart:"),
        ({"shop": "a.example", "type": "cart", "product_id": "1", "cart": "2,<x>"}, "cart:"),
        ({"shop": "a.example", "type": "bought_together", "product_id": "1", "beside": "bought_together"}, "beside:"),
        ({"shop": "a.example", "type": "related", "product_id": "1", "beside": "related"}, "beside:"),
        ({"shop": "a.example", "type": "related", "product_id": "1", **{f"utm{n}": "x" for n in range(40)}}, "query:"),
    ],
)
def test_bad_parameters_are_400_with_a_json_error(client, params, message):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_repeated_read_runs_no_sql_with_redis_and_reads_only_its_items_without(
    client, trained, django_assert_num_queries
):
    shop, _, anchor = trained
    first = get(client, shop=shop.domain, type="related", product_id=anchor)
    # Without a shared cache (the embedded mode) no process keeps facts another could change:
    # they are read on every request, for the list's own products only.
    shared = caches.shared_cache_enabled()
    with django_assert_num_queries(0 if shared else 1) as captured:
        second = get(client, shop=shop.domain, type="related", product_id=anchor)
    assert second.content == first.content
    assert second["Server-Timing"].startswith('list;desc="local"' if shared else 'list;desc="database"')
    if not shared:
        (query,) = captured.captured_queries
        assert f'FROM "shops_product" WHERE "shop_id" = {shop.pk} AND "id" IN (' in query["sql"]


def test_an_unpublished_product_leaves_the_lists_at_once(client, trained, django_capture_on_commit_callbacks):
    shop, _, anchor = trained
    shown = get(client, shop=shop.domain, type="bought_together", product_id=anchor).json()["items"][0]["product_id"]
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.get(external_id=shown)
        product_bulk_upsert(shop=shop, records=[dataclasses.replace(record_of(product), status="archived")])
    after = get(client, shop=shop.domain, type="bought_together", product_id=anchor).json()["items"]
    assert shown not in [item["product_id"] for item in after]


def test_lists_are_revalidated_on_every_use_and_an_unchanged_one_is_a_304(
    client, trained, django_capture_on_commit_callbacks
):
    shop, _, anchor = trained
    first = get(client, shop=shop.domain, type="bought_together", product_id=anchor)
    etag = first["ETag"]
    # Browsers and CDNs may keep the list, but must ask again before each use.
    assert first["Cache-Control"] == "public, no-cache" and etag.startswith('"')
    again = client.get(
        URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor}, HTTP_IF_NONE_MATCH=etag
    )
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert again["Access-Control-Allow-Origin"] == "*"
    # A change the merchant makes shows on the very next request: the tag no longer matches.
    shown = first.json()["items"][0]["product_id"]
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.get(external_id=shown)
        product_bulk_upsert(shop=shop, records=[dataclasses.replace(record_of(product), status="archived")])
    changed = client.get(
        URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor}, HTTP_IF_NONE_MATCH=etag
    )
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert shown not in [item["product_id"] for item in changed.json()["items"]]
    # Errors carry no tag to revalidate against.
    assert "ETag" not in get(client, shop=shop.domain, type="nope", product_id=anchor)


def test_a_deleted_product_leaves_the_lists_at_once_and_a_restore_brings_it_back(
    client, trained, django_capture_on_commit_callbacks
):
    shop, _, anchor = trained
    shown = get(client, shop=shop.domain, type="related", product_id=anchor).json()["items"][0]["product_id"]
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        assert product_bulk_delete(shop=shop, external_ids=[shown]) == 1
    after = get(client, shop=shop.domain, type="related", product_id=anchor).json()["items"]
    assert shown not in [item["product_id"] for item in after]
    with shop_scope(shop):
        product = Product.objects.get(external_id=shown)
        # The basket history stays: the row is kept, only marked deleted.
        assert product.status == "deleted"
    restored = dataclasses.replace(record_of(product), updated_at=product.updated_at + dt.timedelta(seconds=1))
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        product_bulk_upsert(shop=shop, records=[restored], skip_stale=True)
    again = get(client, shop=shop.domain, type="related", product_id=anchor).json()["items"]
    assert shown in [item["product_id"] for item in again]


def test_late_deliveries_change_nothing(trained):
    shop, demo, anchor = trained
    with shop_scope(shop):
        product = Product.objects.get(external_id=anchor)
        stamp = product.updated_at
        older = dataclasses.replace(record_of(product), title="Old title", updated_at=stamp - dt.timedelta(hours=1))
        product_bulk_upsert(shop=shop, records=[older], skip_stale=True)
        assert product_bulk_delete(shop=shop, external_ids=[anchor], deleted_at=stamp - dt.timedelta(hours=1)) == 0
        product.refresh_from_db()
    assert product.title != "Old title" and product.status == "published" and product.updated_at == stamp


def test_without_a_shared_cache_lists_come_from_the_database(client, trained, monkeypatch):
    shop, _, anchor = trained
    monkeypatch.setattr(caches, "shared_cache_enabled", lambda: False)
    storefront_memory_clear()
    response = get(client, shop=shop.domain, type="related", product_id=anchor)
    assert response.status_code == 200 and response.json()["items"]
    assert response["Server-Timing"].startswith('list;desc="database"')


def test_without_cache_and_database_it_fails_fast_with_503(client, trained, monkeypatch):
    shop, _, anchor = trained

    def database_down(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(caches, "shared_cache_enabled", lambda: False)
    monkeypatch.setattr("recommendations.storefront.service.Shop.objects.filter", database_down)
    storefront_memory_clear()
    response = get(client, shop=shop.domain, type="related", product_id=anchor)
    assert response.status_code == 503 and response.json()["error"]


def test_demo_product_links_lead_to_the_demo_product_page(client, settings):
    from django.core.management import call_command as run

    settings.DEMO_STOREFRONT = True
    run("demo", "--skip-online-retail", stdout=io.StringIO())
    with shop_scope(Shop.objects.get(domain="demo-store.localhost")):
        product = Product.objects.filter(status="published").order_by("pk").first()
    response = client.get(f"/products/{product.handle}")
    assert response.status_code == 302
    assert response["Location"] == f"/demo/demo-store.localhost/products/{product.external_id}"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'data-basketry="bought_together"' in page.content
    settings.DEMO_STOREFRONT = False
    assert client.get(f"/products/{product.handle}").status_code == 404
