"""The rule form: between what a merchant types (their store's product ids, plain fields) and
what `merchant_rule_create` / `merchant_rule_update` validate (product pks, nested params).

Field names are the service's error keys ("product_ids", "when.category", ...), so its
messages land next to the right field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from recommendations.models import MerchantRule
from shops.dashboard.views.base import whole_number
from shops.models import Product

WHEN_TEXT = ("when.category", "when.vendor", "when.tag")
WHEN_PRICES = ("when.price_min", "when.price_max")
WHEN_DATES = ("when.date_from", "when.date_to")
THEN_TYPES = ("category", "vendor", "tag", "product_ids")
LIST_CHOICES = (
    ("related", "Related products"),
    ("bought_together", "Frequently bought together"),
    ("cart", "Cart"),
    ("personal", "Picked for you"),
)


@dataclass
class RuleForm:
    kind: str = MerchantRule.Kind.PIN
    name: str = ""
    enabled: bool = True
    list_kinds: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # every text field as typed
    params: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    preview: dict | None = None  # what the rule would change, when asked for


def _external_ids(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text or "") if part]


def _resolve(text: str, *, name: str, errors: dict[str, str]) -> list[int]:
    """The store's product ids as typed, to product pks of the shop in scope."""
    wanted = _external_ids(text)
    found = dict(Product.objects.filter(external_id__in=wanted).values_list("external_id", "pk"))
    missing = [external for external in wanted if external not in found]
    if missing:
        errors[name] = f"no product with id {', '.join(missing[:5])} in this store"
    return [found[external] for external in wanted if external in found]


def _number(text: str, *, name: str, errors: dict[str, str]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        errors[name] = "a number, e.g. 25 or 9.99"
        return None
    return int(value) if value.is_integer() else value


def rule_form_parse(data: Mapping[str, str], lists: list[str]) -> RuleForm:
    """Read a submitted form into service arguments; problems the form itself can see (unknown
    product ids, text where a number goes) are collected, the service adds the rest."""
    form = RuleForm(
        kind=data.get("kind", ""),
        name=data.get("name", "").strip(),
        enabled=data.get("enabled") == "on",
        list_kinds=list(lists),
        values={key: str(value).strip() for key, value in data.items()},
    )
    values, errors = form.values, form.errors
    if form.kind in (MerchantRule.Kind.PIN, MerchantRule.Kind.EXCLUDE, MerchantRule.Kind.NEVER_PAIR):
        form.params["product_ids"] = _resolve(values.get("product_ids", ""), name="product_ids", errors=errors)
    if form.kind == MerchantRule.Kind.PIN and values.get("anchor_product_ids"):
        form.params["anchor_product_ids"] = _resolve(
            values["anchor_product_ids"], name="anchor_product_ids", errors=errors
        )
    if form.kind == MerchantRule.Kind.NEVER_PAIR:
        form.params["with_product_ids"] = _resolve(
            values.get("with_product_ids", ""), name="with_product_ids", errors=errors
        )
    if form.kind == MerchantRule.Kind.IF_THEN:
        when: dict = {}
        for name in WHEN_TEXT + WHEN_DATES:
            if values.get(name):
                when[name.split(".", 1)[1]] = values[name]
        for name in WHEN_PRICES:
            if values.get(name):
                number = _number(values[name], name=name, errors=errors)
                if number is not None:
                    when[name.split(".", 1)[1]] = number
        then_type = values.get("then_type", "")
        then_value = values.get("then_value", "")
        if then_type == "product_ids":
            then = {"product_ids": _resolve(then_value, name="then_value", errors=errors)}
        elif then_type in THEN_TYPES:
            then = {then_type: then_value}
        else:
            then = {}
        form.params = {
            "when": when,
            "then": then,
            "max_items": whole_number(values.get("max_items") or "2"),
        }
    return form


def rule_form_errors(service_errors: Mapping[str, str]) -> dict[str, str]:
    """The service's error keys as form field names (the chosen products of an if-then rule
    are typed in one field with the other targets)."""
    renamed = {f"then.{target}": "then_value" for target in THEN_TYPES}
    return {renamed.get(key, key): message for key, message in service_errors.items()}


def rule_product_pks(rule: MerchantRule) -> set[int]:
    """Every product a rule names, wherever in its parameters."""
    params = rule.params or {}
    pks = {pk for key in ("product_ids", "anchor_product_ids", "with_product_ids") for pk in params.get(key, [])}
    return pks | set((params.get("then") or {}).get("product_ids", []))


def rule_form_initial(rule: MerchantRule) -> RuleForm:
    """A saved rule as the form shows it, with the store's product ids."""
    params = rule.params or {}
    external = dict(Product.objects.filter(pk__in=rule_product_pks(rule)).values_list("pk", "external_id"))

    def ids(values) -> str:
        return ", ".join(external.get(pk, str(pk)) for pk in values or [])

    values = {key: ids(params.get(key)) for key in ("product_ids", "anchor_product_ids", "with_product_ids")}
    when, then = params.get("when") or {}, params.get("then") or {}
    for key, value in when.items():
        values[f"when.{key}"] = str(value)
    for key in THEN_TYPES:
        if key in then:
            values["then_type"] = key
            values["then_value"] = ids(then[key]) if key == "product_ids" else str(then[key])
    values["max_items"] = str(params.get("max_items", 2))
    return RuleForm(
        kind=rule.kind, name=rule.name, enabled=rule.enabled, list_kinds=list(rule.list_kinds), values=values
    )


def rule_describe(rule: MerchantRule, titles: Mapping[int, str]) -> str:
    """One sentence a merchant can read for the rule list."""
    params = rule.params or {}

    def names(key: str, source: Mapping | None = None) -> str:
        chosen = [titles.get(pk, f"#{pk}") for pk in (source or params).get(key, [])]
        return ", ".join(chosen[:4]) + (f" and {len(chosen) - 4} more" if len(chosen) > 4 else "")

    if rule.kind == MerchantRule.Kind.PIN:
        where = f" when viewing {names('anchor_product_ids')}" if params.get("anchor_product_ids") else ""
        return f"Show {names('product_ids')} first{where}."
    if rule.kind == MerchantRule.Kind.EXCLUDE:
        return f"Never recommend {names('product_ids')}."
    if rule.kind == MerchantRule.Kind.NEVER_PAIR:
        return f"Never show {names('with_product_ids')} with {names('product_ids')} (and the other way round)."
    when = params.get("when") or {}
    then = params.get("then") or {}
    conditions = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in when.items()) or "any product"
    if "product_ids" in then:
        target = names("product_ids", then)
    else:
        target = ", ".join(f"{key} “{value}”" for key, value in then.items())
    return f"When viewing {conditions}: recommend up to {params.get('max_items', 2)} from {target}."
