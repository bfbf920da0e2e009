"""Widget settings: validation, the storefront honouring them at once, the dashboard page, one shop only."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.core.management import call_command
from django.test import Client

from recommendations.services.widgets import (
    BLOCKS,
    WIDGETS_KEY,
    contrast_ratio,
    widget_defaults,
    widget_settings_get,
    widget_settings_update,
)
from recommendations.storefront.cache import shared_cache_enabled
from shops.dashboard.access import dashboard_link_create
from shops.demo.generator import demo_shop_generate
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.factories import demo_shop_trained, make_shop
from tests.recommendations.test_app_proxy import SECRET, signed_query

URL = "/api/storefront/v1/recommendations"
PAGE = "/dashboard/widgets"
pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(shop):
    demo = demo_shop_trained(shop, seed=21, products=40, orders=700)
    return shop, demo.complementary_pairs[0][0]


def stored_settings(shop: Shop) -> dict:
    return Shop.objects.get(pk=shop.pk).settings


def open_dashboard(client: Client, shop: Shop) -> None:
    token = dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1]
    assert client.get("/dashboard/enter?token=" + token).status_code == 302


def form(block: str, **overrides) -> dict:
    values = {"block": block, "enabled": "on", "title": "Complete the look", "items": "5", "layout": "grid"}
    values.update(accent="#1f4f8a", text="")
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


# --- The service ---------------------------------------------------------------------------------


def test_an_untouched_shop_gets_the_storefronts_former_look(shop):
    settings = widget_settings_get(shop=shop)
    assert set(settings) == set(BLOCKS)
    assert settings["bought_together"]["title"] == "Frequently bought together"
    assert settings["related"]["title"] == "You may also like"
    assert all(block["enabled"] and block["layout"] == "grid" and block["text"] is None for block in settings.values())


def test_contrast_ratio_follows_wcag():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#1f6f4a", "#1f6f4a") == pytest.approx(1)
    # The grey that is just dark enough for white text, and the one just too light.
    assert contrast_ratio("#767676", "#ffffff") >= 4.5 > contrast_ratio("#777777", "#ffffff")


@pytest.mark.parametrize(
    "values,field",
    [
        ({"items": 0}, "items"),
        ({"items": 13}, "items"),
        ({"items": "ten"}, "items"),
        ({"items": True}, "items"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 81}, "title"),
        ({"title": "<b>Deals</b>"}, "title"),
        ({"layout": "masonry"}, "layout"),
        ({"accent": "red"}, "accent"),
        ({"accent": "#12345"}, "accent"),
        ({"accent": "#ffcc00"}, "accent"),  # white on yellow: 1.5:1
        ({"text": "#bbbbbb"}, "text"),  # light grey on white: 1.9:1
        ({"text": "#gggggg"}, "text"),
        ({"enabled": "yes"}, "enabled"),
        ({"font": "Comic Sans"}, "font"),
    ],
)
def test_bad_values_are_refused_by_field_and_nothing_is_saved(shop, values, field):
    before = stored_settings(shop)
    with pytest.raises(ValidationFailed) as caught:
        widget_settings_update(shop=shop, block="related", values=values)
    assert list(caught.value.extra["fields"]) == [field]
    assert field in caught.value.message
    assert stored_settings(shop) == before


def test_a_low_contrast_accent_says_what_was_checked(shop):
    with pytest.raises(ValidationFailed) as caught:
        widget_settings_update(shop=shop, block="cart", values={"accent": "#FFCC00"})
    message = caught.value.extra["fields"]["accent"]
    assert "white label on #ffcc00" in message and "1.5:1" in message and "4.5:1" in message


def test_every_problem_is_listed_at_once(shop):
    with pytest.raises(ValidationFailed) as caught:
        widget_settings_update(
            shop=shop, block="related", values={"items": 0, "accent": "#fff", "title": "", "layout": "grid"}
        )
    assert set(caught.value.extra["fields"]) == {"items", "accent", "title"}
    assert WIDGETS_KEY not in stored_settings(shop)


def test_an_unknown_block_is_refused(shop):
    with pytest.raises(ValidationFailed) as caught:
        widget_settings_update(shop=shop, block="sidebar", values={"title": "Hi"})
    assert "block" in caught.value.extra["fields"]
    assert WIDGETS_KEY not in stored_settings(shop)


def test_a_valid_change_is_stored_clean_and_leaves_the_rest_alone(shop):
    shop.settings = {"diversity": {"strategy": "none"}}
    shop.save()
    result = widget_settings_update(
        shop=shop, block="cart", values={"title": "  With your cart  ", "items": "6", "accent": "#1F4F8A"}
    )
    assert result["cart"]["title"] == "With your cart" and result["cart"]["items"] == 6
    assert result["cart"]["accent"] == "#1f4f8a" and result["cart"]["layout"] == "grid"
    saved = stored_settings(shop)
    assert saved["diversity"] == {"strategy": "none"}
    assert set(saved[WIDGETS_KEY]) == {"cart"}
    assert widget_settings_get(shop=Shop.objects.get(pk=shop.pk)) == result
    assert result["related"] == widget_defaults(block="related")


# --- The storefront ------------------------------------------------------------------------------


def test_the_api_describes_the_block_and_uses_its_item_count(client, trained, django_capture_on_commit_callbacks):
    shop, anchor = trained
    body = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor}).json()
    assert body["block"] == {
        "enabled": True,
        "title": "You may also like",
        "layout": "grid",
        "accent": "#1f6f4a",
        "text": None,
    }
    assert len(body["items"]) == widget_defaults(block="related")["items"]
    assert set(body) == {"type", "fallback", "items", "block"}

    with django_capture_on_commit_callbacks(execute=True):
        widget_settings_update(shop=shop, block="related", values={"items": 2, "layout": "carousel", "text": "#222222"})
    body = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor}).json()
    assert len(body["items"]) == 2
    assert body["block"]["layout"] == "carousel" and body["block"]["text"] == "#222222"
    # An explicit limit still wins.
    explicit = client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor, "limit": 5}).json()
    assert len(explicit["items"]) == 5


def test_a_disabled_block_answers_with_no_items(client, trained, django_capture_on_commit_callbacks):
    shop, anchor = trained
    assert client.get(URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor}).json()["items"]
    with django_capture_on_commit_callbacks(execute=True):
        widget_settings_update(shop=shop, block="bought_together", values={"enabled": False})
    response = client.get(URL, {"shop": shop.domain, "type": "bought_together", "product_id": anchor})
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [] and body["block"]["enabled"] is False
    # Only that block: the others still show.
    assert client.get(URL, {"shop": shop.domain, "type": "related", "product_id": anchor}).json()["items"]


def test_a_change_shows_on_the_very_next_request_and_then_is_cached(
    client, trained, django_capture_on_commit_callbacks, django_assert_num_queries
):
    shop, anchor = trained
    params = {"shop": shop.domain, "type": "cart", "product_id": anchor}
    assert client.get(URL, params).json()["block"]["title"] == "Goes well with your cart"
    with django_capture_on_commit_callbacks(execute=True):
        widget_settings_update(shop=shop, block="cart", values={"title": "Add these too"})
    first = client.get(URL, params)
    assert first.json()["block"]["title"] == "Add these too"
    # Without Redis (the embedded mode) the list's product facts are read on every request.
    with django_assert_num_queries(0 if shared_cache_enabled() else 1):
        again = client.get(URL, params)
    assert again.content == first.content


def test_nothing_changes_on_the_storefront_until_the_transaction_commits(client, trained):
    from django.db import transaction

    shop, anchor = trained
    params = {"shop": shop.domain, "type": "related", "product_id": anchor}
    client.get(URL, params)
    with pytest.raises(RuntimeError), transaction.atomic():
        widget_settings_update(shop=shop, block="related", values={"title": "Rolled back"})
        raise RuntimeError("the surrounding work failed")
    assert client.get(URL, params).json()["block"]["title"] == "You may also like"
    assert WIDGETS_KEY not in stored_settings(shop)


@pytest.fixture
def proxied_store(settings):
    settings.SHOPIFY_API_SECRET = SECRET
    shop = make_shop(domain="widget-proxy.myshopify.com", platform="shopify")
    demo = demo_shop_generate(seed=22, product_count=40, order_count=700)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop, demo.complementary_pairs[0][0]


def proxy(client, shop, **params):
    query = {
        "shop": shop.domain,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/basketry",
        "timestamp": str(int(time.time())),
        **params,
    }
    return client.get(f"/proxy/recommendations?{signed_query(query)}")


def test_the_app_proxy_uses_the_settings_in_json_and_html(client, proxied_store, django_capture_on_commit_callbacks):
    shop, anchor = proxied_store
    with django_capture_on_commit_callbacks(execute=True):
        widget_settings_update(shop=shop, block="related", values={"title": "Pairs with this", "items": 3})
    body = proxy(client, shop, type="related", product_id=anchor).json()
    assert body["block"]["title"] == "Pairs with this" and len(body["items"]) == 3
    page = proxy(client, shop, type="related", product_id=anchor, format="html").content.decode()
    assert "<h2" in page and "Pairs with this</h2>" in page and page.count("<li>") == 3

    with django_capture_on_commit_callbacks(execute=True):
        widget_settings_update(shop=shop, block="related", values={"enabled": False})
    body = proxy(client, shop, type="related", product_id=anchor).json()
    assert body["items"] == [] and body["block"]["enabled"] is False
    assert "<li>" not in proxy(client, shop, type="related", product_id=anchor, format="html").content.decode()


# --- The dashboard page --------------------------------------------------------------------------


def test_the_page_shows_a_form_per_block_and_saves_with_a_notice(client, shop):
    open_dashboard(client, shop)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-widget-form="') == len(BLOCKS)
    assert 'value="Frequently bought together"' in html
    assert "basketry/widget.js" in html and "basketry/dashboard-widgets.js" in html

    response = client.post(PAGE, form("bought_together", title="Complete the look", items="2", layout="list"))
    assert response.status_code == 302 and response["Location"] == f"{PAGE}?saved=bought_together"
    saved = widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["bought_together"]
    assert saved["title"] == "Complete the look" and saved["items"] == 2 and saved["layout"] == "list"
    assert saved["text"] is None and saved["enabled"] is True

    after = client.get(response["Location"]).content.decode()
    assert re.search(r'class="notice" role="status">Saved “Frequently bought together”', after)
    assert 'value="Complete the look"' in after


def test_an_unticked_box_turns_the_block_off(client, shop):
    open_dashboard(client, shop)
    assert client.post(PAGE, form("cart", enabled=None)).status_code == 302
    assert widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["cart"]["enabled"] is False


def test_bad_input_re_renders_with_inline_errors_and_saves_nothing(client, shop):
    open_dashboard(client, shop)
    before = stored_settings(shop)
    response = client.post(PAGE, form("related", title="", items="13", accent="#ffcc00"))
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("title", "items", "accent"):
        assert f'id="related-{field}-error"' in html
        field_tag = re.search(rf'<input [^>]*id="related-{field}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field_tag and f"related-{field}-error" in field_tag
    assert 'role="alert"' in html and "Nothing was saved" in html
    # What the merchant typed stays in the form; the other blocks show no errors.
    assert 'value="13"' in html and 'id="cart-title-error"' not in html
    assert stored_settings(shop) == before


def test_csrf_is_enforced_for_a_session_post(shop):
    browser = Client(enforce_csrf_checks=True)
    open_dashboard(browser, shop)
    assert browser.post(PAGE, form("related", title="Forged")).status_code == 403
    assert WIDGETS_KEY not in stored_settings(shop)

    browser.get(PAGE)
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(PAGE, {**form("related", title="Mine"), "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["related"]["title"] == "Mine"


def test_without_a_session_the_page_shows_and_changes_nothing(client, shop):
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, form("related", title="Anonymous")).status_code == 403
    assert WIDGETS_KEY not in stored_settings(shop)


def test_a_session_sees_and_changes_only_its_own_shop(client, shop, other_shop):
    widget_settings_update(shop=other_shop, block="related", values={"title": "Beta title only"})
    before = stored_settings(other_shop)
    open_dashboard(client, shop)

    html = client.get(PAGE, {"shop": other_shop.domain, "shop_id": other_shop.pk}).content.decode()
    assert "alpha.example" in html and "Beta title only" not in html and other_shop.domain not in html

    posted = client.post(
        f"{PAGE}?shop={other_shop.domain}&shop_id={other_shop.pk}",
        {**form("related", title="Alpha's title"), "shop": other_shop.domain, "shop_id": other_shop.pk},
    )
    assert posted.status_code == 302
    assert widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["related"]["title"] == "Alpha's title"
    assert stored_settings(other_shop) == before
