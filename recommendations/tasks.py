"""Celery entry points of the recommendations app: thin wrappers around one service each."""

from __future__ import annotations

from celery import shared_task

from shops.tenancy import shop_scope_by_id


# Runs on the training queue because it is the first read of a training run's data. A few
# aggregate queries: seconds even for a large shop, so a minute of soft limit is generous.
@shared_task(name="recommendations.data_profile_refresh", queue="training", soft_time_limit=60, time_limit=90)
def data_profile_refresh(shop_id: int) -> None:
    from recommendations.services.data_profile import data_profile_refresh as refresh

    with shop_scope_by_id(shop_id) as shop:
        if shop is not None:
            refresh(shop=shop)
