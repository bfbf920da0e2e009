"""Serving packs and whole-shop facts: a process serves a version's lists from its own memory,
exactly as stored, loads each once, keeps within its bounds, and never serves a half-switched
or stale version."""

from __future__ import annotations

import gc
import io
import sys
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommendations.models import ListKind, ModelVersion, RecommendationList, ServingPack
from recommendations.storefront import cache as caches
from recommendations.storefront import facts as serving_facts
from recommendations.storefront import packs
from recommendations.storefront.service import _lists_from_database, shop_state_get, storefront_memory_clear
from shops.models import Product
from shops.tenancy import shop_scope
from tests.factories import demo_shop_trained

URL = "/api/storefront/v1/recommendations"
pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(shop):
    demo = demo_shop_trained(shop, seed=11, products=60, orders=900)
    storefront_memory_clear()
    return shop, demo.complementary_pairs[0][0]


def listed(client, shop, product_id, kind="related") -> list[str]:
    response = client.get(URL, {"shop": shop.domain, "type": kind, "product_id": product_id, "limit": 24})
    assert response.status_code == 200
    return [item["product_id"] for item in response.json()["items"]]


def live_version(shop) -> ModelVersion:
    with shop_scope(shop):
        return ModelVersion.objects.get(status=ModelVersion.Status.LIVE)


def test_the_pack_holds_exactly_the_stored_lists(trained):
    shop, _ = trained
    state = shop_state_get(domain=shop.domain)
    with shop_scope(shop):
        data = bytes(ServingPack.objects.get(version_id=state.version_id).data)
        ids = list(Product.objects.values_list("external_id", flat=True))
    pack = packs.Pack(version_id=state.version_id, data=data)

    for kind in packs.PACKED_KINDS:
        stored = _lists_from_database(state, kind=kind, anchors=ids)
        assert any(items for _, items in stored.values()), kind
        for product_id in ids:
            # A product the version has no list of this kind for reads (its pk, None) either way.
            assert pack.entry(kind, product_id) == stored[product_id], (kind, product_id)
    assert pack.popular() == _lists_from_database(state, kind=ListKind.POPULAR, anchors=[""])[""][1]
    assert pack.entry(ListKind.RELATED, "no-such-product") is None


