"""Shopify Billing against the fake Shopify over real HTTP: subscribing from the Overview,
Shopify's return, the app_subscriptions/update webhook, reconciliation, downgrading, what each
plan allows, and SHOPIFY_BILLING=off."""

from __future__ import annotations

import os
import re
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from integrations.models import AppSubscription, WebhookDelivery
from integrations.shopify import billing
from integrations.shopify.client import ShopifyClient
from integrations.shopify.install import shopify_connect_with_token
from integrations.shopify.sync import shop_info_refresh
from integrations.tasks import shopify_billing_reconcile, shopify_billing_reconcile_all
from shops.models import Shop
from shops.plans import GROWTH, UNMETERED, shop_plan_get
from shops.tenancy import shop_scope
from tests.fakes.shopify import store_billing
from tests.integrations.shopify.conftest import API_KEY, id_token, signed_webhook

DOMAIN = "billing-shop.myshopify.com"
OTHER = "other-billing.myshopify.com"
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYmlsbGluZy1zaG9w"
REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(fake, shopify_settings):
    shopify_settings.SHOPIFY_BILLING = True
    shopify_settings.SHOPIFY_BILLING_TEST = True
    shopify_settings.APP_URL = "https://basketry.example.com"
    return fake


def _connect(fake, domain: str) -> Shop:
    store = fake.add_store(domain, currency="EUR", timezone="Europe/Paris", name=domain.split(".")[0])
    shop = shopify_connect_with_token(domain=domain, access_token=store.issue_access_token()["access_token"])
    with shop_scope(shop), ShopifyClient(shop=shop) as client:
        shop_info_refresh(shop=shop, client=client)  # records Shopify's shop id, which webhooks name
    shop.refresh_from_db()
    return shop


@pytest.fixture
def shop(fake):
    from recommendations.storefront.cache import storefront_invalidate

    # Storefront states are cached by domain: an earlier test's would name a shop that is gone.
    for domain in (DOMAIN, OTHER):
        storefront_invalidate(domain=domain)
    return _connect(fake, DOMAIN)


def embedded(path: str, domain: str = DOMAIN) -> str:
    return f"{path}?embedded=1&shop={domain}&host={HOST}&id_token={id_token(domain)}"


def choose(client, plan: str, domain: str = DOMAIN):
    return client.post(embedded("/dashboard/billing", domain), {"plan": plan})


def confirmation_url_of(response) -> str:
    match = re.search(r'data-url="([^"]+)"', response.content.decode())
    assert match, response.content.decode()[:2000]
    return unescape(match.group(1))


def billing_requests(fake, domain: str = DOMAIN) -> list[dict]:
    return [
        entry
        for entry in fake.store(domain).requests
        if entry["operation"] in ("appSubscriptionCreate", "appSubscriptionCancel", "currentAppInstallation")
    ]


def approve_and_return(client, fake, subscription_id: str, domain: str = DOMAIN):
    """The merchant approves on Shopify's page; Shopify sends them to the return URL."""
    parts = urlsplit(store_billing(fake.store(domain)).approve(subscription_id))
    return client.get(f"{parts.path}?{parts.query}")


def subscribe(client, fake, plan: str = "growth", domain: str = DOMAIN) -> str:
    response = choose(client, plan, domain)
    assert response.status_code == 200, response.content[:500]
    (subscription_id,) = [
        key for key, value in store_billing(fake.store(domain)).subscriptions.items() if value["status"] == "PENDING"
    ]
    returned = approve_and_return(client, fake, subscription_id, domain)
    assert returned.status_code == 302
    return subscription_id


# --- subscribing ---------------------------------------------------------------------------------


