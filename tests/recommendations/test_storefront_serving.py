"""The storefront read path at catalogue size: a list read costs its own length, a product change
touches only that product, publishing warms the new version, the per-process memory is bounded."""

from __future__ import annotations

import dataclasses
import io
import re
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommendations.models import ModelVersion, RecommendationList
from recommendations.storefront import cache as caches
from recommendations.storefront import facts as serving_facts
from recommendations.storefront.cache import ShopMemory
from recommendations.storefront.service import storefront_memory_clear
from shops.models import Product, Shop
from shops.records import ProductRecord
from shops.services.catalog import product_bulk_upsert
from shops.tenancy import shop_scope
from tests.factories import demo_shop_trained
from tests.integrations.shopify.conftest import SECRET, signed_webhook

URL = "/api/storefront/v1/recommendations"
pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(shop):
    demo = demo_shop_trained(shop, seed=9, products=50, orders=900)
    storefront_memory_clear()
    return shop, demo.complementary_pairs[0][0]


def cold() -> None:
    """Nothing cached anywhere: this process's memory and the shared cache."""
    storefront_memory_clear()
    if caches.shared_cache_enabled():
        from django.core.cache import cache

        cache.clear()


def shown(client, shop, anchor, kind="bought_together") -> list[str]:
    response = client.get(URL, {"shop": shop.domain, "type": kind, "product_id": anchor, "limit": 24})
    assert response.status_code == 200
    return [item["product_id"] for item in response.json()["items"]]


def product_queries(queries) -> list[str]:
    return [query["sql"] for query in queries if '"shops_product"' in query["sql"]]


def test_a_read_asks_only_for_its_own_products_whatever_the_catalogue_size(client, trained, monkeypatch):
    # As for a shop too large for this process to hold whole: no pack, no whole-shop facts.
    monkeypatch.setattr(caches, "load_once", lambda key, work: None)
    shop, anchor = trained
    cold()
    with CaptureQueriesContext(connection) as small:
        first = shown(client, shop, anchor)
    # Two thousand more products, none of them in the list.
    with shop_scope(shop):
        product_bulk_upsert(
            shop=shop,
            records=[ProductRecord(external_id=f"extra-{n}", title=f"Extra {n}", price=1) for n in range(2000)],
        )
    cold()
    with CaptureQueriesContext(connection) as large:
        again = shown(client, shop, anchor)

    assert again == first
    assert len(large.captured_queries) == len(small.captured_queries)
    for sql in product_queries(large.captured_queries):
        # Every product query is the shop's and names its products (the anchor's id, the list's
        # pks): none reads the catalogue.
        assert re.search(rf'"shop_id" = {shop.pk} AND (p\.)?"(external_id|id)" IN \(', sql), sql


def test_a_product_out_of_stock_by_webhook_is_gone_on_the_next_read(
    client, settings, trained, django_capture_on_commit_callbacks
):
    shop, anchor = trained
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD = "key", SECRET, ""
    Shop.objects.filter(pk=shop.pk).update(platform=Shop.Platform.SHOPIFY, domain="serving.myshopify.com")
    shop.refresh_from_db()
    victim = shown(client, shop, anchor)[0]
    with shop_scope(shop):
        # Shopify's product ids are numbers.
        Product.objects.filter(external_id=victim).update(external_id="900001")
        product = Product.objects.get(external_id="900001")
    cold()
    victim = "900001"
    before = shown(client, shop, anchor)
    assert victim in before
    others = {pk: shown(client, shop, pk, "related") for pk in before[1:4]}
    payload = {
        "id": 900001,
        "title": product.title,
        "handle": product.handle,
        "status": "active",
        "product_type": product.category,
        "vendor": product.vendor,
        "tags": ", ".join(product.tags),
        "body_html": "",
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2099-01-06T10:00:00Z",
        "variants": [{"id": 1, "price": str(product.price), "inventory_quantity": 0, "inventory_policy": "deny"}],
    }

    with django_capture_on_commit_callbacks(execute=True):
        delivered = signed_webhook(client, topic="products/update", domain=shop.domain, payload=payload)
    assert delivered.status_code == 200, delivered.content

    with shop_scope(shop):
        assert Product.objects.get(pk=product.pk).in_stock is False
    assert victim not in shown(client, shop, anchor)
    for pk, items in others.items():
        # The other lists were not rebuilt: the same items, less the product that sold out.
        assert shown(client, shop, pk, "related") == [item for item in items if item != victim]


