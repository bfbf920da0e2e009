"""The fleet benchmark's shops: a fast synthetic generator and the loader, run inside Django
(`manage.py shell -c "from bench.fleet_data import ...; ..."`) so that every row goes through the
project's own services (shop_create, product_bulk_upsert, order_bulk_import's COPY,
data_profile_refresh), exactly as an import or a sync writes it.

The demo generator (shops/demo/generator.py) builds a rich shop but takes 20 s for 3,700 products;
a fleet of a thousand shops and five with 50,000 products needs something faster. This one keeps
what training time depends on: catalogue size, orders, basket sizes, skewed popularity,
customers coming back, products bought together within a category, text for the content model.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from shops.records import OrderLineRecord, OrderRecord, ProductRecord

ADJECTIVES = "linen oak copper stoneware enamel woven glass walnut wool cotton slate bamboo cast-iron".split()
NOUNS = "mug bowl kettle teapot lamp basket towel apron vase board tray jar candle rug pot".split()
# Shopify ids are global: each shop gets its own block of product ids, so no two shops share one.
ID_BLOCK = 1_000_000

# Size classes: (products low, high), (orders low, high), mean lines per order.
CLASSES = {
    "small": ((50, 500), (100, 3_000), 2.2),
    "medium": ((3_700, 3_700), (20_000, 20_000), 5.0),
    "large": ((50_000, 50_000), (100_000, 100_000), 3.0),
}


@dataclass(frozen=True)
class ShopSpec:
    domain: str
    size_class: str
    index: int
    products: int
    orders: int
    lines_per_order: float


def fleet_plan(*, small: int, medium: int, large: int, seed: int = 1) -> list[ShopSpec]:
    rng = random.Random(seed)
    specs, index = [], 0
    for size_class, count in (("small", small), ("medium", medium), ("large", large)):
        (p_low, p_high), (o_low, o_high), lines = CLASSES[size_class]
        for number in range(count):
            index += 1
            # Log-uniform sizes: most small shops are very small.
            share = rng.random()
            products = round(p_low * (p_high / p_low) ** share)
            orders = round(o_low * (o_high / o_low) ** share)
            specs.append(
                ShopSpec(f"{size_class}-{number:04d}.myshopify.com", size_class, index, products, orders, lines)
            )
    return specs


def synthetic_shop(spec: ShopSpec, *, end: dt.datetime) -> tuple[list[ProductRecord], list[OrderRecord]]:
    rng = random.Random(spec.index)
    categories = max(3, min(40, spec.products // 40))
    base = spec.index * ID_BLOCK
    products = []
    for number in range(spec.products):
        category = number % categories
        adjective, noun = rng.choice(ADJECTIVES), NOUNS[category % len(NOUNS)]
        products.append(
            ProductRecord(
                external_id=str(base + number),
                title=f"{adjective.title()} {noun} {number}",
                price=Decimal(rng.randrange(400, 12_000)) / 100,
                handle=f"{adjective}-{noun}-{number}",
                category=f"Category {category}",
                vendor=f"Vendor {rng.randrange(max(2, categories // 2))}",
                tags=(adjective, noun),
                description=f"A {adjective} {noun} for every day, made to last. Category {category}.",
                created_at=end - dt.timedelta(days=400),
                updated_at=end - dt.timedelta(days=400),
            )
        )
    by_category: dict[int, list[int]] = {}
    for number in range(spec.products):
        by_category.setdefault(number % categories, []).append(number)
    # Zipf-like popularity over a shuffled catalogue.
    ranking = list(range(spec.products))
    rng.shuffle(ranking)
    weights = [0.0] * spec.products
    for rank, number in enumerate(ranking):
        weights[number] = 1.0 / (rank + 1) ** 0.9
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    customers = max(10, spec.orders // 3)
    orders = []
    seconds = 365 * 86_400
    for number in range(spec.orders):
        size = min(spec.products, max(1, round(rng.expovariate(1 / spec.lines_per_order))))
        chosen = rng.choices(range(spec.products), cum_weights=cumulative, k=1)
        while len(chosen) < size:
            if rng.random() < 0.6:
                candidate = rng.choice(by_category[chosen[0] % categories])
            else:
                candidate = rng.choices(range(spec.products), cum_weights=cumulative, k=1)[0]
            if candidate not in chosen:
                chosen.append(candidate)
            elif len(by_category[chosen[0] % categories]) <= len(chosen):
                break
        customer = rng.randrange(customers) if rng.random() > 0.15 else None
        orders.append(
            OrderRecord(
                external_id=str(base + number),
                created_at=end - dt.timedelta(seconds=rng.randrange(seconds)),
                lines=tuple(
                    OrderLineRecord(
                        product_external_id=products[item].external_id,
                        quantity=1 + (rng.random() < 0.2),
                        unit_price=products[item].price,
                    )
                    for item in chosen
                ),
                customer_id=None if customer is None else str(customer),
            )
        )
    return products, orders


def shop_load(spec: ShopSpec, *, end: dt.datetime | None = None) -> dict:
    """Create one shop of the plan and load it through the project's services; what it holds."""
    from django.db import transaction
    from django.utils import timezone

    from recommendations.services.data_profile import data_profile_refresh
    from shops.models import Order, OrderLine, Product
    from shops.services.catalog import product_bulk_upsert
    from shops.services.maintenance import table_statistics_refresh
    from shops.services.orders import order_bulk_import
    from shops.services.shops import shop_create
    from shops.tenancy import shop_scope

    end = end or timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    products, orders = synthetic_shop(spec, end=end)
    generated = time.perf_counter()
    with transaction.atomic():
        shop, _ = shop_create(platform="shopify", domain=spec.domain, currency="EUR")
        with shop_scope(shop):
            product_ids = product_bulk_upsert(shop=shop, records=products)
            for start in range(0, len(orders), 2_000):
                order_bulk_import(
                    shop=shop, records=orders[start : start + 2_000], product_ids=product_ids, known_absent=True
                )
    if spec.size_class != "small":
        table_statistics_refresh(models_changed=[Product, Order, OrderLine])
    with shop_scope(shop):
        data_profile_refresh(shop=shop)
    return {
        "products": len(products),
        "orders": len(orders),
        "lines": sum(len(order.lines) for order in orders),
        "generate_s": generated - started,
        "load_s": time.perf_counter() - generated,
    }