def test_upgrading_sends_the_merchant_to_shopifys_confirmation_page_and_the_return_sets_the_plan(client, fake, shop):
    response = choose(client, "growth")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == f"frame-ancestors https://{DOMAIN} https://admin.shopify.com;"
    url = confirmation_url_of(response)
    assert url.startswith(f"https://{DOMAIN}/admin/charges/") and "confirm_recurring_application_charge" in url
    assert 'target="_top"' in response.content.decode() and "dashboard-billing.js" in response.content.decode()
    # What Shopify received: the plan's price every 30 days in USD, a test charge, our return URL.
    (created,) = [entry for entry in billing_requests(fake) if entry["operation"] == "appSubscriptionCreate"]
    variables = created["variables"]
    assert variables["name"] == "Basketry Growth" and variables["test"] is True
    assert variables["lineItems"] == [
        {
            "plan": {
                "appRecurringPricingDetails": {
                    "price": {"amount": "19.00", "currencyCode": "USD"},
                    "interval": "EVERY_30_DAYS",
                }
            }
        }
    ]
    assert variables["returnUrl"].startswith("https://basketry.example.com/shopify/billing/return?state=")
    with shop_scope(shop):
        pending = AppSubscription.objects.get()
    assert (pending.status, pending.plan, pending.test) == ("PENDING", "growth", True)
    shop.refresh_from_db()
    assert shop.plan == "free", "nothing changes before Shopify says ACTIVE"

    parts = urlsplit(store_billing(fake.store(DOMAIN)).approve(pending.platform_id))
    assert parse_qs(parts.query)["charge_id"] == [pending.platform_id.rsplit("/", 1)[1]]
    returned = client.get(f"{parts.path}?{parts.query}")

    assert returned.status_code == 302 and returned["Location"] == f"https://{DOMAIN}/admin/apps/{API_KEY}"
    shop.refresh_from_db()
    assert shop.plan == "growth" and shop_plan_get(shop=shop) == GROWTH
    with shop_scope(shop):
        active = AppSubscription.objects.get()
    assert active.status == "ACTIVE" and active.current_period_end is not None


def test_a_declined_charge_leaves_the_store_on_its_plan(client, fake, shop):
    choose(client, "pro")
    (subscription_id,) = store_billing(fake.store(DOMAIN)).subscriptions
    parts = urlsplit(store_billing(fake.store(DOMAIN)).decline(subscription_id))

    assert client.get(f"{parts.path}?{parts.query}").status_code == 302
    shop.refresh_from_db()
    assert shop.plan == "free"


def test_switching_plans_replaces_the_subscription(client, fake, shop):
    first = subscribe(client, fake, "growth")
    second = subscribe(client, fake, "pro")

    shop.refresh_from_db()
    assert shop.plan == "pro"
    with shop_scope(shop):
        assert dict(AppSubscription.objects.values_list("platform_id", "status")) == {
            first: "CANCELLED",
            second: "ACTIVE",
        }


def test_downgrading_to_free_cancels_the_subscription_at_shopify(client, fake, shop):
    subscription_id = subscribe(client, fake, "pro")

    response = choose(client, "free")

    assert response.status_code == 302 and response["Location"].startswith("/dashboard/?")
    assert store_billing(fake.store(DOMAIN)).cancel_requests == [subscription_id]
    assert store_billing(fake.store(DOMAIN)).subscriptions[subscription_id]["status"] == "CANCELLED"
    shop.refresh_from_db()
    assert shop.plan == "free"
    # Already free: a clear message, nothing sent.
    again = choose(client, "free")
    assert again.status_code == 400 and "already on the Free plan" in again.content.decode()


@pytest.mark.parametrize("plan", ["", "gold", "free-trial", "unmetered"])
def test_an_unknown_plan_is_refused_and_nothing_is_sent(client, fake, shop, plan):
    response = choose(client, plan)

    assert response.status_code == 400 and "Choose one of the paid plans" in response.content.decode()
    assert [e for e in billing_requests(fake) if e["operation"] == "appSubscriptionCreate"] == []
    with shop_scope(shop):
        assert not AppSubscription.objects.exists()


