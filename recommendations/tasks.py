"""Celery entry points of the recommendations app: thin wrappers around one service each."""

from __future__ import annotations

from celery import shared_task

from shops.tenancy import shop_scope_by_id


# Routed to the training queue (CELERY_TASK_ROUTES): it is the first read of a training run's
# data. A few aggregate queries take seconds even for a large shop, so a minute is generous.
@shared_task(name="recommendations.data_profile_refresh", soft_time_limit=60, time_limit=90)
def data_profile_refresh(shop_id: int) -> None:
    from recommendations.services.data_profile import data_profile_refresh as refresh

    with shop_scope_by_id(shop_id) as shop:
        if shop is not None:
            refresh(shop=shop)
