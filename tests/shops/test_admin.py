"""The operator admin lists every shop's data, read-only, and never shows secrets."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import make_order_line, make_product


@pytest.fixture
def operator_client(client, db):
    user = get_user_model().objects.create_superuser("operator", password="a-long-test-password")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_product_list_shows_all_shops_and_is_read_only(operator_client, shop, other_shop):
    make_product(shop, title="Alpha teapot")
    make_product(other_shop, title="Beta kettle")

    listing = operator_client.get("/admin/shops/product/")

    assert listing.status_code == 200
    assert b"Alpha teapot" in listing.content and b"Beta kettle" in listing.content
    assert operator_client.get("/admin/shops/product/add/").status_code == 403
    product = make_product(shop, title="Gamma cup")
    change = operator_client.post(f"/admin/shops/product/{product.pk}/change/", {"title": "Changed"})
    assert change.status_code == 403
    product.refresh_from_db()
    assert product.title == "Gamma cup"


@pytest.mark.django_db
def test_order_page_shows_its_lines(operator_client, shop):
    line = make_order_line(shop)
    page = operator_client.get(f"/admin/shops/order/{line.order.pk}/change/")
    assert page.status_code == 200
    assert line.product.title.encode() in page.content


@pytest.mark.django_db
def test_shop_page_never_shows_credentials_or_hash_key(operator_client, shop):
    shop.credentials = {"access_token": "shpat_very_secret"}
    shop.save(update_fields=["credentials"])

    page = operator_client.get(f"/admin/shops/shop/{shop.pk}/change/")

    assert page.status_code == 200
    assert b"shpat_very_secret" not in page.content
    assert shop.customer_ref_secret.encode() not in page.content
    assert operator_client.get("/admin/shops/shop/add/").status_code == 403


@pytest.mark.django_db
def test_experiments_are_listed_read_only(operator_client, shop, other_shop):
    from tests.factories import make_experiment

    mine = make_experiment(shop, name="Alpha test", salt="not-for-display")
    make_experiment(other_shop, name="Beta test")
    listing = operator_client.get("/admin/recommendations/experiment/")
    assert b"Alpha test" in listing.content and b"Beta test" in listing.content
    page = operator_client.get(f"/admin/recommendations/experiment/{mine.pk}/change/")
    assert page.status_code == 200 and b"not-for-display" not in page.content
    assert (
        operator_client.post(f"/admin/recommendations/experiment/{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    )
