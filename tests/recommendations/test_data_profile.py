"""The data profile counts what training will be able to use."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from recommendations.models import DataProfile
from recommendations.selectors import data_readiness_summary
from recommendations.services.data_profile import data_profile_refresh
from recommendations.tasks import data_profile_refresh as data_profile_refresh_task
from shops.models import Order
from shops.tenancy import shop_scope
from tests.factories import make_order, make_order_line, make_product


def build_history(shop):
    kettle, teapot, tea, draft = (
        make_product(shop),
        make_product(shop),
        make_product(shop, in_stock=False),
        make_product(shop, status="draft"),
    )
    start = timezone.now() - dt.timedelta(days=30)
    basket_a = make_order(shop, created_at=start, customer_ref=shop.customer_ref("1"))
    make_order_line(shop, order=basket_a, product=teapot)
    make_order_line(shop, order=basket_a, product=tea)
    basket_b = make_order(shop, created_at=start + dt.timedelta(days=10))  # guest
    make_order_line(shop, order=basket_b, product=kettle)
    make_order_line(shop, order=basket_b, product=kettle)  # same product twice: still one item
    basket_c = make_order(shop, created_at=start + dt.timedelta(days=20), customer_ref=shop.customer_ref("1"))
    make_order_line(shop, order=basket_c, product=kettle)
    make_order_line(shop, order=basket_c, product=tea)
    cancelled = make_order(shop, status=Order.Status.CANCELLED, customer_ref=shop.customer_ref("2"))
    make_order_line(shop, order=cancelled, product=draft)
    make_order_line(shop, order=cancelled, product=teapot)
    return start


@pytest.mark.django_db
def test_profile_counts_only_paid_orders(shop, other_shop):
    start = build_history(shop)
    build_history(other_shop)

    with shop_scope(shop):
        profile = data_profile_refresh(shop=shop)

    assert profile.paid_orders == 3
    assert profile.multi_item_orders == 2
    assert profile.order_lines == 6
    assert profile.customers == 1
    assert profile.guest_orders == 1
    assert (profile.products, profile.sellable_products, profile.products_with_sales) == (4, 2, 3)
    assert profile.first_order_at == start
    assert profile.last_order_at == start + dt.timedelta(days=20)
    assert data_readiness_summary(profile=profile).startswith("3 orders, 67% with 2+ items: bought-together needs")


@pytest.mark.django_db
def test_refresh_twice_keeps_one_profile(shop):
    build_history(shop)
    with shop_scope(shop):
        data_profile_refresh(shop=shop)
        make_order_line(shop, order=make_order(shop))
        profile = data_profile_refresh(shop=shop)
        assert DataProfile.objects.count() == 1
    assert profile.paid_orders == 4


@pytest.mark.django_db
def test_task_scopes_itself_and_ignores_a_deleted_shop(shop):
    build_history(shop)
    data_profile_refresh_task.delay(shop.pk)
    assert DataProfile.all_shops.get(shop=shop).paid_orders == 3

    shop_id = shop.pk
    shop.delete()
    data_profile_refresh_task.delay(shop_id)  # must not raise
    assert not DataProfile.all_shops.filter(shop_id=shop_id).exists()