def test_a_process_reads_a_version_once_and_then_no_list_at_all(client, trained):
    shop, anchor = trained
    with shop_scope(shop):
        ids = list(Product.objects.filter(status="published").values_list("external_id", flat=True)[:12])
        size = len(ServingPack.objects.get(version=live_version(shop)).data)
    with CaptureQueriesContext(connection) as first:
        listed(client, shop, anchor)
    with CaptureQueriesContext(connection) as later:
        for product_id in ids:
            listed(client, shop, product_id)
            listed(client, shop, product_id, "bought_together")

    pack_reads = [q for q in first.captured_queries if ServingPack._meta.db_table in q["sql"]]
    assert len(pack_reads) == 1 + -(-size // packs.PACK_READ_BYTES)  # its size, then its parts
    assert not [q for q in first.captured_queries if RecommendationList._meta.db_table in q["sql"]]
    assert not [
        q
        for q in later.captured_queries
        if RecommendationList._meta.db_table in q["sql"] or ServingPack._meta.db_table in q["sql"]
    ]
    if caches.shared_cache_enabled():
        # Facts too are this process's own (the feed says when one changed): no statement at all.
        assert later.captured_queries == []


def test_a_pack_read_in_parts_is_the_pack_stored(trained, other_shop, monkeypatch):
    shop, _ = trained
    version = live_version(shop)
    with shop_scope(shop):
        stored = bytes(ServingPack.objects.get(version=version).data)
    monkeypatch.setattr(packs, "PACK_READ_BYTES", 997)  # a size that does not divide it
    with CaptureQueriesContext(connection) as queries:
        assert packs._pack_read(shop.pk, version.pk) == stored
    assert len(queries.captured_queries) == 1 + -(-len(stored) // 997)
    # Read as another shop's, the version's pack is not found.
    assert packs._pack_read(other_shop.pk, version.pk) is None


def test_a_pack_that_goes_while_it_is_read_is_not_kept(trained, monkeypatch):
    shop, _ = trained
    version = live_version(shop)
    monkeypatch.setattr(packs, "PACK_READ_BYTES", 512)
    parts = []

    def retired_after_the_first_part(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if ServingPack._meta.db_table in sql and "SUBSTR" in sql.upper():
            parts.append(sql)
            if len(parts) == 1:
                with connection.cursor() as cursor:  # as a training retiring the version would
                    cursor.execute(f'DELETE FROM "{ServingPack._meta.db_table}" WHERE "version_id" = %s', [version.pk])
        return result

    with connection.execute_wrapper(retired_after_the_first_part):
        packs._pack_load(shop.pk, version.pk)
    assert len(parts) == 2
    assert packs.packs_held() == {}


def test_after_publishing_the_previous_pack_answers_until_the_new_one_is_in(
    client, trained, django_capture_on_commit_callbacks
):
    shop, anchor = trained
    before = listed(client, shop, anchor)
    old = live_version(shop)
    assert packs.packs_held() == {shop.pk: old.pk}
    with shop_scope(shop):
        # The next version's related list of the anchor differs, so that what answers is visible.
        anchor_pk = Product.objects.get(external_id=anchor).pk
    with django_capture_on_commit_callbacks(execute=True):
        call_command("train", shop.domain, stdout=io.StringIO())
    new = live_version(shop)
    assert new.pk != old.pk
    with shop_scope(shop):
        stored = RecommendationList.objects.get(version=new, kind="related", anchor=str(anchor_pk))
        stored.items = list(reversed(stored.items))
        stored.save(update_fields=["items"])
        external = dict(Product.objects.values_list("pk", "external_id"))
        lists = {
            kind: {row.anchor: row.items for row in RecommendationList.objects.filter(version=new, kind=kind)}
            for kind in (*packs.PACKED_KINDS, ListKind.POPULAR)
        }
        ServingPack.objects.filter(version=new).update(
            data=packs.pack_build(lists=lists, external=external, items_kept=60)
        )
    # The new version's pack is on its way (its load is running): the old one answers, whole.
    loading = ("pack", shop.pk, new.pk)
    caches._loads[loading] = None
    assert listed(client, shop, anchor) == before

    packs._pack_load(shop.pk, new.pk)
    caches._loads[loading] = time.monotonic()
    after = listed(client, shop, anchor)
    assert packs.packs_held() == {shop.pk: new.pk}
    assert after and after != before


def test_a_version_without_a_pack_is_served_list_by_list(client, trained):
    shop, anchor = trained
    before = listed(client, shop, anchor)
    with shop_scope(shop):
        ServingPack.objects.all().delete()
    storefront_memory_clear()

    with CaptureQueriesContext(connection) as queries:
        assert listed(client, shop, anchor) == before
    assert packs.packs_held() == {}
    assert [q for q in queries.captured_queries if RecommendationList._meta.db_table in q["sql"]]


def test_a_pack_over_the_shops_bound_is_not_held_and_the_lists_still_answer(client, trained, monkeypatch):
    shop, anchor = trained
    before = listed(client, shop, anchor)
    storefront_memory_clear()
    monkeypatch.setattr(packs, "PACK_BYTES_PER_SHOP", 1000)

    assert listed(client, shop, anchor) == before
    assert packs.packs_held() == {}


class _Sized:
    def __init__(self, version_id: int, nbytes: int) -> None:
        self.version_id, self.nbytes = version_id, nbytes


def test_packs_are_bounded_and_the_least_recently_used_shop_goes_first(monkeypatch):
    monkeypatch.setattr(packs, "PACK_BYTES", 1000)
    packs.packs_clear()
    try:
        for shop_id in (1, 2, 3):
            packs._install(shop_id, 10, _Sized(10, 300))
        assert packs.pack_of(1, 10) is not None  # shop 1 was read last: shop 2 is the oldest now
        packs._install(4, 10, _Sized(10, 300))
        assert set(packs.packs_held()) == {1, 3, 4}
        # A newer version replaces the shop's pack; an older one arriving late does not.
        packs._install(3, 11, _Sized(11, 300))
        packs._install(3, 10, _Sized(10, 300))
        assert packs.packs_held()[3] == 11
        assert packs._packs_bytes[0] == 900
    finally:
        packs.packs_clear()


@pytest.mark.services("redis")
def test_whole_shop_facts_drop_a_change_announced_while_they_loaded(client, trained, monkeypatch):
    shop, anchor = trained
    victim_id = listed(client, shop, anchor)[0]
    with shop_scope(shop):
        victim = Product.objects.get(external_id=victim_id)
    storefront_memory_clear()
    read = serving_facts._facts_from_database

    def read_then_another_process_changes(shop_id, pks, *, shop_currency, paced=True):
        facts = read(shop_id, pks, shop_currency=shop_currency, paced=paced)
        if pks is None:  # the whole-shop load: the product sells out once the statement has read it
            with shop_scope(shop_id):
                Product.objects.filter(pk=victim.pk).update(in_stock=False)
            serving_facts._announce(shop_id, [victim.pk])
        return facts

    monkeypatch.setattr(serving_facts, "_facts_from_database", read_then_another_process_changes)
    assert victim_id not in listed(client, shop, anchor)
    held = serving_facts._bulk_get(shop.pk)
    assert held is not None and victim.pk not in held and len(held) > 1


@pytest.mark.django_db(transaction=True)
def test_a_pack_loads_in_the_background_while_lists_answer_one_by_one(client, shop, monkeypatch):
    demo = demo_shop_trained(shop, seed=12, products=40, orders=500)
    anchor = demo.complementary_pairs[0][0]
    storefront_memory_clear()
    monkeypatch.setattr(caches, "BACKGROUND_LOADS", True)
    gate, original = threading.Event(), packs._pack_load
    collector_during_load, interval_during_load = [], []
    frozen_before, interval_before = gc.get_freeze_count(), sys.getswitchinterval()

    def held_back(shop_id, version_id):
        assert gate.wait(10)
        collector_during_load.append(gc.isenabled())
        interval_during_load.append(sys.getswitchinterval())
        original(shop_id, version_id)

    monkeypatch.setattr(packs, "_pack_load", held_back)
    before = listed(client, shop, anchor)  # from the stored lists while the pack loads
    assert packs.packs_held() == {}
    gate.set()
    deadline = time.monotonic() + 10
    while not packs.packs_held() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert packs.packs_held() == {shop.pk: live_version(shop).pk}
    assert listed(client, shop, anchor) == before
    # Every load (the pack's, the facts') has ended and closed its connection before the test ends.
    while any(ended is None for ended in caches._loads.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(ended is None for ended in caches._loads.values())
    # The collector waited for the loads, and what they brought is left out of its later passes.
    assert collector_during_load == [False]
    assert gc.isenabled()
    # Meanwhile a request thread got the interpreter back within a fraction of a millisecond.
    assert interval_during_load[0] <= caches.LOAD_SWITCH_INTERVAL < interval_before
    assert sys.getswitchinterval() == interval_before
    assert gc.get_freeze_count() > frozen_before
    gc.unfreeze()


def test_a_training_that_keeps_a_live_version_without_a_pack_gives_it_one(client, trained, monkeypatch):
    from recommendations.services.training import _Trainer

    shop, anchor = trained
    live = live_version(shop)
    before = listed(client, shop, anchor)
    with shop_scope(shop):
        ServingPack.objects.all().delete()  # as for a version published before packs existed
    storefront_memory_clear()
    monkeypatch.setattr(_Trainer, "_decide", lambda self, evaluation, live, orders_seen: (False, "kept (test)"))

    call_command("train", shop.domain, stdout=io.StringIO())

    assert live_version(shop).pk == live.pk
    with shop_scope(shop):
        assert ServingPack.objects.filter(version=live).count() == 1
    storefront_memory_clear()
    with CaptureQueriesContext(connection) as queries:
        assert listed(client, shop, anchor) == before
    assert not [q for q in queries.captured_queries if RecommendationList._meta.db_table in q["sql"]]
    assert packs.packs_held() == {shop.pk: live.pk}


def test_a_process_warms_up_with_the_live_shops_before_it_serves(client, trained, monkeypatch):
    from recommendations.storefront.warm import storefront_warm

    shop, anchor = trained
    try:
        assert storefront_warm(seconds=0) == {}  # STOREFRONT_WARM_SECONDS=0: no warming
        assert storefront_warm() == {shop.pk: live_version(shop).pk}
        # The facts too, where they can be checked against the change feed (with Redis).
        assert (serving_facts._bulk_get(shop.pk) is not None) == caches.shared_cache_enabled()
        monkeypatch.setattr(caches, "load_once", lambda key, work: pytest.fail(f"loaded on a request: {key}"))
        response = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor})
        assert response.status_code == 200 and response.json()["items"]
        if caches.shared_cache_enabled():
            assert response["Server-Timing"].startswith('list;desc="local"')
        monkeypatch.undo()

        # Within the process's bounds only, and never for a shop that left.
        storefront_memory_clear()
        monkeypatch.setattr(packs, "PACK_BYTES", 100)
        assert storefront_warm() == {}
        monkeypatch.undo()
        shop.status = shop.Status.UNINSTALLED
        shop.save(update_fields=["status"])
        storefront_memory_clear()
        assert storefront_warm() == {}
    finally:
        gc.unfreeze()