def test_shopifys_user_errors_are_shown_and_nothing_is_stored(client, fake, shop, monkeypatch):
    monkeypatch.setattr(billing, "billing_return_url", lambda shop: "not a url")

    response = choose(client, "growth")

    assert response.status_code == 400
    assert "Shopify refused to create the subscription: Return url is invalid" in response.content.decode()
    with shop_scope(shop):
        assert not AppSubscription.objects.exists()


def test_shopify_down_gives_a_clear_error_and_nothing_is_stored(client, fake, shop, monkeypatch):
    monkeypatch.setitem(ShopifyClient.__init__.__kwdefaults__, "sleep", lambda seconds: None)  # no backoff waits
    fake.store(DOMAIN).fail_next(20, status=503)

    response = choose(client, "growth")

    assert response.status_code == 502 and "could not be reached" in response.content.decode()
    with shop_scope(shop):
        assert not AppSubscription.objects.exists()
    shop.refresh_from_db()
    assert shop.plan == "free"


def test_a_confirmation_url_off_the_stores_admin_is_not_followed(client, fake, shop, monkeypatch):
    from tests.fakes import shopify as fake_module

    monkeypatch.setattr(fake_module.FakeBilling, "confirmation_url", lambda self, sid: "https://evil.example/pay")

    response = choose(client, "growth")

    assert response.status_code == 400 and "without a confirmation page" in response.content.decode()
    assert "evil.example" not in response.content.decode().split("</h1>", 1)[-1].split("<section")[0]
    with shop_scope(shop):
        assert not AppSubscription.objects.exists()


def test_outside_shopify_admin_the_choice_is_a_plain_redirect(client, fake, shop):
    from tests.shops.test_dashboard_overview import sign_in

    sign_in(client, shop)
    response = client.post("/dashboard/billing", {"plan": "growth"})

    assert response.status_code == 302 and response["Location"].startswith(f"https://{DOMAIN}/admin/charges/")


# --- the return URL ------------------------------------------------------------------------------


def test_a_forged_or_expired_return_is_refused(client, fake, shop, monkeypatch):
    forged = signing.dumps({"shop": shop.pk}, salt="another-salt")
    assert client.get("/shopify/billing/return", {"state": forged}).status_code == 400
    assert client.get("/shopify/billing/return", {"state": "junk"}).status_code == 400
    assert client.get("/shopify/billing/return").status_code == 400

    url = urlsplit(billing.billing_return_url(shop=shop))
    monkeypatch.setattr(billing, "RETURN_MAX_AGE_SECONDS", -1)
    expired = client.get(f"{url.path}?{url.query}")
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert billing_requests(fake) == []


def test_the_return_only_reads_the_signed_shops_subscriptions(client, fake, shop):
    """The charge_id in the query is never trusted: another shop's charge changes nothing here."""
    other = _connect(fake, OTHER)
    choose(client, "growth", OTHER)
    (other_subscription,) = store_billing(fake.store(OTHER)).subscriptions
    other_return = urlsplit(store_billing(fake.store(OTHER)).approve(other_subscription))
    charge = parse_qs(other_return.query)["charge_id"][0]

    ours = urlsplit(billing.billing_return_url(shop=shop))
    response = client.get(f"{ours.path}?{ours.query}&charge_id={charge}")

    assert response.status_code == 302
    shop.refresh_from_db()
    other.refresh_from_db()
    assert (shop.plan, other.plan) == ("free", "free")
    with shop_scope(shop):
        assert not AppSubscription.objects.exists()


def test_a_return_for_an_uninstalled_shop_is_404(client, fake, shop):
    url = urlsplit(billing.billing_return_url(shop=shop))
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.UNINSTALLED)

    assert client.get(f"{url.path}?{url.query}").status_code == 404


# --- webhook -------------------------------------------------------------------------------------


def _deliver(client, fake, subscription_id: str, *, domain: str = DOMAIN, header_domain: str | None = None, **edits):
    payload = store_billing(fake.store(domain)).webhook_payload(subscription_id)
    payload["app_subscription"].update(edits)
    return signed_webhook(client, topic="app_subscriptions/update", domain=header_domain or domain, payload=payload)


