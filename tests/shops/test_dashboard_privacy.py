"""Privacy & fairness: the diversity and retention forms (validated, inline errors, nothing saved
half-way, a notice after the redirect), CSRF on session writes, and one shop only."""

from __future__ import annotations

import pytest
from django.test import Client

from recommendations.services.settings import (
    event_retention_days_get,
    retention_settings_update,
)
from shops.dashboard.access import dashboard_link_create
from shops.errors import ValidationFailed
from shops.models import Shop

pytestmark = pytest.mark.django_db


def sign_in(client, shop) -> None:
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])


def stored(shop) -> dict:
    return Shop.objects.get(pk=shop.pk).settings


def test_the_page_shows_both_forms_with_the_current_values(client, shop, settings):
    settings.EVENT_RETENTION_DAYS = 30
    settings.WEBHOOK_RETENTION_DAYS = 14
    sign_in(client, shop)
    html = client.get("/dashboard/privacy").content.decode()
    assert 'name="form" value="diversity"' in html and 'name="form" value="retention"' in html
    assert 'id="diversity-none" name="strategy" value="none" checked' in html
    assert 'name="event_days" min="1" max="30"' in html and 'value="30"' in html
    assert "30 days (your setting below), then only daily counts" in html
    assert "14 days (set by the operator for every store)" in html
    assert "applies from the next training" in html
    assert html.count("csrfmiddlewaretoken") == 2


def test_a_diversity_setting_is_saved_and_announced_after_the_redirect(client, shop):
    sign_in(client, shop)

    response = client.post(
        "/dashboard/privacy",
        {"form": "diversity", "strategy": "cap", "group": "vendor", "max_per_group": "3", "lambda": "nonsense"},
    )

    # The lambda field belongs to another strategy: it is neither checked nor stored.
    assert response.status_code == 302 and response["Location"] == "/dashboard/privacy?saved=diversity"
    assert stored(shop)["diversity"] == {"strategy": "cap", "group": "vendor", "max_per_group": 3}
    html = client.get(response["Location"]).content.decode()
    assert '<p class="notice" role="status">Saved. The diversity setting applies from the next training' in html
    assert "Diversity setting: <strong>cap</strong>, at most 3 per vendor" in html
    assert 'id="diversity-cap" name="strategy" value="cap" checked' in html


def test_mmr_with_a_weight_is_saved_as_a_number(client, shop):
    sign_in(client, shop)
    response = client.post("/dashboard/privacy", {"form": "diversity", "strategy": "mmr", "lambda": "0.55"})
    assert response.status_code == 302
    assert stored(shop)["diversity"] == {"strategy": "mmr", "lambda": 0.55}


@pytest.mark.parametrize("weight", ["0.05", "1.5", "abc", "", "nan", "inf"])
def test_a_bad_diversity_weight_is_an_inline_error_and_nothing_is_saved(client, shop, weight):
    shop.settings = {"diversity": {"strategy": "cap", "group": "category", "max_per_group": 2}, "other": 1}
    shop.save()
    sign_in(client, shop)

    response = client.post("/dashboard/privacy", {"form": "diversity", "strategy": "mmr", "lambda": weight})

    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" id="error-lambda">a number from 0.1 to 1.0</p>' in html
    assert 'aria-invalid="true" aria-describedby="error-lambda"' in html
    assert f'value="{weight}"' in html.split('id="diversity-lambda"', 1)[1].split(">", 1)[0]
    assert 'id="diversity-mmr" name="strategy" value="mmr" checked' in html  # what was typed stays
    assert "Saved." not in html and "Nothing was saved: the diversity setting needs a change" in html
    assert stored(shop) == {"diversity": {"strategy": "cap", "group": "category", "max_per_group": 2}, "other": 1}


@pytest.mark.parametrize(
    "form,field", [({"strategy": "cap", "max_per_group": "13"}, "max_per_group"), ({"strategy": "zig"}, "strategy")]
)
def test_other_bad_diversity_fields_are_inline_errors(client, shop, form, field):
    sign_in(client, shop)
    response = client.post("/dashboard/privacy", {"form": "diversity", "group": "category", **form})
    assert response.status_code == 400 and f'id="error-{field}"' in response.content.decode()
    assert "diversity" not in stored(shop)


def test_a_retention_is_saved_and_shown(client, shop, settings):
    settings.EVENT_RETENTION_DAYS = 30
    sign_in(client, shop)

    response = client.post("/dashboard/privacy", {"form": "retention", "event_days": " 7 "})

    assert response.status_code == 302 and response["Location"] == "/dashboard/privacy?saved=retention"
    assert stored(shop)["retention"] == {"event_days": 7}
    html = client.get(response["Location"]).content.decode()
    assert "Saved. Raw widget events are kept 7 days" in html
    assert "7 days (your setting below), then only daily counts" in html and 'value="7"' in html


