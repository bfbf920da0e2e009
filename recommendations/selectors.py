"""Reads for recommendations."""

from __future__ import annotations

from recommendations.models import DataProfile, MerchantRule, ModelVersion, RecommendationList
from recommendations.readiness import MIN_CUSTOMERS_WITH_HISTORY, MIN_MULTI_ITEM_ORDERS
from recommendations.rules import ProductFacts, Rule
from shops.models import SELLABLE, OrderLine, Product


def data_readiness_summary(*, profile: DataProfile) -> str:
    """One line a merchant can read: what the data supports, with the numbers behind it."""
    share = round(profile.multi_item_share * 100)
    bought_together = (
        "enough for bought-together"
        if profile.multi_item_orders >= MIN_MULTI_ITEM_ORDERS
        else f"bought-together needs {MIN_MULTI_ITEM_ORDERS} multi-item orders"
    )
    personal = (
        "enough for personal picks"
        if profile.customers >= MIN_CUSTOMERS_WITH_HISTORY
        else f"personal picks need {MIN_CUSTOMERS_WITH_HISTORY} known customers"
    )
    return (
        f"{profile.paid_orders} orders, {share}% with 2+ items: {bought_together}; "
        f"{profile.customers} customers: {personal}; "
        f"{profile.sellable_products} of {profile.products} products on sale, {profile.products_with_sales} with sales."
    )


def merchant_rules_active() -> list[Rule]:
    """The enabled rules of the shop in scope, in order, as the pure rule engine takes them."""
    return [rule_for_engine(rule) for rule in MerchantRule.objects.filter(enabled=True).order_by("position", "pk")]


def model_version_live() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).first()


def recommendation_list_get(*, version: ModelVersion, kind: str, anchor: str) -> list[dict] | None:
    """The stored list of the live version, or None when it has none for this anchor."""
    return (
        RecommendationList.objects.filter(version=version, kind=kind, anchor=anchor)
        .values_list("items", flat=True)
        .first()
    )


def product_facts_all() -> dict[int, ProductFacts]:
    """Facts of every product of the shop in scope, for applying rules when reading lists."""
    return {
        pk: ProductFacts(
            pk=pk,
            title=title,
            category=category,
            vendor=vendor,
            tags=frozenset(tags or ()),
            price=float(price),
            sellable=Product.sellable_from(status, in_stock),
        )
        for pk, title, category, vendor, tags, price, status, in_stock in Product.objects.values_list(
            "pk", "title", "category", "vendor", "tags", "price", "status", "in_stock"
        )
    }


def customer_product_ids(*, customer_ref: str) -> set[int]:
    """Products the customer has bought in any order of the shop in scope (paid or not)."""
    return set(
        OrderLine.objects.filter(order__customer_ref=customer_ref, product__isnull=False).values_list(
            "product_id", flat=True
        )
    )


# Lists a rule preview compares; the storefront's default block length.
PREVIEW_LISTS = 400
PREVIEW_LIMIT = 8


def rule_effect_preview(
    *, rules_before: list[Rule], rules_after: list[Rule], list_kinds: list[str], examples: int = 3
) -> dict:
    """What a rule change does to the live lists of the shop in scope: how many of the most-sold
    products' lists change (of up to PREVIEW_LISTS per kind) and a few of them before and after,
    at the storefront's default length. Nothing is saved."""
    import datetime as dt

    from recommendations.models import ListKind
    from recommendations.rules import rules_apply

    version = model_version_live()
    if version is None:
        return {"available": False, "kinds": []}
    facts = product_facts_all()
    anchors = [str(pk) for pk in product_best_seller_pks(limit=PREVIEW_LISTS)]
    now = dt.datetime.now(dt.UTC)
    summary = []
    for kind in list_kinds or [ListKind.RELATED, ListKind.BOUGHT_TOGETHER]:
        if kind not in (ListKind.RELATED, ListKind.BOUGHT_TOGETHER):
            continue
        stored = dict(
            RecommendationList.objects.filter(version=version, kind=kind, anchor__in=anchors).values_list(
                "anchor", "items"
            )
        )
        changed, shown = 0, []
        for anchor in anchors:
            items = stored.get(anchor)
            if items is None:
                continue

            def ranked(rules: list[Rule], items=items, anchor=anchor, kind=kind) -> list[int]:
                result = rules_apply(
                    items=items,
                    list_kind=kind,
                    anchor=facts.get(int(anchor)),
                    rules=rules,
                    facts=facts,
                    now=now,
                    limit=PREVIEW_LIMIT,
                )
                return [int(item["product_id"]) for item in result]

            before, after = ranked(rules_before), ranked(rules_after)
            if before != after:
                changed += 1
                if len(shown) < examples:
                    title = facts[int(anchor)].title if int(anchor) in facts else anchor
                    shown.append(
                        {
                            "anchor": title,
                            "before": [facts[pk].title for pk in before],
                            "after": [facts[pk].title for pk in after],
                        }
                    )
        summary.append(
            {"kind": dict(ListKind.choices)[kind], "lists": len(stored), "changed": changed, "examples": shown}
        )
    return {"available": True, "kinds": summary}


