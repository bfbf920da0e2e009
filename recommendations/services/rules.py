"""Merchant rules: validated writes. Nothing is saved unless the whole rule is valid."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from django.db import transaction

from recommendations.models import ListKind, MerchantRule
from recommendations.storefront.cache import storefront_invalidate
from shops.errors import ValidationFailed
from shops.models import Product, Shop

_RULE_LIST_KINDS = {ListKind.RELATED, ListKind.BOUGHT_TOGETHER, ListKind.PERSONAL, "cart"}
_WHEN_KEYS = {"category", "vendor", "tag", "price_min", "price_max", "date_from", "date_to"}
_THEN_KEYS = {"category", "vendor", "tag", "product_ids"}
MAX_PRODUCTS_PER_RULE = 50


def _product_ids(value, *, field: str, errors: dict[str, str], required: bool = True) -> list[int]:
    if value in (None, []) and not required:
        return []
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        errors[field] = "a non-empty list of product ids"
        return []
    if len(value) > MAX_PRODUCTS_PER_RULE:
        errors[field] = f"at most {MAX_PRODUCTS_PER_RULE} products"
        return []
    found = set(Product.objects.filter(pk__in=value).values_list("pk", flat=True))
    missing = [pk for pk in value if pk not in found]
    if missing:
        # Another shop's product reads exactly like a missing one.
        errors[field] = f"unknown product id(s): {', '.join(map(str, missing))}"
    return list(dict.fromkeys(value))


def _text(value, *, field: str, errors: dict[str, str]) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        errors[field] = "a non-empty text of at most 255 characters"


def _validate_when(when, errors: dict[str, str]) -> None:
    if not isinstance(when, dict):
        errors["when"] = "an object with conditions"
        return
    unknown = set(when) - _WHEN_KEYS
    if unknown:
        errors["when"] = f"unknown condition(s): {', '.join(sorted(unknown))}"
    for key in ("category", "vendor", "tag"):
        if key in when:
            _text(when[key], field=f"when.{key}", errors=errors)
    for key in ("price_min", "price_max"):
        if key in when and (not isinstance(when[key], (int, float)) or isinstance(when[key], bool) or when[key] < 0):
            errors[f"when.{key}"] = "a price of 0 or more"
    dates = {}
    for key in ("date_from", "date_to"):
        if key in when:
            try:
                dates[key] = dt.date.fromisoformat(str(when[key]))
            except ValueError:
                errors[f"when.{key}"] = "a date as YYYY-MM-DD"
    if "price_min" in when and "price_max" in when and not errors.keys() & {"when.price_min", "when.price_max"}:
        if when["price_min"] > when["price_max"]:
            errors["when.price_max"] = "must not be below price_min"
    if len(dates) == 2 and dates["date_from"] > dates["date_to"]:
        errors["when.date_to"] = "must not be before date_from"


def _validate_params(kind: str, params, errors: dict[str, str]) -> dict:
    if not isinstance(params, dict):
        errors["params"] = "an object"
        return {}
    if kind == MerchantRule.Kind.PIN:
        clean = {"product_ids": _product_ids(params.get("product_ids"), field="product_ids", errors=errors)}
        anchors = _product_ids(
            params.get("anchor_product_ids"), field="anchor_product_ids", errors=errors, required=False
        )
        if anchors:
            clean["anchor_product_ids"] = anchors
        return clean
    if kind == MerchantRule.Kind.EXCLUDE:
        return {"product_ids": _product_ids(params.get("product_ids"), field="product_ids", errors=errors)}
    if kind == MerchantRule.Kind.NEVER_PAIR:
        clean = {
            "product_ids": _product_ids(params.get("product_ids"), field="product_ids", errors=errors),
            "with_product_ids": _product_ids(params.get("with_product_ids"), field="with_product_ids", errors=errors),
        }
        if set(clean["product_ids"]) & set(clean["with_product_ids"]):
            errors["with_product_ids"] = "a product cannot be kept apart from itself"
        return clean
    if kind == MerchantRule.Kind.IF_THEN:
        when, then = params.get("when"), params.get("then")
        _validate_when(when, errors)
        if not isinstance(then, dict) or len(set(then) & _THEN_KEYS) != 1 or set(then) - _THEN_KEYS:
            errors["then"] = "exactly one of category, vendor, tag or product_ids"
        elif "product_ids" in then:
            then = {"product_ids": _product_ids(then["product_ids"], field="then.product_ids", errors=errors)}
        else:
            key = next(iter(then))
            _text(then[key], field=f"then.{key}", errors=errors)
        max_items = params.get("max_items", 2)
        if not isinstance(max_items, int) or isinstance(max_items, bool) or not 1 <= max_items <= 12:
            errors["max_items"] = "a whole number from 1 to 12"
        return {"when": when, "then": then, "max_items": max_items}
    errors["kind"] = f"one of {', '.join(MerchantRule.Kind.values)}"
    return {}


def _validate_list_kinds(list_kinds: Sequence[str] | None, errors: dict[str, str]) -> list[str]:
    values = list(list_kinds or [])
    unknown = [value for value in values if value not in _RULE_LIST_KINDS]
    if unknown:
        errors["list_kinds"] = f"unknown list kind(s): {', '.join(map(str, unknown))}"
    return sorted(set(values))


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed.for_fields("rule", errors)


def _clean(*, kind: str, params: Mapping, list_kinds: Sequence[str] | None, name: str) -> tuple[dict, list[str]]:
    errors: dict[str, str] = {}
    clean_params = _validate_params(kind, params, errors)
    clean_kinds = _validate_list_kinds(list_kinds, errors)
    if not isinstance(name, str) or len(name) > 120:
        errors["name"] = "at most 120 characters"
    _raise_if(errors)
    return clean_params, clean_kinds


def merchant_rule_clean(*, kind: str, params: Mapping, list_kinds: Sequence[str] | None = None, name: str = "") -> dict:
    """A rule's canonical parameters without saving anything (for previews); ValidationFailed
    lists every problem."""
    return _clean(kind=kind, params=params, list_kinds=list_kinds, name=name)[0]


def _invalidate_on_commit(shop: Shop) -> None:
    transaction.on_commit(lambda: storefront_invalidate(domain=shop.domain))


@transaction.atomic
def merchant_rule_create(
    *,
    shop: Shop,
    kind: str,
    params: Mapping,
    list_kinds: Sequence[str] | None = None,
    name: str = "",
    enabled: bool = True,
    position: int | None = None,
) -> MerchantRule:
    """Validate and save a rule of the shop in scope; ValidationFailed lists every problem."""
    clean_params, clean_kinds = _clean(kind=kind, params=params, list_kinds=list_kinds, name=name)
    if position is None:
        last = MerchantRule.objects.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    _invalidate_on_commit(shop)
    return MerchantRule.objects.create(
        shop=shop,
        kind=kind,
        params=clean_params,
        list_kinds=clean_kinds,
        name=name,
        enabled=enabled,
        position=position,
    )


def _rule_locked(rule_id: int) -> MerchantRule:
    """The rule of the shop in scope, locked; another shop's rule is as missing as a deleted one."""
    rule = MerchantRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise MerchantRule.DoesNotExist(f"No rule {rule_id}.")
    return rule