@pytest.mark.parametrize("days", ["0", "10000", "31", "-3", "2.5", "seven", ""])
def test_a_bad_retention_is_an_inline_error_and_nothing_is_saved(client, shop, settings, days):
    settings.EVENT_RETENTION_DAYS = 30
    shop.settings = {"retention": {"event_days": 12}, "diversity": {"strategy": "mmr", "lambda": 0.8}}
    shop.save()
    sign_in(client, shop)

    response = client.post("/dashboard/privacy", {"form": "retention", "event_days": days})

    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" id="error-event_days">a whole number of days from 1 to 30</p>' in html
    assert "Nothing was saved: the retention needs a change" in html
    assert 'aria-invalid="true" aria-describedby="error-event_days"' in html
    assert stored(shop) == {"retention": {"event_days": 12}, "diversity": {"strategy": "mmr", "lambda": 0.8}}


def test_an_unknown_form_changes_nothing(client, shop):
    sign_in(client, shop)
    response = client.post("/dashboard/privacy", {"form": "everything", "event_days": "3", "strategy": "none"})
    assert response.status_code == 400 and "Unknown form" in response.content.decode()
    assert stored(shop) == {}


def test_a_session_post_without_the_csrf_token_is_refused(shop):
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, shop)

    forged = browser.post("/dashboard/privacy", {"form": "retention", "event_days": "3"})

    assert forged.status_code == 403
    assert stored(shop) == {}
    # The same request with the page's token goes through: the 403 was the missing token.
    browser.get("/dashboard/privacy")
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/dashboard/privacy", {"form": "retention", "event_days": "3", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302 and stored(shop)["retention"] == {"event_days": 3}


def test_without_a_session_nothing_can_be_posted(shop):
    assert Client().post("/dashboard/privacy", {"form": "retention", "event_days": "3"}).status_code == 403
    assert stored(shop) == {}


# -- the retention service ------------------------------------------------------------------------


def test_the_retention_service_validates_and_saves_nothing_on_error(shop, settings):
    settings.EVENT_RETENTION_DAYS = 30
    for bad in (0, 31, True, "5", 5.0, None):
        with pytest.raises(ValidationFailed) as refused:
            retention_settings_update(shop=shop, event_days=bad)
        assert refused.value.extra == {"fields": {"event_days": "a whole number of days from 1 to 30"}}
    assert stored(shop) == {}
    retention_settings_update(shop=shop, event_days=30)
    assert stored(shop) == {"retention": {"event_days": 30}} and shop.settings == stored(shop)


def test_the_operator_ceiling_wins_over_a_stored_retention(shop, settings):
    settings.EVENT_RETENTION_DAYS = 30
    assert event_retention_days_get(shop=shop) == 30  # the default
    shop.settings = {"retention": {"event_days": 9}}
    assert event_retention_days_get(shop=shop) == 9
    settings.EVENT_RETENTION_DAYS = 5  # the operator shortened it since
    assert event_retention_days_get(shop=shop) == 5
    shop.settings = {"retention": {"event_days": "forever"}}
    assert event_retention_days_get(shop=shop) == 5
    shop.settings = {"retention": ["not", "an", "object"]}
    assert event_retention_days_get(shop=shop) == 5


# -- one shop only ----------------------------------------------------------------------------------


def test_a_post_never_changes_another_shops_settings(client, shop, other_shop):
    other_shop.settings = {"retention": {"event_days": 20}, "diversity": {"strategy": "none"}}
    other_shop.save()
    sign_in(client, shop)

    for form in (
        {"form": "retention", "event_days": "2"},
        {"form": "diversity", "strategy": "mmr", "lambda": "0.4"},
    ):
        query = f"?shop={other_shop.domain}&shop_id={other_shop.pk}"
        response = client.post(
            "/dashboard/privacy" + query, {**form, "shop": other_shop.domain, "shop_id": other_shop.pk}
        )
        assert response.status_code == 302

    assert stored(other_shop) == {"retention": {"event_days": 20}, "diversity": {"strategy": "none"}}
    assert stored(shop) == {"retention": {"event_days": 2}, "diversity": {"strategy": "mmr", "lambda": 0.4}}
    html = client.get("/dashboard/privacy").content.decode()
    assert "2 days (your setting below)" in html and "20 days" not in html