def test_the_webhook_applies_cancellation_and_ignores_a_stale_delivery(
    client, fake, shop, django_capture_on_commit_callbacks
):
    subscription_id = subscribe(client, fake, "growth")
    active_body = store_billing(fake.store(DOMAIN)).webhook_payload(subscription_id)
    store_billing(fake.store(DOMAIN)).set_status(subscription_id, "FROZEN")

    with django_capture_on_commit_callbacks(execute=True):
        response = _deliver(client, fake, subscription_id)
    assert response.status_code == 200
    shop.refresh_from_db()
    assert shop.plan == "free"
    with shop_scope(shop):
        assert AppSubscription.objects.get(platform_id=subscription_id).status == "FROZEN"

    # The earlier ACTIVE delivery arriving late changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        late = signed_webhook(client, topic="app_subscriptions/update", domain=DOMAIN, payload=active_body)
    assert late.status_code == 200
    shop.refresh_from_db()
    assert shop.plan == "free"
    with shop_scope(shop):
        assert WebhookDelivery.objects.filter(topic="app_subscriptions/update").order_by("-pk").first().status == (
            "ignored"
        )


def test_the_webhook_alone_activates_a_plan_whose_return_never_came(
    client, fake, shop, django_capture_on_commit_callbacks
):
    choose(client, "pro")
    (subscription_id,) = store_billing(fake.store(DOMAIN)).subscriptions
    store_billing(fake.store(DOMAIN)).approve(subscription_id)  # the merchant closed the tab

    with django_capture_on_commit_callbacks(execute=True):
        assert _deliver(client, fake, subscription_id).status_code == 200

    shop.refresh_from_db()
    assert shop.plan == "pro"


@pytest.mark.parametrize(
    ("edits", "status", "message"),
    [
        ({"admin_graphql_api_shop_id": "gid://shopify/Shop/1"}, 403, "is not this shop's id"),
        ({"admin_graphql_api_shop_id": None}, 400, "not a Shopify id"),
        ({"admin_graphql_api_id": "gid://shopify/Product/1"}, 400, "admin_graphql_api_id"),
        ({"status": None}, 400, "status"),
    ],
)
def test_a_webhook_body_not_tied_to_this_shop_is_refused_and_nothing_is_stored(
    client, fake, shop, edits, status, message
):
    choose(client, "growth")
    (subscription_id,) = store_billing(fake.store(DOMAIN)).subscriptions

    response = _deliver(client, fake, subscription_id, **edits)

    assert response.status_code == status and message in response.json()["error"]
    with shop_scope(shop):
        assert not WebhookDelivery.objects.exists()


def test_a_body_without_the_shop_id_is_refused(client, fake, shop):
    choose(client, "growth")
    (subscription_id,) = store_billing(fake.store(DOMAIN)).subscriptions
    payload = store_billing(fake.store(DOMAIN)).webhook_payload(subscription_id)
    del payload["app_subscription"]["admin_graphql_api_shop_id"]

    response = signed_webhook(client, topic="app_subscriptions/update", domain=DOMAIN, payload=payload)

    assert response.status_code == 403 and "must name its shop" in response.json()["error"]


def test_another_shops_subscription_under_this_shops_header_changes_nothing(client, fake, shop):
    other = _connect(fake, OTHER)
    choose(client, "pro", OTHER)
    (subscription_id,) = store_billing(fake.store(OTHER)).subscriptions
    store_billing(fake.store(OTHER)).approve(subscription_id)

    response = _deliver(client, fake, subscription_id, domain=OTHER, header_domain=DOMAIN)

    assert response.status_code == 403
    shop.refresh_from_db()
    other.refresh_from_db()
    assert (shop.plan, other.plan) == ("free", "free")