def fleet_load(*, small: int, medium: int, large: int, only: str = "") -> None:
    """Create and load the planned shops (of one class when `only` names it); one JSON line per class."""
    from django.utils import timezone

    from shops.models import Order, OrderLine, Product
    from shops.services.maintenance import table_statistics_refresh

    end = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    totals: dict[str, dict] = {}
    for spec in fleet_plan(small=small, medium=medium, large=large):
        if only and spec.size_class != only:
            continue
        loaded = shop_load(spec, end=end)
        row = totals.setdefault(
            spec.size_class, {"shops": 0, "products": 0, "orders": 0, "lines": 0, "generate_s": 0.0, "load_s": 0.0}
        )
        row["shops"] += 1
        for key, value in loaded.items():
            row[key] += value
    table_statistics_refresh(models_changed=[Product, Order, OrderLine])
    for size_class, row in totals.items():
        print("LOADED " + json.dumps({"class": size_class, **row}))


def trainings_queue(*, domains: list[str]) -> None:
    """Queue one training per named shop, in that order (through the broker when REDIS_URL is set)."""
    from recommendations.models import TrainingRun
    from recommendations.services.training import training_run_start
    from shops.models import Shop
    from shops.tenancy import shop_scope

    shops = {shop.domain: shop for shop in Shop.objects.filter(domain__in=domains)}
    for domain in domains:
        with shop_scope(shops[domain]):
            training_run_start(shop=shops[domain], trigger=TrainingRun.Trigger.COMMAND)
    print(f"QUEUED {time.time()}")


def nightly_fan_out() -> None:
    from recommendations.services.training import training_nightly_fan_out

    started = time.perf_counter()
    queued = training_nightly_fan_out()
    print("FANOUT " + json.dumps({"queued": queued, "seconds": time.perf_counter() - started}))
