from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from recommendations.services.settings import (
    event_retention_days_get,
    recommendation_settings_update,
    retention_settings_update,
)
from shops.dashboard.selectors import dashboard_privacy_fairness_get
from shops.dashboard.views.base import dashboard_page, field_errors, redirect_to, whole_number
from shops.errors import ValidationFailed
from shops.models import Shop

DIVERSITY_FORM, RETENTION_FORM = "diversity", "retention"


def _decimal_number(raw: str | None) -> float | str:
    text = (raw or "").strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _diversity_from(form: QueryDict) -> dict:
    """Only the chosen strategy's parameters: the others' fields are on the form but do not apply."""
    strategy = form.get("strategy", "")
    if strategy == "cap":
        limit = whole_number(form.get("max_per_group"))
        return {"strategy": "cap", "group": form.get("group", ""), "max_per_group": limit}
    if strategy == "mmr":
        return {"strategy": "mmr", "lambda": _decimal_number(form.get("lambda"))}
    return {"strategy": strategy}


def _saved_notice(saved: str, shop: Shop) -> str:
    if saved == DIVERSITY_FORM:
        return (
            "Saved. The diversity setting applies from the next training; the live lists stay as they are until then."
        )
    if saved == RETENTION_FORM:
        days = event_retention_days_get(shop=shop)
        return f"Saved. Raw widget events are kept {days} days; older ones are deleted in the nightly clean-up."
    return ""


@dashboard_page(methods=("GET", "POST"))
def privacy(request: HttpRequest, shop: Shop) -> HttpResponse:
    errors: dict[str, str] = {}
    submitted: QueryDict | None = None
    form = request.POST.get("form", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            if form == DIVERSITY_FORM:
                recommendation_settings_update(shop=shop, diversity=_diversity_from(request.POST))
            elif form == RETENTION_FORM:
                retention_settings_update(shop=shop, event_days=whole_number(request.POST.get("event_days")))
            else:
                raise ValidationFailed("Unknown form: reload the page and try again.")
            return redirect_to(request, "dashboard-privacy", saved=form)
        except ValidationFailed as error:
            errors = field_errors(error) or {"form": error.message}
            submitted = request.POST
    context = dashboard_privacy_fairness_get(shop=shop)
    diversity = context["diversity"]
    diversity_form = {
        "strategy": diversity.get("strategy", "none"),
        "group": diversity.get("group", "category"),
        "max_per_group": diversity.get("max_per_group", 2),
        "lambda": diversity.get("lambda", 0.7),
    }
    event_days_value: object = context["event_days"]
    if submitted is not None and form == DIVERSITY_FORM:
        diversity_form.update({key: submitted.get(key, "") for key in diversity_form})
    if submitted is not None and form == RETENTION_FORM:
        event_days_value = submitted.get("event_days", "")
    context.update(
        shop=shop,
        errors=errors,
        failed_form=form if errors else "",
        diversity_form=diversity_form,
        event_days_value=event_days_value,
        saved_notice="" if errors else _saved_notice(request.GET.get("saved", ""), shop),
    )
    return render(request, "dashboard/privacy.html", context, status=400 if errors else 200)