def test_before_the_shops_id_is_known_the_webhook_only_triggers_a_read_from_shopify(
    client, fake, shop, django_capture_on_commit_callbacks
):
    choose(client, "growth")
    (subscription_id,) = store_billing(fake.store(DOMAIN)).subscriptions
    Shop.objects.filter(pk=shop.pk).update(platform_id="")
    reads_before = sum(e["operation"] == "currentAppInstallation" for e in billing_requests(fake))

    # A forged CANCELLED-to-ACTIVE body cannot be checked yet: Shopify's answer decides.
    with django_capture_on_commit_callbacks(execute=True):
        response = _deliver(client, fake, subscription_id, status="ACTIVE")

    assert response.status_code == 200
    assert sum(e["operation"] == "currentAppInstallation" for e in billing_requests(fake)) == reads_before + 1
    shop.refresh_from_db()
    assert shop.plan == "free"  # still pending at Shopify


# --- reconciliation ------------------------------------------------------------------------------


def test_reconciliation_repairs_a_lost_webhook_either_way(client, fake, shop):
    subscription_id = subscribe(client, fake, "growth")
    store_billing(fake.store(DOMAIN)).set_status(subscription_id, "CANCELLED")  # and the webhook was lost

    assert shopify_billing_reconcile_all.delay().get() == 1
    shop.refresh_from_db()
    assert shop.plan == "free"

    # A subscription approved elsewhere (another device) with no webhook: found by its name.
    created = store_billing(fake.store(DOMAIN)).create(
        name="Basketry Pro", return_url="https://basketry.example.com/x", test=True, line_items=[]
    )
    store_billing(fake.store(DOMAIN)).approve(created["id"])
    assert shopify_billing_reconcile.delay(shop.pk).get() == "pro"
    shop.refresh_from_db()
    assert shop.plan == "pro"


def test_a_test_subscription_unlocks_nothing_once_test_charges_are_off(client, fake, shop, settings):
    subscribe(client, fake, "growth")
    shop.refresh_from_db()
    assert shop.plan == "growth"

    settings.SHOPIFY_BILLING_TEST = False  # production
    assert shopify_billing_reconcile.delay(shop.pk).get() == "free"
    shop.refresh_from_db()
    assert shop.plan == "free"

    # A real charge does count.
    choose(client, "growth")
    pending = [k for k, v in store_billing(fake.store(DOMAIN)).subscriptions.items() if v["status"] == "PENDING"]
    created = [e for e in billing_requests(fake) if e["operation"] == "appSubscriptionCreate"][-1]
    assert created["variables"]["test"] is False
    approve_and_return(client, fake, pending[0])
    shop.refresh_from_db()
    assert shop.plan == "growth"


def test_reconciliation_with_shopify_down_keeps_the_plan(client, fake, shop, monkeypatch):
    subscribe(client, fake, "pro")
    monkeypatch.setitem(ShopifyClient.__init__.__kwdefaults__, "sleep", lambda seconds: None)  # no backoff waits
    fake.store(DOMAIN).fail_next(100, status=500)

    with pytest.raises(Exception):  # noqa: B017 - eager retries re-raise the last network error
        shopify_billing_reconcile.delay(shop.pk).get()
    shop.refresh_from_db()
    assert shop.plan == "pro"


def test_uninstall_drops_the_paid_plan(client, fake, shop, django_capture_on_commit_callbacks):
    subscribe(client, fake, "pro")
    body = {"id": int(shop.platform_id), "myshopify_domain": DOMAIN, "domain": DOMAIN}

    with django_capture_on_commit_callbacks(execute=True):
        assert signed_webhook(client, topic="app/uninstalled", domain=DOMAIN, payload=body).status_code == 200

    shop.refresh_from_db()
    assert shop.status == "uninstalled" and shop.plan == "free"


# --- what each plan allows -----------------------------------------------------------------------


def _proxy_get(client, shop, **params):
    import hashlib
    import hmac as hmac_module
    import time

    from django.conf import settings

    params = {"shop": shop.domain, "path_prefix": "/apps/basketry", "timestamp": str(int(time.time())), **params}
    message = "".join(f"{key}={value}" for key, value in sorted(params.items()))
    params["signature"] = hmac_module.new(
        settings.SHOPIFY_API_SECRET.encode(), message.encode(), hashlib.sha256
    ).hexdigest()
    return client.get("/proxy/recommendations", params)