def product_best_seller_pks(*, limit: int, in_stock_only: bool = False) -> list[int]:
    """The published products of the shop in scope with the most order lines, best first."""
    from django.db.models import Count

    products = Product.objects.filter(status=Product.Status.PUBLISHED)
    if in_stock_only:
        products = products.filter(in_stock=True)
    return list(
        OrderLine.objects.filter(product__in=products)
        .values("product_id")
        .annotate(sold=Count("pk"))
        .order_by("-sold", "product_id")
        .values_list("product_id", flat=True)[:limit]
    )


def widget_preview_product_get() -> Product | None:
    """A product to preview the blocks on: the most ordered one on sale, so that its lists are
    likely to be full; any product on sale for a shop without orders."""
    on_sale = Product.objects.filter(SELLABLE)
    best = product_best_seller_pks(limit=1, in_stock_only=True)
    return on_sale.filter(pk__in=best).first() if best else on_sale.order_by("pk").first()


def merchant_rules_all() -> list[MerchantRule]:
    """Every rule of the shop in scope in run order, enabled or not."""
    return list(MerchantRule.objects.order_by("position", "pk"))


def rule_for_engine(rule: MerchantRule) -> Rule:
    return Rule(kind=rule.kind, params=rule.params, list_kinds=frozenset(rule.list_kinds), name=rule.name)


def product_search(*, query: str, limit: int = 20) -> list[Product]:
    """Products of the shop in scope whose title contains the query, or whose id or handle is it."""
    from django.db.models import Q

    query = query.strip()
    if not query:
        return []
    return list(
        Product.objects.filter(Q(title__icontains=query) | Q(external_id=query) | Q(handle=query))
        .exclude(status=Product.Status.DELETED)
        .order_by("title", "pk")[:limit]
    )


def experiment_results_get(*, experiment, now=None) -> dict:
    """Visitors per arm, and once the test has ended its orders, conversion and revenue per
    visitor with each arm compared to the control. Orders count when they carry the test's mark
    and were placed while it ran."""
    import datetime as dt

    from django.db.models import Count, F, FloatField, Sum
    from django.db.models.functions import Cast
    from django.utils import timezone
    from scipy.stats import chisquare

    from recommendations.engine.experiments import (
        ArmTotals,
        arms_compare,
        confidence_level,
        verdict,
        visitors_needed,
    )
    from recommendations.models import Experiment, ExperimentDailyCount
    from recommendations.services.insights import RECOUNT_DAYS
    from shops.models import Order

    now = now or timezone.now()
    state = experiment.state(now)
    visitors = dict(
        ExperimentDailyCount.objects.filter(experiment=experiment)
        .values_list("arm")
        .annotate(total=Sum("exposures"))
        .values_list("arm", "total")
    )
    labels = {arm["key"]: Experiment.Strategy(arm["strategy"]).label for arm in experiment.arms}
    result = {
        "state": state,
        "labels": labels,
        "visitors": [
            (arm["key"], labels[arm["key"]], arm["weight"], visitors.get(arm["key"], 0)) for arm in experiment.arms
        ],
        "total_visitors": sum(visitors.values()),
        "ended": state in ("finished", "stopped"),
    }
    if not result["ended"]:
        return result
    end = experiment.stopped_at or experiment.ends_at
    # Orders reach Basketry with the syncs, some of them days late: the same span the nightly
    # order rollup recounts.
    result["settling"] = now - end < dt.timedelta(days=RECOUNT_DAYS)
    value = Cast(F("total"), FloatField())
    orders = {
        row["experiment_arm"]: row
        for row in Order.objects.filter(
            status=Order.Status.PAID,
            experiment_arm__startswith=f"{experiment.pk}:",
            created_at__gte=experiment.starts_at,
            created_at__lt=end,
        )
        .values("experiment_arm")
        .annotate(orders=Count("pk"), revenue=Sum(value), squares=Sum(value * value))
    }
    totals = []
    for arm in experiment.arms:
        row = orders.get(f"{experiment.pk}:{arm['key']}", {})
        totals.append(
            ArmTotals(
                key=arm["key"],
                visitors=visitors.get(arm["key"], 0),
                orders=row.get("orders", 0),
                revenue=float(row.get("revenue") or 0),
                revenue_squares=float(row.get("squares") or 0),
            )
        )
    comparisons = arms_compare(totals)
    confidence = confidence_level(len(comparisons))
    result.update(
        arms=totals,
        comparisons=comparisons,
        confidence=confidence,
        confidence_label=f"{confidence * 100:g}%",
        needed=visitors_needed(base_rate=totals[0].conversion, relative_lift=0.1),
    )
    # Visitors should split as the weights say; a large gap means the assignment or the counting
    # is broken, and no comparison can be trusted.
    counts = [arm.visitors for arm in totals]
    if sum(counts) >= 100:
        expected = [sum(counts) * arm["weight"] / 100 for arm in experiment.arms]
        result["sample_ratio_mismatch"] = bool(chisquare(counts, expected).pvalue < 0.001)
    if state == "stopped":
        result["verdict"] = (
            "Stopped early: no verdict. A test read before its planned end finds differences that are not there."
        )
    elif result.get("sample_ratio_mismatch"):
        result["verdict"] = (
            "No verdict: visitors did not split between the arms as planned, so the comparison cannot be trusted."
        )
    else:
        result["verdict"] = verdict(totals[0], comparisons, labels)
    return result
