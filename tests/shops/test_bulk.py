"""rows_insert: the fast path for order lines keeps values exact and the tenancy rule intact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shops.bulk import rows_insert
from shops.errors import ShopScopeError
from shops.models import OrderLine
from shops.tenancy import shop_scope
from tests.factories import make_order, make_product

FIELDS = ("shop_id", "order_id", "product_id", "variant_id", "quantity", "unit_price")


@pytest.mark.django_db
def test_values_survive_the_round_trip_including_awkward_text(shop):
    order, product = make_order(shop), make_product(shop)
    awkward = "tab\there\nnew line \\ backslash \\N"
    with shop_scope(shop):
        inserted = rows_insert(
            model=OrderLine,
            fields=FIELDS,
            rows=[
                (shop.pk, order.pk, product.pk, awkward, 3, Decimal("0.0010")),
                (shop.pk, order.pk, None, "", 1, Decimal("12.5")),
            ],
        )
        stored = list(
            OrderLine.objects.order_by("pk").values_list("variant_id", "quantity", "unit_price", "product_id")
        )
    assert inserted == 2
    assert stored == [(awkward, 3, Decimal("0.0010"), product.pk), ("", 1, Decimal("12.5"), None)]


@pytest.mark.django_db
def test_rows_of_another_shop_are_refused_and_nothing_is_written(shop, other_shop):
    order, product = make_order(other_shop), make_product(other_shop)
    with shop_scope(shop):
        with pytest.raises(ShopScopeError):
            rows_insert(model=OrderLine, fields=FIELDS, rows=[(other_shop.pk, order.pk, product.pk, "", 1, Decimal(1))])
    assert OrderLine.all_shops.count() == 0


@pytest.mark.django_db
def test_needs_a_scope(shop):
    with pytest.raises(ShopScopeError):
        rows_insert(model=OrderLine, fields=FIELDS, rows=[])
