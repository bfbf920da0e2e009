"""Rows for tests, built through the unscoped manager so tests can set up several shops at once.

ROW_FACTORIES maps every shop-owned model to a builder; the isolation suite checks that the map is
complete, so a new shop-owned model cannot skip the isolation tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.db import models
from django.utils import timezone

from integrations.models import AppSubscription, PrivacyRequest, SyncRun, WebhookDelivery
from recommendations.models import (
    DataProfile,
    EventDailyRollup,
    Experiment,
    ExperimentDailyCount,
    MerchantRule,
    ModelVersion,
    OrderDailyRollup,
    RecommendationList,
    ServingPack,
    ShopperEvent,
    TrainingRun,
)
from recommendations.storefront.cache import storefront_invalidate
from recommendations.storefront.service import storefront_memory_clear
from shops.models import Order, OrderLine, Product, Shop

_sequence = itertools.count(1)


def make_shop(*, domain: str | None = None, platform: str = Shop.Platform.CSV, currency: str = "EUR") -> Shop:
    shop = Shop.objects.create(
        platform=platform,
        domain=domain or f"shop-{next(_sequence)}.example",
        currency=currency,
        installed_at=timezone.now(),
    )
    # Test databases reuse domains (and, rolled back, ids): no storefront state may survive.
    storefront_invalidate(domain=shop.domain)
    storefront_memory_clear()
    return shop


def demo_shop_trained(shop: Shop, *, seed: int, products: int, orders: int):
    """Load a generated demo catalogue and its orders into the shop and train it; the demo."""
    import io

    from django.core.management import call_command

    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load
    from shops.tenancy import shop_scope

    demo = demo_shop_generate(seed=seed, product_count=products, order_count=orders)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    return demo


def _persist(instance: models.Model, save: bool) -> models.Model:
    if save:
        instance.save(force_insert=True)
    return instance


def make_product(shop: Shop, *, save: bool = True, **overrides) -> Product:
    number = next(_sequence)
    fields = dict(
        shop=shop,
        external_id=f"P{number}",
        title=f"Product {number}",
        price=Decimal("9.50"),
        currency=shop.currency,
        category="Kitchen",
        vendor="Acme",
    )
    fields.update(overrides)
    return _persist(Product(**fields), save)


def make_order(shop: Shop, *, save: bool = True, **overrides) -> Order:
    number = next(_sequence)
    fields = dict(
        shop=shop,
        external_id=f"O{number}",
        created_at=timezone.now() - dt.timedelta(days=1),
        currency=shop.currency,
        total=Decimal("19.00"),
        status=Order.Status.PAID,
    )
    fields.update(overrides)
    return _persist(Order(**fields), save)


def make_order_line(shop: Shop, *, save: bool = True, **overrides) -> OrderLine:
    fields = dict(shop=shop, quantity=1, unit_price=Decimal("9.50"))
    fields.update(overrides)
    if "order" not in fields:
        fields["order"] = make_order(shop)
    if "product" not in fields:
        fields["product"] = make_product(shop)
    return _persist(OrderLine(**fields), save)


def make_data_profile(shop: Shop, *, save: bool = True, **overrides) -> DataProfile:
    fields = dict(shop=shop, paid_orders=3, computed_at=timezone.now())
    fields.update(overrides)
    return _persist(DataProfile(**fields), save)


def make_training_run(shop: Shop, *, save: bool = True, **overrides) -> TrainingRun:
    fields = dict(shop=shop, trigger=TrainingRun.Trigger.COMMAND, status=TrainingRun.Status.SUCCEEDED)
    fields.update(overrides)
    return _persist(TrainingRun(**fields), save)


def make_model_version(shop: Shop, *, save: bool = True, **overrides) -> ModelVersion:
    fields = dict(shop=shop, number=next(_sequence), status=ModelVersion.Status.PREVIOUS)
    fields.update(overrides)
    if "training_run" not in fields:
        fields["training_run"] = make_training_run(shop)
    return _persist(ModelVersion(**fields), save)


def make_recommendation_list(shop: Shop, *, save: bool = True, **overrides) -> RecommendationList:
    fields = dict(shop=shop, kind="popular", anchor="", items=[])
    fields.update(overrides)
    if "version" not in fields:
        fields["version"] = make_model_version(shop)
    return _persist(RecommendationList(**fields), save)


def make_serving_pack(shop: Shop, *, save: bool = True, **overrides) -> ServingPack:
    fields = dict(shop=shop, data=b"")
    fields.update(overrides)
    if "version" not in fields:
        fields["version"] = make_model_version(shop)
    return _persist(ServingPack(**fields), save)


def make_merchant_rule(shop: Shop, *, save: bool = True, **overrides) -> MerchantRule:
    fields = dict(shop=shop, kind=MerchantRule.Kind.EXCLUDE, params={"product_ids": [1]})
    fields.update(overrides)
    return _persist(MerchantRule(**fields), save)


def make_shopper_event(shop: Shop, *, save: bool = True, **overrides) -> ShopperEvent:
    fields = dict(shop=shop, kind="impression", block="related", product_external_id="P1", occurred_at=timezone.now())
    fields.update(overrides)
    return _persist(ShopperEvent(**fields), save)


def make_event_rollup(shop: Shop, *, save: bool = True, **overrides) -> EventDailyRollup:
    fields = dict(
        shop=shop, day=timezone.now().date(), block="related", kind="click", product_external_id="P1", count=3
    )
    fields.update(overrides)
    return _persist(EventDailyRollup(**fields), save)


def make_webhook_delivery(shop: Shop, *, save: bool = True, **overrides) -> WebhookDelivery:
    fields = dict(
        shop=shop,
        platform="shopify",
        delivery_id=f"delivery-{next(_sequence)}",
        topic="products/update",
        triggered_at=timezone.now(),
        work={},
    )
    fields.update(overrides)
    return _persist(WebhookDelivery(**fields), save)


def make_sync_run(shop: Shop, *, save: bool = True, **overrides) -> SyncRun:
    fields = dict(shop=shop, kind=SyncRun.Kind.FULL, checkpoint={"phase": "products"})
    fields.update(overrides)
    return _persist(SyncRun(**fields), save)


def make_privacy_request(shop: Shop, *, save: bool = True, **overrides) -> PrivacyRequest:
    fields = dict(shop=shop, kind=PrivacyRequest.Kind.DATA_REQUEST, customer_ref="0" * 64)
    fields.update(overrides)
    return _persist(PrivacyRequest(**fields), save)


def make_order_rollup(shop: Shop, *, save: bool = True, **overrides) -> OrderDailyRollup:
    fields = dict(shop=shop, day=timezone.now().date(), orders=4, revenue=Decimal("80.00"), widget_orders=1)
    fields.update(overrides)
    return _persist(OrderDailyRollup(**fields), save)


def make_experiment(shop: Shop, *, save: bool = True, **overrides) -> Experiment:
    now = timezone.now()
    fields = dict(
        shop=shop,
        name=f"Test {next(_sequence)}",
        block=Experiment.Block.BOUGHT_TOGETHER,
        arms=[{"key": "A", "strategy": "model", "weight": 50}, {"key": "B", "strategy": "popular", "weight": 50}],
        salt="factory-salt",
        starts_at=now - dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=13),
    )
    fields.update(overrides)
    return _persist(Experiment(**fields), save)


def make_ended_experiment(
    shop: Shop, *, visitors: tuple[int, ...], orders: tuple[int, ...], stopped: bool = False, **overrides
) -> Experiment:
    """A test that ran for 14 days until yesterday, with these visitors and paid orders per arm
    (A, B, ...), each order worth 20.00. Runs inside the shop's scope."""
    start = timezone.now() - dt.timedelta(days=15)
    fields = dict(
        starts_at=start,
        ends_at=start + dt.timedelta(days=14),
        stopped_at=start + dt.timedelta(days=3) if stopped else None,
    )
    experiment = make_experiment(shop, **{**fields, **overrides})
    keys = [arm["key"] for arm in experiment.arms]
    for arm, count in zip(keys, visitors, strict=True):
        ExperimentDailyCount.objects.create(
            shop=shop, experiment=experiment, day=start.date(), arm=arm, exposures=count
        )
    for arm, count in zip(keys, orders, strict=True):
        for n in range(count):
            make_order(
                shop,
                created_at=start + dt.timedelta(hours=1 + n % 48),
                total=Decimal("20.00"),
                experiment_arm=f"{experiment.pk}:{arm}",
            )
    return experiment


