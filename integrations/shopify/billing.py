"""Shopify Billing: the merchant's plan, charged through Shopify's Billing API (Admin GraphQL).

- Subscribing: `appSubscriptionCreate` (one recurring line item, every 30 days, in USD) answers
  a `confirmationUrl`; the embedded app sends the merchant there at the top level, where they
  approve or decline. Shopify then sends them to our `returnUrl` (signed by us, naming the shop),
  which reads `currentAppInstallation.activeSubscriptions` and returns to the app in Shopify admin.
- Keeping current: the `app_subscriptions/update` webhook (bound to the shop by
  `app_subscription.admin_graphql_api_shop_id`, binding.py) applies each change; a reconciliation
  every 6 hours and after every return reads the active subscriptions again, which also repairs a
  lost webhook.
- Downgrading to Free: `appSubscriptionCancel` of the active subscription.

The shop's plan (`Shop.plan`, read through shops/plans.py) is the plan of its newest ACTIVE
subscription, or Free. A `test: true` subscription (made with SHOPIFY_BILLING_TEST on, outside
production) only counts while that setting is on, so a test approval never unlocks a production
plan. With billing off (`SHOPIFY_BILLING=off`) none of this runs and every feature is allowed.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from integrations.models import AppSubscription
from integrations.parsing import PayloadInvalid
from integrations.shopify.mapping import parse_time
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.plans import FREE, PAID_PLANS, PLANS, Plan, shop_billed

logger = logging.getLogger("basketry.billing")

#: Subscription names start with this, so a subscription Shopify reports maps back to its plan.
NAME_PREFIX = "Basketry "
RETURN_SALT = "basketry.shopify.billing-return"
#: How long Shopify's confirmation page may stay open before the signed return URL expires.
RETURN_MAX_AGE_SECONDS = 2 * 24 * 3600

SUBSCRIPTION_CREATE = """
mutation BasketrySubscriptionCreate(
  $name: String!, $returnUrl: URL!, $test: Boolean, $lineItems: [AppSubscriptionLineItemInput!]!
) {
  appSubscriptionCreate(name: $name, returnUrl: $returnUrl, test: $test, lineItems: $lineItems) {
    appSubscription { id name status test createdAt currentPeriodEnd }
    confirmationUrl
    userErrors { field message }
  }
}
"""

ACTIVE_SUBSCRIPTIONS = """
query BasketryActiveSubscriptions {
  currentAppInstallation {
    activeSubscriptions {
      id
      name
      status
      test
      createdAt
      currentPeriodEnd
      lineItems {
        plan {
          pricingDetails {
            __typename
            ... on AppRecurringPricing { interval price { amount currencyCode } }
          }
        }
      }
    }
  }
}
"""

SUBSCRIPTION_CANCEL = """
mutation BasketrySubscriptionCancel($id: ID!) {
  appSubscriptionCancel(id: $id) {
    appSubscription { id status }
    userErrors { field message }
  }
}
"""

#: Every document this module sends, for schema, scope and cost checks in the tests.
DOCUMENTS = (SUBSCRIPTION_CREATE, ACTIVE_SUBSCRIPTIONS, SUBSCRIPTION_CANCEL)

_STATUSES = set(AppSubscription.Status.values)
_GID_PREFIX = "gid://shopify/AppSubscription/"


class BillingUnavailable(ValidationFailed):
    """Billing does not apply to this shop (billing off, or not a Shopify shop)."""


def plan_of_subscription_name(name: str) -> Plan | None:
    """The plan a subscription named by `billing_subscription_start` pays for."""
    if not isinstance(name, str) or not name.startswith(NAME_PREFIX):
        return None
    wanted = name.removeprefix(NAME_PREFIX).strip().lower()
    return next((plan for plan in PAID_PLANS if plan.name.lower() == wanted), None)


def billing_return_url(*, shop: Shop) -> str:
    """Where Shopify sends the merchant after the confirmation page, signed for this shop
    (Shopify adds `charge_id`; nothing else about it is trusted)."""
    state = signing.dumps({"shop": shop.pk}, salt=RETURN_SALT, compress=True)
    return f"{settings.APP_URL}{reverse('shopify-billing-return')}?{urlencode({'state': state})}"


def billing_return_shop_id(*, state: str) -> int:
    """The shop a return URL was signed for; ValidationFailed if forged or expired."""
    try:
        value = signing.loads(state, salt=RETURN_SALT, max_age=RETURN_MAX_AGE_SECONDS)
    except signing.SignatureExpired as error:
        raise ValidationFailed("This billing link has expired; choose the plan again from the app.") from error
    except signing.BadSignature as error:
        raise ValidationFailed("This billing link is not valid.") from error
    if not isinstance(value, dict) or not isinstance(value.get("shop"), int):
        raise ValidationFailed("This billing link is not valid.")
    return value["shop"]


def embedded_app_url(*, shop: Shop) -> str:
    """The app inside the shop's Shopify admin (Shopify loads the app home there)."""
    if settings.SHOPIFY_API_KEY:
        return f"https://{shop.domain}/admin/apps/{settings.SHOPIFY_API_KEY}"
    return reverse("dashboard-overview")


