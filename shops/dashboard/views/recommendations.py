"""Recommendations: find any product and see its lists exactly as the storefront shows them
(today's rules and stock applied), preview a customer's personal list, and pin, exclude or keep
products apart right there."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recommendations.models import ListKind, MerchantRule
from recommendations.selectors import (
    customer_product_ids,
    merchant_rules_active,
    model_version_live,
    product_facts_all,
    product_search,
)
from recommendations.services.rules import merchant_rule_create
from recommendations.services.serving import recommendations_for_customer, recommendations_for_product
from shops.dashboard.views.base import dashboard_page, redirect_to
from shops.errors import ValidationFailed
from shops.models import Product, Shop

PREVIEW_ITEMS = 12
PRODUCT_LISTS = (ListKind.BOUGHT_TOGETHER, ListKind.RELATED)
_NOTICES = {
    "pinned": "Pinned: it now leads this list on the storefront.",
    "excluded": "Excluded: it is no longer recommended anywhere.",
    "separated": "Done: these two products are never shown together.",
}


def _cards(items: list[dict]) -> list[dict]:
    products = Product.objects.in_bulk([item["product_id"] for item in items])
    return [{"product": products[item["product_id"]], **item} for item in items if item["product_id"] in products]


@dashboard_page
def recommendations(request: HttpRequest, shop: Shop) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    version = model_version_live()
    facts = product_facts_all() if version else {}
    rules = merchant_rules_active() if version else []
    context: dict = {
        "shop": shop,
        "query": query,
        "results": product_search(query=query) if query else [],
        "version": version,
        "notice": _NOTICES.get(request.GET.get("done", ""), ""),
        "error": request.GET.get("error", "")[:300],
    }
    chosen = request.GET.get("product", "").strip()
    if chosen:
        product = Product.objects.filter(external_id=chosen).first()
        context["product"] = product
        context["product_missing"] = product is None
        if product is not None and version is not None:
            context["lists"] = [
                {
                    "kind": kind,
                    "label": ListKind(kind).label,
                    "items": _cards(
                        recommendations_for_product(
                            version=version,
                            product_pk=product.pk,
                            kind=kind,
                            limit=PREVIEW_ITEMS,
                            facts=facts,
                            rules=rules,
                        )
                    ),
                }
                for kind in PRODUCT_LISTS
            ]
    customer = request.GET.get("customer", "").strip()[:255]
    if customer:
        context["customer"] = customer
        if version is not None:
            reference = shop.customer_ref(customer)  # the pseudonym stored in place of the id
            bought = customer_product_ids(customer_ref=reference)
            context["customer_bought"] = len(bought)
            context["personal"] = _cards(
                recommendations_for_customer(
                    version=version, customer_ref=reference, limit=PREVIEW_ITEMS, facts=facts, rules=rules
                )
            )
    return render(request, "dashboard/recommendations.html", context)


@dashboard_page(methods=("POST",))
def recommendation_action(request: HttpRequest, shop: Shop) -> HttpResponse:
    """Pin an item on this product's list, exclude it everywhere, or never pair it with this
    product: each makes one rule, listed (and undone) on the Rules page."""
    action = request.POST.get("action", "")
    kind = request.POST.get("kind", "")
    anchor = Product.objects.filter(external_id=request.POST.get("anchor", "")).first()
    item = Product.objects.filter(external_id=request.POST.get("item", "").strip()).first()
    back = {"product": anchor.external_id if anchor else ""}
    if anchor is None or item is None:
        return redirect_to(request, "dashboard-recommendations", **back, error="No product with that id in this store.")
    try:
        if action == "pin":
            if kind not in PRODUCT_LISTS:
                raise ValidationFailed("kind: related or bought_together")
            merchant_rule_create(
                shop=shop,
                kind=MerchantRule.Kind.PIN,
                params={"product_ids": [item.pk], "anchor_product_ids": [anchor.pk]},
                list_kinds=[kind],
                name=f"Pin {item.title} on {anchor.title}"[:120],
            )
            done = "pinned"
        elif action == "exclude":
            merchant_rule_create(
                shop=shop,
                kind=MerchantRule.Kind.EXCLUDE,
                params={"product_ids": [item.pk]},
                name=f"Never recommend {item.title}"[:120],
            )
            done = "excluded"
        elif action == "never_pair":
            merchant_rule_create(
                shop=shop,
                kind=MerchantRule.Kind.NEVER_PAIR,
                params={"product_ids": [anchor.pk], "with_product_ids": [item.pk]},
                name=f"Keep {item.title} away from {anchor.title}"[:120],
            )
            done = "separated"
        else:
            raise ValidationFailed("action: pin, exclude or never_pair")
    except ValidationFailed as error:
        return redirect_to(request, "dashboard-recommendations", **back, error=error.message)
    return redirect_to(request, "dashboard-recommendations", **back, done=done)
