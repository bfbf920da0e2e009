"""The Recommendations page: search, the lists as the storefront shows them, a customer's
personal picks, and pin / exclude / never-pair straight from a list; one shop only."""

from __future__ import annotations

import pytest

from recommendations.models import MerchantRule
from shops.models import Order, Product
from shops.tenancy import shop_scope
from tests.shops.dashboard_fixtures import sign_in, trained_demo_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_and_demo():
    return trained_demo_shop("recs.example", seed=8)


def storefront(client, shop, product_id: str, kind: str) -> list[str]:
    response = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": kind, "product_id": product_id}
    )
    return [item["product_id"] for item in response.json()["items"]]


def product(shop, external_id: str) -> Product:
    with shop_scope(shop):
        return Product.objects.get(external_id=external_id)


def test_search_finds_products_by_title_and_id(client, shop_and_demo):
    shop, demo = shop_and_demo
    target = demo.products[3]
    sign_in(client, shop)
    word = target.title.split()[-1]
    html = client.get("/dashboard/recommendations", {"q": word.lower()}).content.decode()
    assert f"?product={target.external_id}" in html and target.title in html
    by_id = client.get("/dashboard/recommendations", {"q": target.external_id}).content.decode()
    assert by_id.count("?product=") == 1
    assert "No product matches" in client.get("/dashboard/recommendations", {"q": "zzzz-nothing"}).content.decode()


def test_a_products_lists_match_the_storefront_with_explanations(client, shop_and_demo):
    shop, demo = shop_and_demo
    first, second = demo.complementary_pairs[0]
    sign_in(client, shop)
    html = client.get("/dashboard/recommendations", {"product": first}).content.decode()
    bought_together = storefront(client, shop, first, "bought_together")
    assert second in bought_together[:5]
    section = html.split('id="list-bought_together"', 1)[1].split('id="list-related"', 1)[0]
    ids_on_page = [chunk.split(",", 1)[0] for chunk in section.split("id ")[1:]]
    assert ids_on_page[: len(bought_together)] == bought_together  # same order as the storefront
    assert "Frequently bought together" in html and "Related products" in html
    assert "bought" in section.lower()  # explanations are shown


def test_pin_exclude_and_never_pair_from_the_list_reach_the_storefront(client, post, shop_and_demo):
    shop, demo = shop_and_demo
    anchor, partner = demo.complementary_pairs[0]
    sign_in(client, shop)
    shown = storefront(client, shop, anchor, "related")
    last = shown[-1]

    response = post(
        "/dashboard/recommendations/action", {"action": "pin", "anchor": anchor, "item": last, "kind": "related"}
    )
    assert response.status_code == 302 and "done=pinned" in response["Location"]
    assert storefront(client, shop, anchor, "related")[0] == last
    other_anchor = next(p.external_id for p in demo.products if p.external_id not in (anchor, last))
    assert storefront(client, shop, other_anchor, "related")[:1] != [last]  # pinned on this product only

    post("/dashboard/recommendations/action", {"action": "never_pair", "anchor": anchor, "item": partner})
    assert partner not in storefront(client, shop, anchor, "bought_together")
    assert anchor not in storefront(client, shop, partner, "bought_together")  # both ways

    victim = storefront(client, shop, other_anchor, "related")[0]
    post("/dashboard/recommendations/action", {"action": "exclude", "anchor": anchor, "item": victim})
    assert victim not in storefront(client, shop, other_anchor, "related")

    with shop_scope(shop):
        kinds = list(MerchantRule.objects.order_by("pk").values_list("kind", "list_kinds"))
    assert kinds == [("pin", ["related"]), ("never_pair", []), ("exclude", [])]
    notice = client.get("/dashboard/recommendations", {"product": anchor, "done": "excluded"}).content.decode()
    assert "no longer recommended anywhere" in notice


def test_unknown_products_and_actions_change_nothing(client, post, shop_and_demo):
    shop, demo = shop_and_demo
    anchor = demo.products[0].external_id
    sign_in(client, shop)
    missing = post("/dashboard/recommendations/action", {"action": "pin", "anchor": anchor, "item": "nope"})
    bad = post(
        "/dashboard/recommendations/action",
        {"action": "teleport", "anchor": anchor, "item": demo.products[1].external_id},
    )
    assert "error=" in missing["Location"] and "error=" in bad["Location"]
    assert "No product with that id" in client.get(missing["Location"]).content.decode()
    with shop_scope(shop):
        assert not MerchantRule.objects.exists()
    assert (
        "No product with that id in this store."
        in client.get("/dashboard/recommendations", {"product": "nope"}).content.decode()
    )


def test_a_customers_personal_preview_leaves_out_what_they_bought_and_stores_nothing(client, shop_and_demo):
    from collections import Counter

    from shops.models import OrderLine

    shop, demo = shop_and_demo
    customer = Counter(order.customer_id for order in demo.orders if order.customer_id).most_common(1)[0][0]
    with shop_scope(shop):
        bought = set(
            OrderLine.objects.filter(order__customer_ref=shop.customer_ref(customer)).values_list(
                "product__external_id", flat=True
            )
        )
        orders_before = Order.objects.count()
    sign_in(client, shop)
    html = client.get("/dashboard/recommendations", {"customer": customer}).content.decode()
    section = html.split('id="customer-heading"', 1)[1]
    shown = [chunk.split("<", 1)[0] for chunk in section.split('<span class="muted">id ')[1:]]
    assert shown and not set(shown) & bought
    assert f"bought {len(bought)} product" in section
    with shop_scope(shop):
        assert Order.objects.count() == orders_before
    assert (
        "No orders from this customer"
        in client.get("/dashboard/recommendations", {"customer": "never-bought-anything"}).content.decode()
    )


def test_another_shops_products_are_not_found_or_touched(client, post, shop_and_demo):
    """Isolation: the other shop has the very same product ids; this session only ever sees and
    changes its own."""
    shop, demo = shop_and_demo
    other, _ = trained_demo_shop("recs-other.example", seed=8)
    with shop_scope(other):
        Product.objects.update(title="Other shop's product")
    sign_in(client, shop)
    anchor, partner = demo.complementary_pairs[0]
    html = client.get("/dashboard/recommendations", {"q": "Other shop", "product": anchor}).content.decode()
    assert "Other shop&#x27;s product" not in html and "Other shop's product" not in html.split("</form>", 1)[1]
    post("/dashboard/recommendations/action", {"action": "exclude", "anchor": anchor, "item": partner})
    with shop_scope(other):
        assert not MerchantRule.objects.exists()
    assert partner in storefront(client, other, anchor, "bought_together")