def _user_errors(payload: dict, *, action: str) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        messages = "; ".join(str(error.get("message") or error) for error in errors if isinstance(error, dict))
        raise ValidationFailed(f"Shopify refused to {action}: {messages or errors}")


def _confirmation_url_checked(url: object, *, shop: Shop) -> str:
    """Shopify's page on the shop's admin; anything else is refused rather than redirected to."""
    parts = urlsplit(url) if isinstance(url, str) else None
    host = (parts.hostname or "") if parts else ""
    if not parts or parts.scheme != "https" or host not in (shop.domain, "admin.shopify.com"):
        raise ValidationFailed("Shopify answered without a confirmation page on the store's admin.")
    return str(url)


def billing_subscription_start(*, shop: Shop, plan_handle: str, client) -> str:
    """Ask Shopify for a subscription to a paid plan; returns the confirmation URL to send the
    merchant to. Records the subscription as pending; nothing changes until Shopify says ACTIVE."""
    if not shop_billed(shop=shop):
        raise BillingUnavailable("Billing is off for this store: every feature is already included.")
    plan = PLANS.get(plan_handle) if isinstance(plan_handle, str) else None
    if plan is None or not plan.paid:
        raise ValidationFailed(f"Choose one of the paid plans: {', '.join(p.handle for p in PAID_PLANS)}.")
    if shop.plan == plan.handle:
        raise ValidationFailed(f"This store is already on the {plan.name} plan.")
    test = bool(settings.SHOPIFY_BILLING_TEST)
    data = client.graphql(
        SUBSCRIPTION_CREATE,
        {
            "name": f"{NAME_PREFIX}{plan.name}",
            "returnUrl": billing_return_url(shop=shop),
            "test": test,
            "lineItems": [
                {
                    "plan": {
                        "appRecurringPricingDetails": {
                            "price": {"amount": str(plan.price), "currencyCode": "USD"},
                            "interval": "EVERY_30_DAYS",
                        }
                    }
                }
            ],
        },
    )
    payload = data.get("appSubscriptionCreate") or {}
    _user_errors(payload, action="create the subscription")
    subscription = payload.get("appSubscription") or {}
    platform_id = subscription.get("id")
    if not isinstance(platform_id, str) or not platform_id.startswith(_GID_PREFIX):
        raise ValidationFailed("Shopify answered without a subscription id.")
    confirmation_url = _confirmation_url_checked(payload.get("confirmationUrl"), shop=shop)
    AppSubscription.objects.update_or_create(
        platform_id=platform_id,
        defaults={
            "shop": shop,
            "name": str(subscription.get("name") or f"{NAME_PREFIX}{plan.name}")[:255],
            "plan": plan.handle,
            "status": _status(subscription.get("status")) or AppSubscription.Status.PENDING,
            "test": bool(subscription.get("test", test)),
        },
    )
    logger.info("billing.subscription_started shop=%s plan=%s test=%s", shop.pk, plan.handle, test)
    return confirmation_url


def billing_downgrade(*, shop: Shop, client) -> Plan:
    """Back to Free: cancel the active subscription at Shopify (no support ticket needed)."""
    if not shop_billed(shop=shop):
        raise BillingUnavailable("Billing is off for this store: every feature is already included.")
    billing_subscriptions_reconcile(shop=shop, client=client)
    active = list(AppSubscription.objects.filter(status=AppSubscription.Status.ACTIVE).order_by("pk"))
    if not active:
        raise ValidationFailed("This store is already on the Free plan.")
    for subscription in active:
        data = client.graphql(SUBSCRIPTION_CANCEL, {"id": subscription.platform_id})
        payload = data.get("appSubscriptionCancel") or {}
        _user_errors(payload, action="cancel the subscription")
        status = _status((payload.get("appSubscription") or {}).get("status")) or AppSubscription.Status.CANCELLED
        AppSubscription.objects.filter(pk=subscription.pk).update(status=status)
    return _plan_settle(shop=shop)


