"""Shared set-up for the dashboard page tests: a small trained shop and a signed-in client."""

from __future__ import annotations

from shops.dashboard.access import dashboard_link_create
from tests.factories import demo_shop_trained, make_shop


def trained_demo_shop(domain: str, *, seed: int = 6, products: int = 40, orders: int = 600, platform: str = "csv"):
    shop = make_shop(domain=domain, platform=platform)
    return shop, demo_shop_trained(shop, seed=seed, products=products, orders=orders)


def sign_in(client, shop) -> None:
    response = client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])
    assert response.status_code == 302