def make_experiment_count(shop: Shop, *, save: bool = True, **overrides) -> ExperimentDailyCount:
    fields = dict(shop=shop, day=timezone.now().date(), arm="A", exposures=5)
    fields.update(overrides)
    if "experiment" not in fields:
        fields["experiment"] = make_experiment(shop)
    return _persist(ExperimentDailyCount(**fields), save)


def make_app_subscription(shop: Shop, *, save: bool = True, **overrides) -> AppSubscription:
    fields = dict(
        shop=shop,
        platform_id=f"gid://shopify/AppSubscription/{next(_sequence)}",
        name="Basketry Growth",
        plan="growth",
        status=AppSubscription.Status.ACTIVE,
    )
    fields.update(overrides)
    return _persist(AppSubscription(**fields), save)


ROW_FACTORIES = {
    Product: make_product,
    Order: make_order,
    OrderLine: make_order_line,
    DataProfile: make_data_profile,
    TrainingRun: make_training_run,
    ModelVersion: make_model_version,
    RecommendationList: make_recommendation_list,
    ServingPack: make_serving_pack,
    MerchantRule: make_merchant_rule,
    ShopperEvent: make_shopper_event,
    EventDailyRollup: make_event_rollup,
    WebhookDelivery: make_webhook_delivery,
    SyncRun: make_sync_run,
    PrivacyRequest: make_privacy_request,
    OrderDailyRollup: make_order_rollup,
    Experiment: make_experiment,
    ExperimentDailyCount: make_experiment_count,
    AppSubscription: make_app_subscription,
}