_UNCHANGED = object()


@transaction.atomic
def merchant_rule_update(
    *,
    shop: Shop,
    rule_id: int,
    params: Mapping | None = None,
    list_kinds: Sequence[str] | None | object = _UNCHANGED,
    name: str | None = None,
    enabled: bool | None = None,
) -> MerchantRule:
    """Change a rule of the shop in scope (its kind stays); validated as a whole, nothing saved
    on error. Raises MerchantRule.DoesNotExist for an unknown id."""
    rule = _rule_locked(rule_id)
    clean_params, clean_kinds = _clean(
        kind=rule.kind,
        params=rule.params if params is None else params,
        list_kinds=rule.list_kinds if list_kinds is _UNCHANGED else list_kinds,
        name=rule.name if name is None else name,
    )
    rule.params, rule.list_kinds = clean_params, clean_kinds
    if name is not None:
        rule.name = name
    if enabled is not None:
        rule.enabled = bool(enabled)
    rule.save()
    _invalidate_on_commit(shop)
    return rule


@transaction.atomic
def merchant_rule_delete(*, shop: Shop, rule_id: int) -> None:
    _rule_locked(rule_id).delete()
    _invalidate_on_commit(shop)


@transaction.atomic
def merchant_rule_move(*, shop: Shop, rule_id: int, offset: int) -> list[int]:
    """Move a rule up (offset < 0) or down in the order rules run in; returns the new order.
    Positions are renumbered 0..n-1 so that they stay unique."""
    rules = list(MerchantRule.objects.select_for_update().order_by("position", "pk"))
    ids = [rule.pk for rule in rules]
    if rule_id not in ids:
        raise MerchantRule.DoesNotExist(f"No rule {rule_id}.")
    index = ids.index(rule_id)
    target = min(max(index + offset, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    by_id = {rule.pk: rule for rule in rules}
    for position, pk in enumerate(ids):
        if by_id[pk].position != position:
            by_id[pk].position = position
            by_id[pk].save(update_fields=["position", "updated_at"])
    _invalidate_on_commit(shop)
    return ids
