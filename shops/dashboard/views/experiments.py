"""Experiments: A/B tests of what a storefront block shows, with a duration fixed up front, a
stop button that gives up the verdict, and the results once a test has ended."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from recommendations.models import Experiment
from recommendations.selectors import experiment_results_get
from recommendations.services.experiments import ARM_KEYS, MAX_DAYS, MIN_DAYS, experiment_create, experiment_stop
from shops.dashboard.views.base import dashboard_page, field_errors, redirect_to, whole_number
from shops.demo import DEMO_DOMAIN
from shops.errors import ValidationFailed
from shops.models import Shop

_NOTICES = {
    "created": "Test scheduled. Visitors who allow analytics are split between the arms from its start.",
    "stopped": "Test stopped. Its figures are kept, without a verdict.",
}


def _form_values(data) -> dict:
    values = {key: data.get(key, "") for key in ("name", "block", "duration_days", "starts_on")}
    for key in ARM_KEYS:
        values[f"strategy_{key}"] = data.get(f"strategy_{key}", "")
        values[f"weight_{key}"] = data.get(f"weight_{key}", "")
    return values


def _page(request: HttpRequest, shop: Shop, *, values: dict, errors: dict, status: int = 200) -> HttpResponse:
    now = timezone.now()
    experiments = list(Experiment.objects.order_by("-starts_at", "-pk")[:20])
    rows = [{"experiment": e, "results": experiment_results_get(experiment=e, now=now)} for e in experiments]
    return render(
        request,
        "dashboard/experiments.html",
        {
            "shop": shop,
            "rows": rows,
            "values": values,
            "errors": errors,
            "blocks": Experiment.Block.choices,
            "strategies": Experiment.Strategy.choices,
            "arm_keys": ARM_KEYS,
            "min_days": MIN_DAYS,
            "max_days": MAX_DAYS,
            "notice": _NOTICES.get(request.GET.get("done", ""), ""),
            "simulated": shop.domain == DEMO_DOMAIN,
        },
        status=status,
    )


DEFAULT_VALUES = {
    "block": "bought_together",
    "duration_days": "14",
    "strategy_A": "model",
    "weight_A": "50",
    "strategy_B": "popular",
    "weight_B": "50",
}


@dashboard_page(methods=("GET", "POST"))
def experiments(request: HttpRequest, shop: Shop) -> HttpResponse:
    if request.method == "GET":
        return _page(request, shop, values=dict(DEFAULT_VALUES), errors={})
    values = _form_values(request.POST)
    errors: dict[str, str] = {}
    arms = [
        {"strategy": values[f"strategy_{key}"], "weight": whole_number(values[f"weight_{key}"])}
        for key in ARM_KEYS
        if values[f"strategy_{key}"]
    ]
    starts_on = None
    if values["starts_on"]:
        try:
            starts_on = dt.date.fromisoformat(values["starts_on"])
        except ValueError:
            errors["starts_on"] = "a date as YYYY-MM-DD"
    if not errors:
        try:
            experiment_create(
                shop=shop,
                name=values["name"],
                block=values["block"],
                arms=arms,
                duration_days=whole_number(values["duration_days"]),
                starts_on=starts_on,
            )
            return redirect_to(request, "dashboard-experiments", done="created")
        except ValidationFailed as error:
            errors = field_errors(error)
    return _page(request, shop, values=values, errors=errors, status=400)


@dashboard_page(methods=("POST",))
def experiment_stop_view(request: HttpRequest, shop: Shop, experiment_id: int) -> HttpResponse:
    try:
        experiment_stop(shop=shop, experiment_id=experiment_id)
    except Experiment.DoesNotExist as error:  # another shop's test reads exactly like a missing one
        raise Http404("No such experiment.") from error
    return redirect_to(request, "dashboard-experiments", done="stopped")