def billing_subscriptions_reconcile(*, shop: Shop, client) -> Plan:
    """Make the stored subscriptions and the plan agree with Shopify's active subscriptions."""
    if not shop_billed(shop=shop):
        return _plan_settle(shop=shop)
    data = client.graphql(ACTIVE_SUBSCRIPTIONS)
    installation = data.get("currentAppInstallation") or {}
    reported = [item for item in installation.get("activeSubscriptions") or [] if isinstance(item, dict)]
    active_ids = set()
    with transaction.atomic():
        for item in reported:
            platform_id = item.get("id")
            status = _status(item.get("status"))
            if not isinstance(platform_id, str) or not platform_id.startswith(_GID_PREFIX) or status is None:
                continue
            stored = AppSubscription.objects.filter(platform_id=platform_id).first()
            plan = PLANS.get(stored.plan) if stored else plan_of_subscription_name(str(item.get("name") or ""))
            if plan is None:
                logger.warning("billing.unknown_subscription shop=%s name=%r", shop.pk, item.get("name"))
                continue
            active_ids.add(platform_id)
            AppSubscription.objects.update_or_create(
                platform_id=platform_id,
                defaults={
                    "shop": shop,
                    "name": str(item.get("name") or "")[:255],
                    "plan": plan.handle,
                    "status": status,
                    "test": bool(item.get("test")),
                    "current_period_end": _time(item.get("currentPeriodEnd")),
                },
            )
        # What we hold as active and Shopify no longer lists has ended (cancelled, expired, or
        # replaced by a newer subscription).
        AppSubscription.objects.filter(status=AppSubscription.Status.ACTIVE).exclude(platform_id__in=active_ids).update(
            status=AppSubscription.Status.CANCELLED
        )
        return _plan_settle(shop=shop)


def billing_subscription_update_apply(*, shop: Shop, work: dict) -> tuple[bool, str]:
    """One `app_subscriptions/update` delivery; returns (applied, detail). Safe to run twice:
    a delivery older than what is stored changes nothing."""
    platform_id, status = work["subscription_id"], _status(work.get("status"))
    updated_at = _time(work.get("updated_at"))
    if status is None:
        return False, f"unknown status {work.get('status')!r}"
    with transaction.atomic():
        Shop.objects.select_for_update().filter(pk=shop.pk).first()  # one plan change at a time
        stored = AppSubscription.objects.filter(platform_id=platform_id).first()
        if stored is None:
            # Not one this deployment started (or its row is gone): whether it is a test and which
            # plan it pays for are read from Shopify instead (the caller reconciles).
            return False, "unknown subscription"
        if stored.platform_updated_at and updated_at and updated_at <= stored.platform_updated_at:
            return False, "stale: the stored subscription is as new or newer"
        stored.status = status
        stored.platform_updated_at = updated_at
        stored.save(update_fields=["status", "platform_updated_at", "updated_at"])
        settled = _plan_settle(shop=shop)
    return True, f"{status.lower()}: plan {settled.handle}"


def _status(value: object) -> str | None:
    text = str(value or "").strip().upper()
    if text == "ACCEPTED":  # deprecated by Shopify: approved, not yet active
        return AppSubscription.Status.PENDING
    return text if text in _STATUSES else None


def _time(value: object) -> dt.datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) and value else None
    except PayloadInvalid:
        return None


def _plan_settle(*, shop: Shop) -> Plan:
    """Set the shop's plan from its subscriptions: the newest ACTIVE one that counts, or Free."""
    counting = AppSubscription.objects.filter(status=AppSubscription.Status.ACTIVE)
    if not settings.SHOPIFY_BILLING_TEST:
        counting = counting.filter(test=False)
    newest = counting.order_by("-platform_updated_at", "-pk").first() if counting.exists() else None
    plan = PLANS.get(newest.plan, FREE) if newest else FREE
    if not shop_billed(shop=shop):
        return plan
    changed = Shop.objects.filter(pk=shop.pk).exclude(plan=plan.handle).update(plan=plan.handle)
    shop.plan = plan.handle
    if changed:
        from recommendations.storefront.cache import storefront_invalidate

        domain = shop.domain
        logger.info("billing.plan_changed shop=%s plan=%s", shop.pk, plan.handle)
        transaction.on_commit(lambda: storefront_invalidate(domain=domain))
    return plan
