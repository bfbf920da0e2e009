"""Loading a generated demo shop through the same services real imports use."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from shops.demo.generator import DemoShop
from shops.models import SELLABLE, Order, OrderLine, Product, Shop
from shops.services.catalog import product_bulk_upsert
from shops.services.maintenance import table_statistics_refresh
from shops.services.orders import order_bulk_import

_ORDERS_PER_BATCH = 1000


@dataclass(frozen=True)
class DemoLoadResult:
    products: int
    orders_created: int
    orders_already_present: int


def demo_shop_load(*, shop: Shop, demo: DemoShop) -> DemoLoadResult:
    """Upsert the demo catalogue and insert the demo orders not stored yet (idempotent).

    Must run inside the shop's scope.
    """
    with transaction.atomic():
        product_ids = product_bulk_upsert(shop=shop, records=demo.products)
        created = already_present = 0
        for start in range(0, len(demo.orders), _ORDERS_PER_BATCH):
            result = order_bulk_import(
                shop=shop, records=demo.orders[start : start + _ORDERS_PER_BATCH], product_ids=product_ids
            )
            created += len(result.created)
            already_present += len(result.already_present)
    if created:
        table_statistics_refresh(models_changed=[Product, Order, OrderLine])
    return DemoLoadResult(products=len(product_ids), orders_created=created, orders_already_present=already_present)


def demo_traffic_simulate(*, shop: Shop, days: int = 30, seed: int = 7) -> int:
    """Simulated widget traffic and attributed orders for the demo shop's insights (idempotent).

    Daily impressions, clicks and widget add-to-carts go straight into the daily rollups (what
    the nightly rollup makes of raw events), and a share of the recent multi-item orders get their
    last line marked as added from "Frequently bought together". Only for the demo shop: the
    dashboard labels these figures as simulated. Must run inside the shop's scope. Returns the
    number of rollup rows written.
    """
    import datetime as dt
    import random

    from django.utils import timezone

    from recommendations.models import EventDailyRollup
    from recommendations.services.insights import orders_roll_up

    rng = random.Random(seed)
    today = timezone.now().date()
    shown = list(Product.objects.filter(SELLABLE).order_by("pk").values_list("external_id", flat=True)[:60])
    rows = []
    for back in range(1, days + 1):
        day = today - dt.timedelta(days=back)
        for external_id in rng.sample(shown, k=min(len(shown), 25)):
            impressions = rng.randint(20, 160)
            clicks = sum(rng.random() < 0.06 for _ in range(impressions))
            adds = sum(rng.random() < 0.3 for _ in range(clicks))
            block = rng.choice(("related", "bought_together"))
            for kind, count in (("impression", impressions), ("click", clicks), ("add_to_cart", adds)):
                if count:
                    rows.append(
                        EventDailyRollup(
                            shop=shop, day=day, block=block, kind=kind, product_external_id=external_id, count=count
                        )
                    )
    with transaction.atomic():
        EventDailyRollup.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["shop", "day", "block", "kind", "product_external_id"],
            update_fields=["count"],
        )
        since = timezone.now() - dt.timedelta(days=days + 1)
        recent = Order.objects.filter(status=Order.Status.PAID, created_at__gte=since).order_by("pk")
        marked = []
        for order_id in recent.values_list("pk", flat=True):
            lines = list(OrderLine.objects.filter(order_id=order_id).order_by("pk").values_list("pk", flat=True))
            if len(lines) >= 2 and rng.random() < 0.2:
                marked.append(lines[-1])
        OrderLine.objects.filter(pk__in=marked).update(source_block="bought_together")
        for back in range(1, days + 1):
            orders_roll_up(shop=shop, day=today - dt.timedelta(days=back))
    return len(rows)


DEMO_EXPERIMENT_FINISHED = "Model or best sellers, bought together (simulated)"
DEMO_EXPERIMENT_RUNNING = "Model or best sellers, related products (simulated)"


def demo_experiments_simulate(*, shop: Shop, seed: int = 11) -> int:
    """Two A/B tests for the demo shop's Experiments page (idempotent): one that ended two weeks
    ago, with simulated visitors and its window's orders split between the arms, and one that is
    still running (visitors only, as a real one shows). Must run inside the shop's scope.
    Returns the number of tests created."""
    import datetime as dt
    import random
    import secrets

    from django.utils import timezone

    from recommendations.models import Experiment, ExperimentDailyCount

    if Experiment.objects.filter(name__in=[DEMO_EXPERIMENT_FINISHED, DEMO_EXPERIMENT_RUNNING]).exists():
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    arms = [{"key": "A", "strategy": "model", "weight": 50}, {"key": "B", "strategy": "popular", "weight": 50}]
    with transaction.atomic():
        finished = Experiment.objects.create(
            shop=shop,
            name=DEMO_EXPERIMENT_FINISHED,
            block=Experiment.Block.BOUGHT_TOGETHER,
            arms=arms,
            salt=secrets.token_hex(8),
            starts_at=now - dt.timedelta(days=35),
            ends_at=now - dt.timedelta(days=14),
        )
        running = Experiment.objects.create(
            shop=shop,
            name=DEMO_EXPERIMENT_RUNNING,
            block=Experiment.Block.RELATED,
            arms=arms,
            salt=secrets.token_hex(8),
            starts_at=now - dt.timedelta(days=4),
            ends_at=now + dt.timedelta(days=10),
        )
        counts = []
        for experiment, days in ((finished, 21), (running, 4)):
            for back in range(days):
                day = (experiment.starts_at + dt.timedelta(days=back)).date()
                for arm in "AB":
                    counts.append(
                        ExperimentDailyCount(
                            shop=shop, experiment=experiment, day=day, arm=arm, exposures=rng.randint(80, 120)
                        )
                    )
        ExperimentDailyCount.objects.bulk_create(counts)
        # The finished test's orders: the model's arm a little more likely to have led to one.
        window = Order.objects.filter(
            status=Order.Status.PAID, created_at__gte=finished.starts_at, created_at__lt=finished.ends_at
        ).values_list("pk", flat=True)
        marks: dict[str, list[int]] = {"A": [], "B": []}
        for order_id in window:
            if rng.random() < 0.6:
                marks["A" if rng.random() < 0.6 else "B"].append(order_id)
        for arm, order_ids in marks.items():
            Order.objects.filter(pk__in=order_ids).update(experiment_arm=f"{finished.pk}:{arm}")
    return 2
