"""The merchant dashboard: signed links, the session, the overview, one shop only."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from integrations.models import SyncRun
from shops.dashboard.access import dashboard_link_create
from shops.tenancy import shop_scope
from tests.factories import make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained_shop():
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load

    shop = make_shop(domain="dash.example", platform="woocommerce")
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo_shop_generate(seed=6, product_count=40, order_count=600))
        SyncRun.objects.create(shop=shop, kind="full", status="succeeded", products_synced=40, orders_synced=600)
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop


def test_a_signed_link_opens_the_shops_overview(client, trained_shop):
    link = dashboard_link_create(shop_id=trained_shop.pk)
    entered = client.get("/dashboard/enter?token=" + link.split("token=", 1)[1])
    assert entered.status_code == 302 and entered["Location"] == "/dashboard/"

    page = client.get("/dashboard/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "dash.example" in html and "600 orders" in html
    assert "Serving version 1" in html and "Frequently bought together" in html
    assert "Impressions" in html and "Click-through rate" in html


def test_no_session_or_a_bad_link_shows_nothing(client, trained_shop):
    assert client.get("/dashboard/").status_code == 403
    link = dashboard_link_create(shop_id=trained_shop.pk)
    token = link.split("token=", 1)[1]
    tampered = client.get(f"/dashboard/enter?token={token[:-2]}xx")
    assert tampered.status_code == 403 and "not valid" in tampered.content.decode()
    assert client.get("/dashboard/").status_code == 403


def test_a_link_expires(client, trained_shop, monkeypatch):
    link = dashboard_link_create(shop_id=trained_shop.pk, lifetime=120)
    later = time.time() + 121
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = client.get("/dashboard/enter?token=" + link.split("token=", 1)[1])
    assert response.status_code == 403 and "expired" in response.content.decode()


def test_the_session_shows_one_shop_whatever_the_query_says(client, trained_shop):
    other = make_shop(domain="someone-else.example", platform="woocommerce")
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=trained_shop.pk).split("token=", 1)[1])
    html = client.get("/dashboard/", {"shop": other.domain, "shop_id": other.pk}).content.decode()
    assert "dash.example" in html and "someone-else.example" not in html


def test_the_plugin_gets_a_link_for_its_own_store(client, trained_shop):
    from integrations.woocommerce.views import plugin_signature
    from recommendations.storefront.identity import CREDENTIALS_KEY

    trained_shop.credentials = {CREDENTIALS_KEY: "d" * 64}
    trained_shop.save()
    timestamp = str(int(time.time()))
    path = "/api/plugin/v1/dashboard-link"
    signature = plugin_signature(key="d" * 64, timestamp=timestamp, method="POST", path=path, body=b"")
    response = client.post(
        path,
        data=b"",
        content_type="application/json",
        headers={
            "X-Basketry-Shop": "dash.example",
            "X-Basketry-Timestamp": timestamp,
            "X-Basketry-Signature": signature,
        },
    )
    assert response.status_code == 200
    entered = client.get("/dashboard/enter?token=" + response.json()["url"].split("token=", 1)[1])
    assert entered.status_code == 302
    assert "dash.example" in client.get("/dashboard/").content.decode()


def test_orders_roll_up_counts_attributed_orders_and_line_revenue(trained_shop):
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from recommendations.services.insights import insights_daily_get, orders_roll_up
    from tests.factories import make_order, make_order_line, make_product

    day = timezone.now().date() - dt.timedelta(days=400)  # a day without demo orders
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12)), dt.UTC)
    with shop_scope(trained_shop):
        product = make_product(trained_shop)
        with_block = make_order(trained_shop, created_at=moment, total=Decimal("30.00"))
        make_order_line(
            trained_shop,
            order=with_block,
            product=product,
            quantity=2,
            unit_price=Decimal("5.00"),
            source_block="bought_together",
        )
        make_order_line(trained_shop, order=with_block, product=product, quantity=1, unit_price=Decimal("20.00"))
        make_order(trained_shop, created_at=moment, total=Decimal("10.00"))
        make_order(trained_shop, created_at=moment, total=Decimal("99.00"), status="cancelled")

        rollup = orders_roll_up(shop=trained_shop, day=day)
        again = orders_roll_up(shop=trained_shop, day=day)
        row = next(
            r
            for r in insights_daily_get(shop=trained_shop, days=401, today=day + dt.timedelta(days=1))
            if r["day"] == day
        )

    assert (rollup.orders, rollup.widget_orders) == (2, 1) and again.pk == rollup.pk
    assert rollup.revenue == Decimal("40.00") and rollup.attributed_revenue == Decimal("10.00")
    assert row["aov_with"] == Decimal("30.00") and row["aov_without"] == Decimal("10.00")


def test_the_insights_page_explains_attribution_and_lists_the_days(client, trained_shop):
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=trained_shop.pk).split("token=", 1)[1])
    html = client.get("/dashboard/insights").content.decode()
    assert 'What "attributed" means' in html
    daily = html.split('id="daily-figures"', 1)[1].split("</table>", 1)[0]
    assert daily.count("<tr>") == 31  # the header row and 30 days
    from django.test import Client

    assert Client().get("/dashboard/insights").status_code == 403  # no session, no figures


def test_gini_of_impressions():
    from shops.dashboard.selectors import _gini

    assert _gini([5, 5, 5, 5]) == 0
    assert _gini([0, 0, 0, 12]) == pytest.approx(0.75)
    assert _gini([]) == 0 and _gini([0, 0]) == 0


def test_the_privacy_page_shows_what_is_held_requests_and_exposure(client, trained_shop):
    import datetime as dt

    from django.utils import timezone

    from integrations.models import PrivacyRequest
    from recommendations.models import EventDailyRollup
    from shops.models import Product

    with shop_scope(trained_shop):
        PrivacyRequest.objects.create(
            shop=trained_shop, kind="customer_redact", customer_ref="f" * 64, completed_at=timezone.now()
        )
        shown = list(
            Product.objects.filter(status="published", in_stock=True).values_list("external_id", flat=True)[:2]
        )
        for external, count in zip(shown, (90, 10), strict=True):
            EventDailyRollup.objects.create(
                shop=trained_shop,
                day=timezone.now().date() - dt.timedelta(days=1),
                block="related",
                kind="impression",
                product_external_id=external,
                count=count,
            )
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=trained_shop.pk).split("token=", 1)[1])

    html = client.get("/dashboard/privacy").content.decode()

    assert "No names, emails, phone numbers or addresses" in html
    assert "Customer redaction" in html and "pending" not in html
    assert "100 impressions" in html and "had\n    100% of them" in html
    assert "% coverage" in html and "By category" in html and "Diversity setting: <strong>none</strong>" in html
