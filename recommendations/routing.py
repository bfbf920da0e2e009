"""Which training queue a shop's training goes to: large shops have workers of their own.

A shop with 50k products trains for many minutes and needs gigabytes; on the queue the small shops
use, one such run holds a worker process while hundreds of small trainings wait behind it. Routing
by the shop's data profile keeps them apart; the `training_large` queue gets its own workers,
ideally on machines with more memory (docs/OPERATIONS.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

TRAINING_QUEUE = "training"
TRAINING_LARGE_QUEUE = "training_large"
_ROUTED_TASKS = {"recommendations.training_run_execute"}


def training_queue_for(*, shop_id: int) -> str:
    """`training_large` when the shop's data profile reaches either size threshold, else `training`.

    A shop without a profile yet (nothing imported or synced so far) counts as small: its first
    profile refresh runs before any training that has data to learn from.
    """
    from recommendations.models import DataProfile
    from shops.tenancy import shop_scope

    with shop_scope(shop_id):
        sizes = DataProfile.objects.values_list("products", "order_lines").first()
    if sizes is None:
        return TRAINING_QUEUE
    products, order_lines = sizes
    if products >= settings.TRAINING_LARGE_SHOP_PRODUCTS or order_lines >= settings.TRAINING_LARGE_SHOP_ORDER_LINES:
        return TRAINING_LARGE_QUEUE
    return TRAINING_QUEUE


def training_time_limits(queue: str) -> dict[str, int]:
    """apply_async options for a training on `queue`: the task's own limits (20 / 25 min) on
    `training`, `TRAINING_LARGE_TIME_LIMIT_MINUTES` (and 5 more for the hard limit) on
    `training_large`, whose workers nobody small waits for. A Celery router cannot set time
    limits, so the caller that queues the run passes these."""
    if queue != TRAINING_LARGE_QUEUE:
        return {}
    soft = settings.TRAINING_LARGE_TIME_LIMIT_MINUTES * 60
    return {"soft_time_limit": soft, "time_limit": soft + 5 * 60}


def training_task_route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **extra: Any) -> dict | None:
    """A Celery router (first in CELERY_TASK_ROUTES): a training run goes to its shop's queue;
    every other task, and a call without a shop id, falls through to the per-task table. A call
    that names its queue (`training_run_start` does, to pass that queue's time limits) keeps it
    without asking the database again."""
    if name not in _ROUTED_TASKS or (options or {}).get("queue"):
        return None
    shop_id = args[0] if args else (kwargs or {}).get("shop_id")
    if not isinstance(shop_id, int):
        return None
    return {"queue": training_queue_for(shop_id=shop_id)}