@pytest.mark.services("redis")
def test_a_change_another_process_announces_leaves_this_process_within_the_poll(client, trained):
    shop, anchor = trained
    victim = shown(client, shop, anchor)[0]
    with shop_scope(shop):
        product = Product.objects.get(external_id=victim)
        Product.objects.filter(pk=product.pk).update(in_stock=False)
    # Only the database changed: this process still holds the product as it was.
    assert victim in shown(client, shop, anchor)

    # What the writing process does when its transaction commits; this process only reads the feed.
    serving_facts._announce(shop.pk, [product.pk])
    time.sleep(serving_facts.FEED_POLL_SECONDS + 0.05)

    assert victim not in shown(client, shop, anchor)


def test_publishing_warms_the_new_version_before_it_goes_live(client, trained, django_capture_on_commit_callbacks):
    shop, anchor = trained
    with shop_scope(shop):
        old = ModelVersion.objects.get(status=ModelVersion.Status.LIVE)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("train", shop.domain, stdout=io.StringIO())
    with shop_scope(shop):
        new = ModelVersion.objects.get(status=ModelVersion.Status.LIVE)
    assert new.pk != old.pk
    storefront_memory_clear()

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor})

    assert response.status_code == 200 and response.json()["items"]
    # The version's pack was written with it: a process new to it reads no stored list.
    assert not [query for query in queries.captured_queries if RecommendationList._meta.db_table in query["sql"]]


def test_rules_apply_at_read_time_without_rebuilding_lists(client, trained, django_capture_on_commit_callbacks):
    from recommendations.services.rules import merchant_rule_create

    shop, anchor = trained
    before = shown(client, shop, anchor)
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        excluded = Product.objects.get(external_id=before[0])
        merchant_rule_create(shop=shop, kind="exclude", params={"product_ids": [excluded.pk]}, list_kinds=[])
    assert before[0] not in shown(client, shop, anchor)


def test_a_shop_deleted_by_another_process_is_gone_within_the_local_delay(client, trained):
    shop, anchor = trained
    assert shown(client, shop, anchor)
    # Another process redacts the shop: this one hears nothing.
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.UNINSTALLED)
    if caches.shared_cache_enabled():
        from django.core.cache import cache

        cache.delete(caches.state_key(shop.domain))
    time.sleep(caches.LOCAL_STATE_SECONDS + 0.05)

    response = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor})
    assert response.status_code == 404


def test_memory_is_bounded_per_shop_and_a_large_shop_cannot_push_out_the_others():
    memory = ShopMemory(entries=100, per_shop=60)
    for shop_id in (1, 2):
        for key in range(20):
            memory.set(shop_id, key, f"{shop_id}-{key}")
    for key in range(1000):
        memory.set(3, key, key)

    assert len(memory) <= 100
    # The large shop keeps at most its own bound; the small shops keep their hot entries.
    assert sum(memory.get(3, key) is not None for key in range(1000)) <= 60
    assert all(memory.get(shop_id, key) is not None for shop_id in (1, 2) for key in range(10, 20))


def test_unknown_and_foreign_products_are_dropped_from_a_list(client, trained, other_shop):
    shop, anchor = trained
    with shop_scope(other_shop):
        (foreign,) = [
            Product.objects.get(pk=pk)
            for pk in product_bulk_upsert(
                shop=other_shop, records=[ProductRecord(external_id="theirs-1", title="Theirs", price=5)]
            ).values()
        ]
    with shop_scope(shop):
        version = ModelVersion.objects.get(status=ModelVersion.Status.LIVE)
        anchor_pk = Product.objects.get(external_id=anchor).pk
        stored = RecommendationList.objects.get(version=version, kind="bought_together", anchor=str(anchor_pk))
        stored.items = [{"product_id": foreign.pk, "explanation": "Planted"}, *stored.items]
        stored.save(update_fields=["items"])
    cold()

    items = shown(client, shop, anchor)
    assert items and "theirs-1" not in items