def _trained(shop) -> str:
    """A trained demo catalogue; returns a customer with a personal list."""
    import io
    from collections import Counter

    from django.core.management import call_command

    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load

    demo = demo_shop_generate(seed=3, product_count=30, order_count=400)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    return Counter(order.customer_id for order in demo.orders if order.customer_id).most_common(1)[0][0]


def test_free_shops_get_the_popular_list_instead_of_a_personal_one_and_paid_shops_the_personal(
    client, fake, shop, django_capture_on_commit_callbacks
):
    customer = _trained(shop)

    free = _proxy_get(client, shop, type="personal", logged_in_customer_id=customer)
    assert free.status_code == 200, free.content
    assert free.json()["fallback"] is True and free.json()["items"]

    with django_capture_on_commit_callbacks(execute=True):
        subscribe(client, fake, "growth")  # the plan change refreshes the storefront's state
    paid = _proxy_get(client, shop, type="personal", logged_in_customer_id=customer)
    assert paid.status_code == 200
    assert paid.json()["fallback"] is False and paid.json()["items"]


def test_ab_tests_follow_the_plan(client, fake, shop, django_capture_on_commit_callbacks):
    from recommendations.services.experiments import experiment_create
    from recommendations.storefront.cache import storefront_invalidate
    from recommendations.storefront.service import shop_state_get
    from shops.errors import ValidationFailed

    arms = [{"strategy": "model", "weight": 50}, {"strategy": "popular", "weight": 50}]
    with shop_scope(shop):
        with pytest.raises(ValidationFailed, match="Free plan includes no A/B tests"):
            experiment_create(shop=shop, name="T1", block="related", arms=arms, duration_days=14)

    subscribe(client, fake, "growth")
    shop.refresh_from_db()
    with shop_scope(shop):
        experiment_create(shop=shop, name="T1", block="related", arms=arms, duration_days=14)
        with pytest.raises(ValidationFailed, match="Growth plan runs 1 A/B test at a time"):
            experiment_create(shop=shop, name="T2", block="cart", arms=arms, duration_days=14)
    storefront_invalidate(domain=shop.domain)
    assert len(shop_state_get(domain=shop.domain).experiments) == 1

    subscribe(client, fake, "pro")
    shop.refresh_from_db()
    with shop_scope(shop):
        experiment_create(shop=shop, name="T2", block="cart", arms=arms, duration_days=14)

    assert len(shop_state_get(domain=shop.domain).experiments) == 1  # the state is cached...

    # Back on Free the tests stay stored but stop running on the storefront: normal blocks, no error.
    with django_capture_on_commit_callbacks(execute=True):
        choose(client, "free")  # ...and the plan change refreshes it
    assert shop_state_get(domain=shop.domain).experiments == []


def test_the_overview_shows_the_plan_and_its_upgrade_actions(client, fake, shop):
    page = client.get(embedded("/dashboard/")).content.decode()

    assert 'id="overview-plan"' in page and "<strong>Free</strong> plan" in page
    assert "Upgrade to Growth" in page and "Upgrade to Pro" in page and "Downgrade to Free" not in page
    assert "Test mode" in page
    assert 'action="/dashboard/billing?embedded=1' in page

    subscribe(client, fake, "growth")
    page = client.get(embedded("/dashboard/")).content.decode()
    assert "<strong>Growth</strong> plan, $19.00 every 30 days" in page
    assert "Upgrade to Pro" in page and "Downgrade to Free" in page and "Upgrade to Growth" not in page


def test_the_overview_of_a_pending_change_says_it_waits_for_approval(client, fake, shop):
    choose(client, "pro")

    page = client.get(embedded("/dashboard/")).content.decode()

    assert "The change to Pro waits for your approval on Shopify." in page


