"""What each plan allows, and which plan a shop is on.

Shopify shops pay through Shopify's Billing API (integrations/shopify/billing.py records the
subscription and sets `Shop.plan`); this module only answers "may this shop use that feature".
Shops of other platforms, and every shop of a deployment with billing switched off
(`SHOPIFY_BILLING=off`, for operators who host Basketry for their own stores), get every feature.

Limits degrade, never break: a storefront asking for what the plan leaves out gets the shop's
popular products instead of a personal list, and A/B tests simply do not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings


@dataclass(frozen=True)
class Plan:
    handle: str
    name: str
    #: Price every 30 days, in USD (Shopify bills apps in USD); 0 for the free plan.
    price: Decimal
    #: Personal "Picked for you" lists for logged-in shoppers.
    personal: bool
    #: A/B tests scheduled or running at the same time; None for no limit.
    experiments: int | None
    summary: str

    @property
    def paid(self) -> bool:
        return self.price > 0

    def allows_experiments(self, *, open_tests: int = 0) -> bool:
        return self.experiments is None or open_tests < self.experiments


FREE = Plan(
    "free",
    "Free",
    Decimal("0"),
    personal=False,
    experiments=0,
    summary="Related products, frequently bought together and cart recommendations, with rules and insights.",
)
GROWTH = Plan(
    "growth",
    "Growth",
    Decimal("19.00"),
    personal=True,
    experiments=1,
    summary="Everything in Free, personal lists for logged-in shoppers, and one A/B test at a time.",
)
PRO = Plan(
    "pro",
    "Pro",
    Decimal("49.00"),
    personal=True,
    experiments=None,
    summary="Everything in Growth, with as many A/B tests at a time as there are blocks to test.",
)
#: What a shop gets when billing does not apply to it.
UNMETERED = Plan(
    "unmetered",
    "All features",
    Decimal("0"),
    personal=True,
    experiments=None,
    summary="Billing is off for this store: every feature is included.",
)

PLANS: dict[str, Plan] = {plan.handle: plan for plan in (FREE, GROWTH, PRO)}
PAID_PLANS: tuple[Plan, ...] = (GROWTH, PRO)


def billing_enabled() -> bool:
    """False when the operator switched billing off (`SHOPIFY_BILLING=off`)."""
    return bool(settings.SHOPIFY_BILLING)


def shop_billed(*, shop) -> bool:
    """Whether plans apply to this shop: a Shopify shop on a deployment with billing on."""
    return billing_enabled() and shop.platform == "shopify"


def shop_plan_get(*, shop) -> Plan:
    """The plan whose limits apply to `shop` now."""
    if not shop_billed(shop=shop):
        return UNMETERED
    return PLANS.get(shop.plan or "", FREE)
