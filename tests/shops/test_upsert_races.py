"""rows_upsert: the conditional upsert keeps values exact, touches only the scoped shop's rows,
and answers which rows it inserted, updated or left alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shops.bulk import rows_upsert
from shops.errors import ShopScopeError
from shops.models import Order
from shops.tenancy import shop_scope
from tests.factories import make_order

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
FIELDS = ("shop_id", "external_id", "created_at", "currency", "total", "status", "updated_at", "synced_at")


def _row(shop, external_id: str, status: str, stamp: dt.datetime | None) -> tuple:
    return (shop.pk, external_id, T0, "EUR", Decimal("10.50"), status, stamp, T0)


def _upsert(rows, **options):
    return rows_upsert(
        model=Order, fields=FIELDS, rows=rows, update_fields=("status", "updated_at"), if_newer="updated_at", **options
    )


@pytest.mark.django_db
def test_inserts_updates_newer_rows_only_and_says_which(shop):
    with shop_scope(shop):
        first = _upsert([_row(shop, "B", "pending", T0), _row(shop, "A", "pending", None)])
        ids = dict(Order.objects.values_list("external_id", "pk"))
        assert first == [("A", ids["A"], True), ("B", ids["B"], True)]

        later = T0 + dt.timedelta(minutes=1)
        second = _upsert(
            [
                _row(shop, "A", "paid", later),  # stored time empty: applies
                _row(shop, "B", "refunded", T0),  # as old as stored: left alone
                _row(shop, "C", "paid", later),
            ]
        )
        assert second == [("A", ids["A"], False), ("C", Order.objects.get(external_id="C").pk, True)]
        assert dict(Order.objects.values_list("external_id", "status")) == {"A": "paid", "B": "pending", "C": "paid"}
        assert Order.objects.get(external_id="B").total == Decimal("10.50")

        assert _upsert([_row(shop, "B", "refunded", T0)], ties_update=True) == [("B", ids["B"], False)]
        assert Order.objects.get(external_id="B").status == "refunded"


@pytest.mark.django_db
def test_another_shops_row_with_the_same_external_id_is_never_touched(shop, other_shop):
    theirs = make_order(other_shop, external_id="SAME", status="pending")
    with shop_scope(shop):
        written = _upsert([_row(shop, "SAME", "paid", T0)])
        assert [inserted for *_, inserted in written] == [True]
        with pytest.raises(ShopScopeError):
            _upsert([_row(other_shop, "SAME", "paid", T0 + dt.timedelta(days=1))])
    theirs.refresh_from_db()
    assert (theirs.status, Order.all_shops.filter(external_id="SAME").count()) == ("pending", 2)


@pytest.mark.django_db
def test_one_key_twice_in_a_batch_is_refused(shop):
    with shop_scope(shop), pytest.raises(ValueError, match="twice"):
        _upsert([_row(shop, "A", "paid", T0), _row(shop, "A", "paid", T0)])
    with pytest.raises(ShopScopeError):
        _upsert([])