# --- SHOPIFY_BILLING=off -------------------------------------------------------------------------


def test_billing_off_allows_everything_and_charges_nothing(client, fake, shop, settings):
    from recommendations.services.experiments import experiment_create

    settings.SHOPIFY_BILLING = False
    customer = _trained(shop)

    assert shop_plan_get(shop=shop) == UNMETERED
    response = choose(client, "growth")
    assert response.status_code == 400 and "Billing is off" in response.content.decode()
    assert billing_requests(fake) == []
    page = client.get(embedded("/dashboard/")).content.decode()
    assert "Billing is switched off on this deployment" in page and "Upgrade to" not in page
    personal = _proxy_get(client, shop, type="personal", logged_in_customer_id=customer)
    assert personal.json()["fallback"] is False
    arms = [{"strategy": "model", "weight": 50}, {"strategy": "popular", "weight": 50}]
    with shop_scope(shop):
        for block in ("related", "cart"):
            experiment_create(shop=shop, name=block, block=block, arms=arms, duration_days=14)
    assert shopify_billing_reconcile_all.delay().get() == 0
    assert shopify_billing_reconcile.delay(shop.pk).get() is None
    assert billing_requests(fake) == []


@pytest.mark.parametrize(
    ("environment", "expected"),
    [({}, "True True"), ({"SHOPIFY_BILLING": "off", "SHOPIFY_BILLING_TEST": "0"}, "False False")],
)
def test_the_billing_switches_are_read_from_the_environment(environment, expected):
    import sys

    script = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); "
        "from django.conf import settings; print(settings.SHOPIFY_BILLING, settings.SHOPIFY_BILLING_TEST)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOPIFY_BILLING")}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env={**env, **environment}, capture_output=True, text=True
    )
    assert run.stdout.strip().splitlines()[-1] == expected, run.stderr


def test_other_platforms_are_never_billed(db, settings):
    from tests.factories import make_shop

    settings.SHOPIFY_BILLING = True
    woo = make_shop(domain="woo-billing.example", platform="woocommerce")

    assert shop_plan_get(shop=woo) == UNMETERED
    with shop_scope(woo), pytest.raises(billing.BillingUnavailable):
        billing.billing_subscription_start(shop=woo, plan_handle="growth", client=None)


# --- isolation -----------------------------------------------------------------------------------


def test_a_session_or_id_token_changes_only_its_own_shops_plan(client, fake, shop):
    """dashboard-billing: the shop comes from the ID token (or the session), never the form."""
    other = _connect(fake, OTHER)

    response = client.post(embedded("/dashboard/billing"), {"plan": "growth", "shop": OTHER, "shop_id": other.pk})

    assert response.status_code == 200
    assert store_billing(fake.store(OTHER)).subscriptions == {}
    assert len(store_billing(fake.store(DOMAIN)).subscriptions) == 1
    with shop_scope(other):
        assert not AppSubscription.objects.exists()
    # An ID token for another app's secret, or none: nothing happens.
    forged = client.post(
        f"/dashboard/billing?embedded=1&shop={OTHER}&id_token={id_token(OTHER, secret='x' * 40)}", {"plan": "pro"}
    )
    assert forged.status_code in (302, 401, 403) and store_billing(fake.store(OTHER)).subscriptions == {}


def test_only_post_is_allowed(client, fake, shop):
    assert client.get(embedded("/dashboard/billing")).status_code == 405


# --- the documents against Shopify's published schema -------------------------------------------


@pytest.mark.parametrize("document", billing.DOCUMENTS, ids=["create", "active", "cancel"])
def test_every_billing_document_is_valid_against_the_2026_10_admin_schema(document):
    import graphql
    from django.conf import settings

    from tests.fakes.shopify_schema import schema_or_skip

    schema = schema_or_skip(settings.SHOPIFY_API_VERSION)

    errors = schema.validate(graphql.parse(document))

    assert errors == [], [error.message for error in errors]