def test_a_renamed_product_shows_its_new_title_in_the_same_place(client, trained, django_capture_on_commit_callbacks):
    shop, anchor = trained
    before = client.get(URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor}).json()["items"]
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.get(external_id=before[0]["product_id"])
        record = ProductRecord(
            external_id=product.external_id, title=product.title, price=product.price, category=product.category
        )
        product_bulk_upsert(shop=shop, records=[dataclasses.replace(record, title="Renamed")])
    after = client.get(URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor}).json()["items"]
    assert [item["product_id"] for item in after] == [item["product_id"] for item in before]
    assert after[0]["title"] == "Renamed" and after[1:] == before[1:]


@pytest.mark.services("redis")
def test_a_product_change_rebuilds_only_the_lists_that_show_it(client, trained, django_capture_on_commit_callbacks):
    shop, anchor = trained

    def timing(product_id):
        response = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": product_id, "limit": 24})
        return response["Server-Timing"], [item["product_id"] for item in response.json()["items"]]

    with shop_scope(shop):
        ids = list(Product.objects.filter(status="published", in_stock=True).values_list("external_id", flat=True))
    shown_lists = {product_id: timing(product_id)[1] for product_id in ids}
    victim = shown_lists[anchor][0]
    with shop_scope(shop), django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.get(external_id=victim)
        record = ProductRecord(
            external_id=victim, title=product.title, price=product.price, category=product.category, in_stock=False
        )
        product_bulk_upsert(shop=shop, records=[record])

    for product_id, before in shown_lists.items():
        if product_id == victim:
            continue
        header, items = timing(product_id)
        assert victim not in items
        if victim in before:
            # Built again from the product's new facts, the stored list itself still local.
            assert items == [item for item in before if item != victim][: len(items)]
        else:
            assert header.startswith('list;desc="local"') and items == before, product_id


@pytest.mark.services("redis")
def test_a_state_another_release_cached_is_read_afresh(client, trained):
    from django.core.cache import cache

    shop, anchor = trained
    cache.set(caches.state_key(shop.domain), {"shop_id": shop.pk, "generation": "0-abc", "currency": "EUR"}, 60)
    storefront_memory_clear()
    assert shown(client, shop, anchor)


def test_a_list_without_rules_is_served_as_the_rules_engine_would_serve_it():
    """The shortcut for lists no rule applies to gives exactly what `rules_apply` gives them."""
    import random

    from django.utils import timezone

    from recommendations.rules import rules_apply
    from recommendations.storefront.facts import ServingFact
    from recommendations.storefront.service import _cards, _sellable_cards

    rng = random.Random(5)
    for _ in range(300):
        facts = {
            pk: ServingFact(pk=pk, sellable=rng.random() > 0.3, card=b'{"product_id":"%d"' % pk)
            for pk in range(1, 30)
            if rng.random() > 0.1
        }
        items = tuple((rng.randrange(1, 32), rng.choice(["Often bought with this", "Similar"])) for _ in range(24))
        anchor_pk = rng.choice([None, *range(1, 30)])
        limit = rng.randrange(1, 25)
        expected = rules_apply(
            items=[{"product_id": pk, "explanation": why} for pk, why in items],
            list_kind="related",
            anchor=facts.get(anchor_pk) if anchor_pk is not None else None,
            rules=[],
            facts=facts,
            now=timezone.now(),
            limit=limit,
        )
        cards, examined = _sellable_cards(items, facts.get, limit=limit, anchor_pk=anchor_pk, complete=True)
        assert cards == _cards(expected, facts)
        # A lookup that holds only some products: the same cards when it held every product it
        # looked at (and those are what the cards depend on), else no answer.
        held = {pk: fact for pk, fact in facts.items() if rng.random() > 0.05}
        partial = _sellable_cards(items, held.get, limit=limit, anchor_pk=anchor_pk)
        if partial is None:
            assert any(pk not in held for pk, _ in items)
        else:
            assert partial[0] == cards
            assert all(pk in held for pk in partial[1])
            assert {int(card.split(b'"')[3]) for card in cards} <= set(partial[1])
