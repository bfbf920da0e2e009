"""Shared set-up for the dashboard page tests: a small trained shop and a signed-in client."""

from __future__ import annotations

import io

from django.core.management import call_command

from shops.dashboard.access import dashboard_link_create
from shops.tenancy import shop_scope
from tests.factories import make_shop


def trained_demo_shop(domain: str, *, seed: int = 6, products: int = 40, orders: int = 600, platform: str = "csv"):
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load

    shop = make_shop(domain=domain, platform=platform)
    demo = demo_shop_generate(seed=seed, product_count=products, order_count=orders)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop, demo


def sign_in(client, shop) -> None:
    response = client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])
    assert response.status_code == 302
