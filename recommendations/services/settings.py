"""The merchant's recommendation settings, stored in `Shop.settings`, validated before saving."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction

from shops.errors import ValidationFailed
from shops.models import Shop

DIVERSITY_KEY = "diversity"
DIVERSITY_DEFAULT = {"strategy": "none"}


def diversity_settings_clean(value: Mapping | None) -> dict:
    """The diversity setting in canonical form; ValidationFailed names every problem.

    - {"strategy": "none"}: lists as the model ranks them;
    - {"strategy": "cap", "group": "category" | "vendor", "max_per_group": 1-12}: at most that
      many items of one category (or brand) per list;
    - {"strategy": "mmr", "lambda": 0.1-1.0}: maximal marginal relevance, trading score for
      variety (1.0 is pure score) with same category/brand as the similarity.
    """
    if value is None:
        return dict(DIVERSITY_DEFAULT)
    if not isinstance(value, Mapping):
        raise ValidationFailed("Invalid diversity setting: expected an object.")
    strategy = value.get("strategy", "none")
    errors = {}
    if strategy == "none":
        return dict(DIVERSITY_DEFAULT)
    if strategy == "cap":
        group, limit = value.get("group", "category"), value.get("max_per_group", 2)
        if group not in ("category", "vendor"):
            errors["group"] = "category or vendor"
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 12:
            errors["max_per_group"] = "a whole number from 1 to 12"
        clean = {"strategy": "cap", "group": group, "max_per_group": limit}
    elif strategy == "mmr":
        weight = value.get("lambda", 0.7)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0.1 <= weight <= 1.0:
            errors["lambda"] = "a number from 0.1 to 1.0"
        clean = {"strategy": "mmr", "lambda": weight}
    else:
        errors["strategy"] = "none, cap or mmr"
        clean = {}
    if errors:
        raise ValidationFailed.for_fields("diversity setting", errors)
    return clean


@transaction.atomic
def recommendation_settings_update(*, shop: Shop, diversity: Mapping) -> Shop:
    """Validate and store the diversity setting; it applies from the next training."""
    clean = diversity_settings_clean(diversity)
    locked = Shop.objects.select_for_update().get(pk=shop.pk)
    locked.settings = {**locked.settings, DIVERSITY_KEY: clean}
    locked.save(update_fields=["settings", "updated_at"])
    shop.settings = locked.settings
    return locked


RETENTION_KEY = "retention"


def event_retention_days_get(*, shop: Shop) -> int:
    """How many days the shop's raw widget events are kept: the merchant's choice, never longer
    than the operator's EVENT_RETENTION_DAYS (which is also the default)."""
    ceiling = settings.EVENT_RETENTION_DAYS
    retention = shop.settings.get(RETENTION_KEY)
    stored = retention.get("event_days") if isinstance(retention, Mapping) else None
    if isinstance(stored, int) and not isinstance(stored, bool) and stored >= 1:
        return min(stored, ceiling)
    return ceiling


def retention_settings_clean(*, event_days: object) -> dict:
    """The retention setting in canonical form; ValidationFailed names the problem."""
    ceiling = settings.EVENT_RETENTION_DAYS
    if not isinstance(event_days, int) or isinstance(event_days, bool) or not 1 <= event_days <= ceiling:
        raise ValidationFailed.for_fields(
            "retention setting", {"event_days": f"a whole number of days from 1 to {ceiling}"}
        )
    return {"event_days": event_days}


@transaction.atomic
def retention_settings_update(*, shop: Shop, event_days: object) -> Shop:
    """Validate and store how many days raw widget events are kept; the next nightly roll-up
    purges what is older. Nothing is saved when the value is refused."""
    clean = retention_settings_clean(event_days=event_days)
    locked = Shop.objects.select_for_update().get(pk=shop.pk)
    locked.settings = {**locked.settings, RETENTION_KEY: clean}
    locked.save(update_fields=["settings", "updated_at"])
    shop.settings = locked.settings
    return locked
