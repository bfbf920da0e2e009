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


# A shop the size of UCI Online Retail (4k products, 20k orders) trains in about a minute on one
# core; 20 minutes leaves room for shops 10x larger. Acknowledged only once done, and given back
# to the queue if the worker process dies (kill -9, out of memory), so no training is lost with
# its worker; the broker's visibility timeout (CELERY_BROKER_TRANSPORT_OPTIONS) is longer than
# the hard limit, so a message is never handed out twice while its training still runs. Retries
# only wait for a presumed-dead run's heartbeat to go stale, at most for the hard limit.
@shared_task(
    name="recommendations.training_run_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=15,
    soft_time_limit=20 * 60,
    time_limit=25 * 60,
)
def training_run_execute(self, shop_id: int, run_id: int) -> None:
    from recommendations.models import TrainingRun
    from recommendations.services.training import training_run_execute as execute
    from recommendations.services.training_runs import training_run_take_over, training_shutdown_guard

    with shop_scope_by_id(shop_id) as shop:
        if shop is None:
            return
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            return
        with training_shutdown_guard():
            run = execute(shop=shop, run=run)
        if run.status == TrainingRun.Status.RUNNING:
            wait = training_run_take_over(shop=shop, run=run)
            if wait is not None:
                raise self.retry(countdown=wait)


# Every two minutes (CELERY_BEAT_SCHEDULE): one indexed query across shops, then a few updates.
@shared_task(name="recommendations.training_runs_reap", soft_time_limit=60, time_limit=90)
def training_runs_reap() -> int:
    from recommendations.services.training_runs import training_runs_reap as reap

    return reap()


# Only fans out: one training task per shop whose data changed since its last training.
@shared_task(name="recommendations.training_nightly", soft_time_limit=5 * 60, time_limit=6 * 60)
def training_nightly() -> int:
    from recommendations.services.training import training_nightly_fan_out

    return training_nightly_fan_out()


# One shop's finished days of events and of orders (the insights' rollups): a few aggregate
# queries and upserts; a minute is ample.
@shared_task(name="recommendations.events_roll_up", soft_time_limit=60, time_limit=90)
def events_roll_up(shop_id: int) -> None:
    from recommendations.services.events import events_roll_up as roll_up
    from recommendations.services.insights import orders_roll_up_recent

    with shop_scope_by_id(shop_id) as shop:
        if shop is not None:
            roll_up(shop=shop)
            orders_roll_up_recent(shop=shop)


# Only fans out, one task per shop.
@shared_task(name="recommendations.events_roll_up_all", soft_time_limit=60, time_limit=90)
def events_roll_up_all() -> int:
    from shops.models import Shop

    shop_ids = list(Shop.objects.values_list("pk", flat=True))
    for shop_id in shop_ids:
        events_roll_up.delay(shop_id)
    return len(shop_ids)
