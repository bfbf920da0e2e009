"""Concurrent writes of one product or order: webhooks of one object arrive at once and in any
order (Shopify's orders/create, orders/paid and orders/updated within a second), so the row must
end as the newest platform change says, whatever the commit order, with no unique violation."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, transaction

from integrations.writes import orders_write, products_write
from shops.models import Order, OrderLine, Product
from shops.records import OrderLineRecord, OrderRecord, OrderStatus, ProductRecord, ProductStatus
from shops.services.catalog import product_bulk_upsert
from shops.tenancy import shop_scope
from tests.factories import make_shop

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
ROUNDS = 6


def _race(shop, calls: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Run each call in its own thread, on its own connection and transaction, started together."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(position: int, call: Callable[[], object]) -> None:
        try:
            with shop_scope(shop):
                start.wait()
                with transaction.atomic():
                    results[position] = call()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a writer hung (deadlock?)"
    return results, errors


def _products(shop, external_ids: list[str]) -> None:
    with shop_scope(shop):
        product_bulk_upsert(
            shop=shop,
            records=[
                ProductRecord(external_id=external_id, title=external_id, price=Decimal("5"), updated_at=T0)
                for external_id in external_ids
            ],
        )


def _order_write(shop, record: OrderRecord, stamp: dt.datetime) -> Callable[[], tuple[int, int]]:
    return lambda: orders_write(shop=shop, records=[record], updated_at={record.external_id: stamp}, titles={})


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_order_end_with_the_newest():
    shop = make_shop()
    catalogue = [f"P{i}" for i in range(6)]
    _products(shop, catalogue)
    rng = random.Random(12)
    orders_per_round = 6
    for round_number in range(ROUNDS):
        expected: dict[str, tuple] = {}
        calls = []
        for position in range(orders_per_round):
            external_id = f"R{round_number}-O{position}"
            placed = T0 + dt.timedelta(hours=round_number)
            offsets = rng.sample(range(1, 60), 3)
            deliveries = []
            for topic, status, offset in zip(
                ("create", "paid", "updated"),
                (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PAID),
                offsets,
                strict=True,
            ):
                lines = tuple(
                    OrderLineRecord(product_external_id=product, quantity=rng.randint(1, 4), unit_price=Decimal("5"))
                    for product in rng.sample(catalogue, rng.randint(1, 3))
                )
                record = OrderRecord(
                    external_id=external_id,
                    created_at=placed,
                    lines=lines,
                    status=status,
                    total=Decimal(offset),
                    experiment_mark=f"{offset}:A" if topic == "updated" else "",
                )
                deliveries.append((placed + dt.timedelta(seconds=offset), record))
            stamp, newest = max(deliveries, key=lambda delivery: delivery[0])
            expected[external_id] = (
                newest.status,
                newest.total,
                {(line.product_external_id, line.quantity) for line in newest.lines},
                stamp,
                newest.experiment_mark,
            )
            calls += [_order_write(shop, record, stamp) for stamp, record in deliveries]
        rng.shuffle(calls)

        results, errors = _race(shop, calls)

        assert errors == [], f"round {round_number}: {errors!r}"
        with shop_scope(shop):
            for external_id, (status, total, lines, stamp, mark) in expected.items():
                orders = list(Order.objects.filter(external_id=external_id))
                assert len(orders) == 1, external_id
                order = orders[0]
                assert (order.status, order.total, order.updated_at, order.experiment_arm) == (
                    status,
                    total,
                    stamp,
                    mark,
                ), external_id
                stored_lines = {
                    (line.product.external_id, line.quantity)
                    for line in OrderLine.objects.filter(order=order).select_related("product")
                }
                assert stored_lines == lines, external_id
        # Each order was created by exactly one of its deliveries; the others updated it or were
        # stale (which is how a delivery ends IGNORED).
        assert sum(created for created, _ in results) == orders_per_round
        assert all(created + updated <= 1 for created, updated in results)


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_of_one_product_end_with_the_newest_and_time_never_goes_back():
    shop = make_shop()
    rng = random.Random(7)
    external_ids = [f"P{i}" for i in range(8)]
    for round_number in range(ROUNDS):
        # The first round creates the products in the race; later rounds update them.
        base = T0 + dt.timedelta(hours=round_number)
        with shop_scope(shop):
            before = dict(Product.objects.values_list("external_id", "updated_at"))
        versions: dict[str, list[ProductRecord]] = {}
        calls = []
        for external_id in external_ids:
            offsets = rng.sample(range(1, 3600), 3)
            versions[external_id] = [
                ProductRecord(
                    external_id=external_id,
                    title=f"{external_id} v{offset}",
                    price=Decimal(offset),
                    in_stock=offset % 2 == 0,
                    updated_at=base + dt.timedelta(seconds=offset),
                )
                for offset in offsets
            ]
            for record in versions[external_id]:
                calls.append(lambda record=record: product_bulk_upsert(shop=shop, records=[record], skip_stale=True))
        # A sync page carrying every product at once, older than some webhooks and newer than others.
        sync_page = [
            ProductRecord(
                external_id=external_id,
                title=f"{external_id} sync",
                price=Decimal("1"),
                updated_at=base + dt.timedelta(seconds=1800),
            )
            for external_id in external_ids
        ]
        for record in sync_page:
            versions[record.external_id].append(record)
        calls.append(lambda sync_page=sync_page: products_write(shop=shop, records=sync_page))
        rng.shuffle(calls)

        _, errors = _race(shop, calls)

        assert errors == [], f"round {round_number}: {errors!r}"
        with shop_scope(shop):
            stored = {product.external_id: product for product in Product.objects.all()}
        assert set(stored) == set(external_ids)
        for external_id, records in versions.items():
            newest = max(records, key=lambda record: record.updated_at)
            product = stored[external_id]
            assert (product.title, product.price, product.in_stock, product.updated_at) == (
                newest.title,
                newest.price,
                newest.in_stock,
                newest.updated_at,
            ), external_id
            assert product.updated_at >= before.get(external_id, product.updated_at)


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_an_order_lines_placeholder_racing_the_real_product_never_wins():
    shop = make_shop()
    for round_number in range(ROUNDS * 2):
        product_ids = [f"NEW{round_number}-{i}" for i in range(3)]
        real = [
            ProductRecord(
                external_id=external_id,
                title=f"Real {external_id}",
                price=Decimal("19.90"),
                category="shoes",
                updated_at=T0 + dt.timedelta(minutes=round_number),
            )
            for external_id in product_ids
        ]
        orders = [
            OrderRecord(
                external_id=f"R{round_number}-O{i}",
                created_at=T0,
                lines=(OrderLineRecord(product_external_id=external_id, quantity=1, unit_price=Decimal("18")),),
            )
            for i, external_id in enumerate(product_ids)
        ]
        calls = [
            *(
                lambda record=record: product_bulk_upsert(shop=shop, records=[record], skip_stale=True)
                for record in real
            ),
            *(
                lambda order=order: orders_write(
                    shop=shop, records=[order], updated_at={order.external_id: T0}, titles={}
                )
                for order in orders
            ),
        ]
        random.Random(round_number).shuffle(calls)

        _, errors = _race(shop, calls)

        assert errors == [], f"round {round_number}: {errors!r}"
        with shop_scope(shop):
            for record, order in zip(real, orders, strict=True):
                products = list(Product.objects.filter(external_id=record.external_id))
                assert len(products) == 1
                product = products[0]
                assert (product.title, product.price, product.status, product.category) == (
                    record.title,
                    record.price,
                    ProductStatus.PUBLISHED,
                    "shoes",
                )
                line = OrderLine.objects.get(order__external_id=order.external_id)
                assert line.product_id == product.pk


@pytest.mark.django_db
def test_writes_in_any_order_keep_the_newest_on_every_backend():
    """The same rules single-threaded, so that the embedded SQLite mode is held to them too."""
    shop = make_shop()
    _products(shop, ["A", "B"])
    newest, middle, oldest = (T0 + dt.timedelta(minutes=m) for m in (30, 20, 10))

    def order(status: str, product: str, quantity: int) -> OrderRecord:
        return OrderRecord(
            external_id="O1",
            created_at=T0,
            status=status,
            lines=(OrderLineRecord(product_external_id=product, quantity=quantity, unit_price=Decimal("5")),),
        )

    with shop_scope(shop):
        write = lambda record, stamp: orders_write(  # noqa: E731
            shop=shop, records=[record], updated_at={"O1": stamp}, titles={}
        )
        assert write(order(OrderStatus.PAID, "A", 2), middle) == (1, 0)
        assert write(order(OrderStatus.PENDING, "B", 1), oldest) == (0, 0)
        assert write(order(OrderStatus.PAID, "A", 2), middle) == (0, 0)
        assert write(order(OrderStatus.REFUNDED, "B", 3), newest) == (0, 1)
        stored = Order.objects.get(external_id="O1")
        assert (stored.status, stored.updated_at, stored.total) == (OrderStatus.REFUNDED, newest, Decimal("15"))
        assert [(line.product.external_id, line.quantity) for line in stored.lines.all()] == [("B", 3)]

        def product(title: str, stamp: dt.datetime, external_id: str = "C") -> ProductRecord:
            return ProductRecord(external_id=external_id, title=title, price=Decimal("9"), updated_at=stamp)

        product_bulk_upsert(shop=shop, records=[product("middle", middle)], skip_stale=True)
        product_bulk_upsert(shop=shop, records=[product("oldest", oldest)], skip_stale=True)
        assert Product.objects.values_list("title", "updated_at").get(external_id="C") == ("middle", middle)
        # A sync re-reading an unchanged product still marks it seen.
        seen = Product.objects.get(external_id="C").synced_at
        product_bulk_upsert(shop=shop, records=[product("middle", middle)], skip_stale=True)
        assert Product.objects.get(external_id="C").synced_at > seen
        product_bulk_upsert(shop=shop, records=[product("newest", newest)], skip_stale=True)
        assert Product.objects.values_list("title", "updated_at").get(external_id="C") == ("newest", newest)

        # An order line naming a product not synced yet leaves a hidden placeholder, which never
        # overwrites a real product and which the real product replaces.
        placeholder_order = OrderRecord(
            external_id="O2",
            created_at=T0,
            lines=(
                OrderLineRecord(product_external_id="C", quantity=1, unit_price=Decimal("1")),
                OrderLineRecord(product_external_id="D", quantity=1, unit_price=Decimal("7")),
            ),
        )
        orders_write(shop=shop, records=[placeholder_order], updated_at={"O2": newest}, titles={"C": "from a line"})
        assert Product.objects.get(external_id="C").title == "newest"
        assert Product.objects.values_list("status", "price").get(external_id="D") == (ProductStatus.DRAFT, 7)
        product_bulk_upsert(shop=shop, records=[product("real D", oldest, "D")], skip_stale=True)
        assert Product.objects.values_list("title", "status").get(external_id="D") == (
            "real D",
            ProductStatus.PUBLISHED,
        )
        assert Product.objects.filter(external_id="D").count() == 1
