"""Reading published lists with the merchant's current rules and today's stock applied."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from recommendations.models import ListKind, ModelVersion
from recommendations.rules import ProductFacts, Rule, rules_apply
from recommendations.selectors import customer_product_ids, recommendation_list_get


def recommendations_for_product(
    *,
    version: ModelVersion,
    product_pk: int,
    kind: str,
    limit: int,
    facts: Mapping[int, ProductFacts],
    rules: list[Rule],
) -> list[dict]:
    """A product's related or bought-together list; falls back to the shop's popular list."""
    items = recommendation_list_get(version=version, kind=kind, anchor=str(product_pk))
    if items is None:
        items = recommendation_list_get(version=version, kind=ListKind.POPULAR, anchor="") or []
    return rules_apply(
        items=items,
        list_kind=kind,
        anchor=facts.get(product_pk),
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
    )


def recommendations_for_customer(
    *, version: ModelVersion, customer_ref: str, limit: int, facts: Mapping[int, ProductFacts], rules: list[Rule]
) -> list[dict]:
    """A customer's personal list without anything they bought, even since training."""
    items = recommendation_list_get(version=version, kind=ListKind.PERSONAL, anchor=customer_ref)
    if items is None:
        items = recommendation_list_get(version=version, kind=ListKind.POPULAR, anchor="") or []
    bought = customer_product_ids(customer_ref=customer_ref)
    return rules_apply(
        items=[item for item in items if item["product_id"] not in bought],
        list_kind=ListKind.PERSONAL,
        anchor=None,
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
    )
