"""Rules: list, create, edit, order, switch off and delete the merchant's rules, with a preview
of what a rule does to the live lists before it is saved."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from recommendations.models import MerchantRule
from recommendations.selectors import merchant_rules_all, rule_effect_preview, rule_for_engine
from recommendations.services.rules import (
    merchant_rule_clean,
    merchant_rule_create,
    merchant_rule_delete,
    merchant_rule_move,
    merchant_rule_update,
)
from shops.dashboard.rule_form import (
    LIST_CHOICES,
    THEN_TYPES,
    RuleForm,
    rule_describe,
    rule_form_errors,
    rule_form_initial,
    rule_form_parse,
    rule_product_pks,
)
from shops.dashboard.views.base import dashboard_page, field_errors, redirect_to
from shops.errors import ValidationFailed
from shops.models import Product, Shop


def _titles(rules: list[MerchantRule]) -> dict[int, str]:
    pks = set().union(*(rule_product_pks(rule) for rule in rules))
    return dict(Product.objects.filter(pk__in=pks).values_list("pk", "title"))


@dashboard_page
def rules(request: HttpRequest, shop: Shop) -> HttpResponse:
    saved = merchant_rules_all()
    titles = _titles(saved)
    rows = [{"rule": rule, "summary": rule_describe(rule, titles)} for rule in saved]
    return render(
        request,
        "dashboard/rules.html",
        {"shop": shop, "rows": rows, "notice": _NOTICES.get(request.GET.get("done", ""), "")},
    )


_NOTICES = {
    "created": "Rule saved. The storefront shows its effect now.",
    "updated": "Rule updated. The storefront shows its effect now.",
    "deleted": "Rule deleted.",
    "moved": "Order changed: rules higher up run first.",
    "enabled": "Rule switched on.",
    "disabled": "Rule switched off. It is kept, and can be switched on again.",
}


def _form_page(request: HttpRequest, shop: Shop, form: RuleForm, rule: MerchantRule | None, status: int = 200):
    return render(
        request,
        "dashboard/rule_form.html",
        {
            "shop": shop,
            "form": form,
            "rule": rule,
            "kinds": MerchantRule.Kind.choices,
            "list_choices": LIST_CHOICES,
            "then_types": THEN_TYPES,
            "preview": form.preview,
        },
        status=status,
    )


def _preview(form: RuleForm, rule: MerchantRule | None) -> dict:
    """The live lists with the saved rules, against the same lists with this rule as typed."""
    params = merchant_rule_clean(kind=form.kind, params=form.params, list_kinds=form.list_kinds, name=form.name)
    saved = merchant_rules_all()
    before = [rule_for_engine(r) for r in saved if r.enabled]
    candidate = MerchantRule(kind=form.kind, params=params, list_kinds=form.list_kinds, enabled=form.enabled)
    after = []
    replaced = False
    for existing in saved:
        if rule is not None and existing.pk == rule.pk:
            replaced = True
            if candidate.enabled:
                after.append(rule_for_engine(candidate))
        elif existing.enabled:
            after.append(rule_for_engine(existing))
    if not replaced and candidate.enabled:
        after.append(rule_for_engine(candidate))
    return rule_effect_preview(rules_before=before, rules_after=after, list_kinds=form.list_kinds)


def _submit(request: HttpRequest, shop: Shop, rule: MerchantRule | None) -> HttpResponse:
    form = rule_form_parse(request.POST, request.POST.getlist("list_kinds"))
    if form.errors:
        # Show every problem at once: what the service would also refuse, next to the form's own.
        try:
            merchant_rule_clean(kind=form.kind, params=form.params, list_kinds=form.list_kinds, name=form.name)
        except ValidationFailed as error:
            form.errors = {**rule_form_errors(field_errors(error)), **form.errors}
        return _form_page(request, shop, form, rule, status=400)
    try:
        if request.POST.get("intent") == "preview":
            form.preview = _preview(form, rule)
            return _form_page(request, shop, form, rule)
        fields = {"params": form.params, "list_kinds": form.list_kinds, "name": form.name, "enabled": form.enabled}
        if rule is None:
            merchant_rule_create(shop=shop, kind=form.kind, **fields)
        else:
            merchant_rule_update(shop=shop, rule_id=rule.pk, **fields)
        return redirect_to(request, "dashboard-rules", done="created" if rule is None else "updated")
    except ValidationFailed as error:
        form.errors = rule_form_errors(field_errors(error)) or {"kind": error.message}
        return _form_page(request, shop, form, rule, status=400)


@dashboard_page(methods=("GET", "POST"))
def rule_new(request: HttpRequest, shop: Shop) -> HttpResponse:
    if request.method == "POST":
        return _submit(request, shop, None)
    kind = request.GET.get("kind", MerchantRule.Kind.PIN)
    return _form_page(request, shop, RuleForm(kind=kind if kind in MerchantRule.Kind.values else "pin"), None)


def _rule_or_404(rule_id: int) -> MerchantRule:
    rule = MerchantRule.objects.filter(pk=rule_id).first()
    if rule is None:  # another shop's rule reads exactly like a missing one
        raise Http404("No such rule.")
    return rule


@dashboard_page(methods=("GET", "POST"))
def rule_edit(request: HttpRequest, shop: Shop, rule_id: int) -> HttpResponse:
    rule = _rule_or_404(rule_id)
    if request.method == "POST":
        return _submit(request, shop, rule)
    return _form_page(request, shop, rule_form_initial(rule), rule)


@dashboard_page(methods=("POST",))
def rule_action(request: HttpRequest, shop: Shop, rule_id: int) -> HttpResponse:
    """Switch on/off, move up/down or delete one rule."""
    rule = _rule_or_404(rule_id)
    action = request.POST.get("action", "")
    if action == "delete":
        merchant_rule_delete(shop=shop, rule_id=rule.pk)
        return redirect_to(request, "dashboard-rules", done="deleted")
    if action in ("up", "down"):
        merchant_rule_move(shop=shop, rule_id=rule.pk, offset=-1 if action == "up" else 1)
        return redirect_to(request, "dashboard-rules", done="moved")
    if action in ("enable", "disable"):
        merchant_rule_update(shop=shop, rule_id=rule.pk, enabled=action == "enable")
        return redirect_to(request, "dashboard-rules", done=f"{action}d")
    return HttpResponse("action: one of enable, disable, up, down, delete", status=400, content_type="text/plain")
