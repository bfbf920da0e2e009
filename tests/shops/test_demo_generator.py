"""Tests for the synthetic demo shop generator.

Pure Python: no database and no Django settings are needed.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import os
import random
import re
import statistics
import subprocess
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path

import pytest

from shops.demo import generator
from shops.demo.generator import DEFAULT_END, DemoShop, demo_shop_generate
from shops.records import OrderStatus, ProductRecord, ProductStatus

# The directory holding the `shops` package that was imported, for child interpreters.
IMPORT_ROOT = Path(generator.__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return demo_shop_generate()


@pytest.fixture(scope="module")
def products_by_id(shop: DemoShop) -> dict[str, ProductRecord]:
    return {product.external_id: product for product in shop.products}


def _paid_orders(shop: DemoShop):
    return [order for order in shop.orders if order.status == OrderStatus.PAID]


def _line_categories_by_month(shop: DemoShop, products_by_id) -> list[tuple[int, str]]:
    return [
        (order.created_at.month, products_by_id[line.product_external_id].category)
        for order in _paid_orders(shop)
        for line in order.lines
    ]


def _category_share(lines: list[tuple[int, str]], category: str, months: set[int], inside: bool) -> float:
    selected = [name for month, name in lines if (month in months) == inside]
    return sum(name == category for name in selected) / len(selected)


def _shop_digest(shop: DemoShop) -> str:
    return hashlib.sha256(repr(shop).encode()).hexdigest()


def _assert_invariants(shop: DemoShop, *, end: dt.datetime) -> None:
    """Invariants that must hold for any arguments."""
    products_by_id = {product.external_id: product for product in shop.products}
    assert len(products_by_id) == len(shop.products)
    assert len({product.handle for product in shop.products}) == len(shop.products)
    assert len({product.title for product in shop.products}) == len(shop.products)
    assert len({order.external_id for order in shop.orders}) == len(shop.orders)

    for product in shop.products:
        assert product.created_at.tzinfo is not None and product.updated_at.tzinfo is not None
        assert product.created_at <= product.updated_at <= end
        assert product.url == f"/products/{product.handle}"
        assert product.price == product.price.quantize(Decimal("0.01"))
        assert product.price.as_tuple().exponent == -2

    start = end - dt.timedelta(days=365)
    moments = [order.created_at for order in shop.orders]
    assert moments == sorted(moments)
    for order in shop.orders:
        assert order.created_at.tzinfo is not None
        assert start < order.created_at <= end
        assert 1 <= len(order.lines) <= 6
        assert len({line.product_external_id for line in order.lines}) == len(order.lines)
        assert order.total == sum(line.unit_price * line.quantity for line in order.lines)
        for line in order.lines:
            product = products_by_id[line.product_external_id]
            assert product.status != ProductStatus.DRAFT
            assert order.created_at >= product.created_at
            if product.status == ProductStatus.ARCHIVED:
                assert order.created_at < product.updated_at
            assert line.unit_price == product.price
            assert 1 <= line.quantity <= 4

    for first, second in shop.complementary_pairs:
        assert first in products_by_id and second in products_by_id and first != second


# --- determinism ------------------------------------------------------------------------------


def test_same_arguments_give_identical_output(shop: DemoShop) -> None:
    again = demo_shop_generate()
    assert again == shop
    assert repr(again) == repr(shop)


def test_output_does_not_depend_on_hash_randomisation() -> None:
    # Iterating over a set of strings would make output vary between processes; only a fresh
    # interpreter with a different hash seed can reveal that.
    expected = _shop_digest(demo_shop_generate(product_count=80, order_count=500))
    script = (
        "import hashlib; from shops.demo.generator import demo_shop_generate; "
        "print(hashlib.sha256(repr(demo_shop_generate(product_count=80, order_count=500)).encode()).hexdigest())"
    )
    for hash_seed in ("1", "2"):
        environment = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(IMPORT_ROOT))
        completed = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
        )
        assert completed.stdout.strip() == expected


def test_different_seed_gives_different_output(shop: DemoShop) -> None:
    other = demo_shop_generate(seed=8)
    assert [p.title for p in other.products] != [p.title for p in shop.products]
    assert [o.created_at for o in other.orders] != [o.created_at for o in shop.orders]


# --- sizes and invariants ---------------------------------------------------------------------


def test_default_sizes_and_identifier_formats(shop: DemoShop) -> None:
    assert len(shop.products) == 300
    assert len(shop.orders) == 4000
    assert shop.products[0].external_id == "P1001"
    assert shop.products[-1].external_id == "P1300"
    assert [order.external_id for order in shop.orders[:2]] == ["D100001", "D100002"]
    assert shop.orders[-1].external_id == "D104000"
    customer_ids = {order.customer_id for order in shop.orders if order.customer_id}
    assert all(customer_id.startswith("C") and customer_id[1:].isdigit() for customer_id in customer_ids)


def test_invariants_hold_for_default_shop(shop: DemoShop) -> None:
    _assert_invariants(shop, end=DEFAULT_END)


def test_invariants_hold_for_small_shop_and_custom_end() -> None:
    end = dt.datetime(2025, 3, 15, 12, 30, tzinfo=dt.UTC)
    small = demo_shop_generate(seed=3, product_count=12, order_count=60, end=end, currency="GBP")
    assert len(small.products) == 12
    assert len(small.orders) == 60
    assert {order.currency for order in small.orders} == {"GBP"}
    _assert_invariants(small, end=end)


def test_naive_end_is_rejected() -> None:
    with pytest.raises(ValueError):
        demo_shop_generate(end=dt.datetime(2026, 1, 1))


def test_orders_span_the_year_before_end(shop: DemoShop) -> None:
    assert shop.orders[0].created_at < DEFAULT_END - dt.timedelta(days=355)
    assert shop.orders[-1].created_at > DEFAULT_END - dt.timedelta(days=3)
    assert {order.currency for order in shop.orders} == {"EUR"}


# --- catalogue realism ------------------------------------------------------------------------


def test_catalogue_has_categories_vendors_and_plausible_fields(shop: DemoShop) -> None:
    categories = collections.Counter(product.category for product in shop.products)
    vendors = {product.vendor for product in shop.products}
    assert 8 <= len(categories) <= 12
    assert min(categories.values()) >= 10
    assert 10 <= len(vendors) <= 14
    for product in shop.products:
        assert len(product.title.split()) >= 3
        assert 2 <= len(product.tags) <= 5
        assert len(set(product.tags)) == len(product.tags)
        sentences = re.split(r"(?<=[.!?])\s+", product.description)
        assert 1 <= len(sentences) <= 3
        assert all(sentence.endswith(".") and not sentence.endswith("..") for sentence in sentences)
        assert Decimal("2.50") <= product.price <= Decimal("89.00")
    # Prices differ by kind of product: a teapot costs more than a greeting card.
    mean_price = {
        name: statistics.mean(float(p.price) for p in shop.products if p.category == name) for name in categories
    }
    assert max(mean_price.values()) > 2 * min(mean_price.values())


def test_catalogue_status_and_stock_mix(shop: DemoShop) -> None:
    statuses = collections.Counter(product.status for product in shop.products)
    total = len(shop.products)
    assert 0.85 <= statuses[ProductStatus.PUBLISHED] / total <= 0.95
    assert statuses[ProductStatus.DRAFT] > 0
    assert statuses[ProductStatus.ARCHIVED] > 0
    out_of_stock = sum(not product.in_stock for product in shop.products)
    assert 0.05 <= out_of_stock / total <= 0.08


def test_draft_products_never_sell(shop: DemoShop, products_by_id) -> None:
    sold = {line.product_external_id for order in shop.orders for line in order.lines}
    drafts = {p.external_id for p in shop.products if p.status == ProductStatus.DRAFT}
    assert drafts and not drafts & sold


def test_new_products_have_little_history(shop: DemoShop) -> None:
    new_since = DEFAULT_END - dt.timedelta(days=30)
    sales = collections.Counter(line.product_external_id for order in shop.orders for line in order.lines)
    published = [p for p in shop.products if p.status == ProductStatus.PUBLISHED]
    new = [p for p in published if p.created_at >= new_since]
    established = [p for p in published if p.created_at < DEFAULT_END - dt.timedelta(days=365)]
    assert len(new) >= 5
    assert any(sales[p.external_id] == 0 for p in new)
    mean_new = statistics.mean(sales[p.external_id] for p in new)
    mean_established = statistics.mean(sales[p.external_id] for p in established)
    assert mean_new < mean_established / 4


def test_image_urls_are_small_svg_data_urls(shop: DemoShop) -> None:
    for product in shop.products:
        assert product.image_url.startswith("data:image/svg+xml,")
        assert len(product.image_url.encode()) <= 600
        svg = urllib.parse.unquote(product.image_url.split(",", 1)[1])
        assert svg.startswith("<svg") and svg.endswith("</svg>")
    colours_by_category = collections.defaultdict(set)
    for product in shop.products:
        svg = urllib.parse.unquote(product.image_url.split(",", 1)[1])
        colours_by_category[product.category].add(re.search(r"<rect[^>]*fill='(#[0-9a-f]{6})'", svg).group(1))
    # One background colour per category, different across categories.
    assert all(len(colours) == 1 for colours in colours_by_category.values())
    assert len({next(iter(c)) for c in colours_by_category.values()}) == len(colours_by_category)


# --- order realism ----------------------------------------------------------------------------


def test_multi_item_share_in_target_band(shop: DemoShop) -> None:
    multi_item = sum(len(order.lines) >= 2 for order in shop.orders) / len(shop.orders)
    assert 0.40 <= multi_item <= 0.55
    quantities = collections.Counter(line.quantity for order in shop.orders for line in order.lines)
    assert quantities[1] / sum(quantities.values()) > 0.75
    assert quantities[2] > 0 and quantities[4] > 0


def test_guest_share_and_status_mix(shop: DemoShop) -> None:
    total = len(shop.orders)
    guests = sum(order.customer_id is None for order in shop.orders)
    assert 0.12 <= guests / total <= 0.18
    statuses = collections.Counter(order.status for order in shop.orders)
    assert 0.88 <= statuses[OrderStatus.PAID] / total <= 0.97
    assert 0.01 <= statuses[OrderStatus.CANCELLED] / total <= 0.06
    assert 0.01 <= statuses[OrderStatus.REFUNDED] / total <= 0.05
    assert 0.005 <= statuses[OrderStatus.TEST] / total <= 0.02


def test_customer_activity_is_long_tailed(shop: DemoShop) -> None:
    orders_per_customer = collections.Counter(order.customer_id for order in shop.orders if order.customer_id)
    counts = sorted(orders_per_customer.values(), reverse=True)
    assert 550 <= len(counts) <= 650
    assert counts.count(1) / len(counts) >= 0.15
    assert sum(count >= 5 for count in counts) >= 50
    top_tenth = counts[: len(counts) // 10]
    assert sum(top_tenth) / sum(counts) > 0.3


def test_product_popularity_is_long_tailed(shop: DemoShop) -> None:
    sales = collections.Counter(line.product_external_id for order in shop.orders for line in order.lines)
    counts = sorted(sales.values(), reverse=True)
    top_fifth = counts[: len(shop.products) // 5]
    assert sum(top_fifth) / sum(counts) > 0.5


def test_customers_concentrate_on_preferred_categories(shop: DemoShop, products_by_id) -> None:
    categories_by_customer: dict[str, list[str]] = collections.defaultdict(list)
    for order in shop.orders:
        if order.customer_id:
            for line in order.lines:
                categories_by_customer[order.customer_id].append(products_by_id[line.product_external_id].category)
    histories = [history for history in categories_by_customer.values() if len(history) >= 5]
    all_lines = [name for history in categories_by_customer.values() for name in history]

    def top_share(history: list[str]) -> float:
        return collections.Counter(history).most_common(1)[0][1] / len(history)

    # Baseline: the same history lengths drawn from the shop-wide category mix, so the
    # concentration expected by chance for short histories is accounted for.
    baseline_rng = random.Random(0)
    baseline = statistics.mean(top_share(baseline_rng.choices(all_lines, k=len(h))) for h in histories)
    observed = statistics.mean(top_share(history) for history in histories)
    assert observed > baseline + 0.12


def test_planted_pairs_really_cooccur(shop: DemoShop, products_by_id) -> None:
    assert 12 <= len(shop.complementary_pairs) <= 18
    members = [external_id for pair in shop.complementary_pairs for external_id in pair]
    assert len(set(members)) == len(members)
    assert all(products_by_id[m].status == ProductStatus.PUBLISHED for m in members)
    baskets = [{line.product_external_id for line in order.lines} for order in _paid_orders(shop)]
    total = len(baskets)
    confident = 0
    for first, second in shop.complementary_pairs:
        with_first = sum(first in basket for basket in baskets)
        with_second = sum(second in basket for basket in baskets)
        with_both = sum(first in basket and second in basket for basket in baskets)
        assert with_first >= 10 and with_second >= 10
        lift = with_both * total / (with_first * with_second)
        assert lift > 3, (first, second, lift)
        if with_both / with_first > 0.3:
            confident += 1
    assert confident >= 0.8 * len(shop.complementary_pairs)


def test_unplanted_cross_category_pairs_show_no_strong_association(shop: DemoShop, products_by_id) -> None:
    # The planted pairs must stand out against ordinary popular products.
    baskets = [{line.product_external_id for line in order.lines} for order in _paid_orders(shop)]
    planted = {frozenset(pair) for pair in shop.complementary_pairs}
    planted_members = {m for pair in shop.complementary_pairs for m in pair}
    sales = collections.Counter(m for basket in baskets for m in basket)
    popular = [pid for pid, _ in sales.most_common(40) if pid not in planted_members][:12]
    total = len(baskets)
    strong = 0
    for index, first in enumerate(popular):
        for second in popular[index + 1 :]:
            if frozenset((first, second)) in planted:
                continue
            if products_by_id[first].category == products_by_id[second].category:
                continue
            both = sum(first in basket and second in basket for basket in baskets)
            if both * total / (sales[first] * sales[second]) > 3 and both >= 5:
                strong += 1
    assert strong <= 2


# --- seasonality ------------------------------------------------------------------------------


def test_seasonal_categories_are_exposed(shop: DemoShop) -> None:
    assert set(shop.seasonal_categories["Christmas Decorations"]) == {11, 12}
    assert set(shop.seasonal_categories["Picnic & Summer"]) >= {6, 7}
    assert set(shop.seasonal_categories["Garden"]) >= {5, 6}
    categories = {product.category for product in shop.products}
    for months in shop.seasonal_categories.values():
        assert all(1 <= month <= 12 for month in months)
    assert set(shop.seasonal_categories) <= categories


def test_christmas_decorations_peak_in_november_and_december(shop: DemoShop, products_by_id) -> None:
    lines = _line_categories_by_month(shop, products_by_id)
    in_season = _category_share(lines, "Christmas Decorations", {11, 12}, inside=True)
    off_season = _category_share(lines, "Christmas Decorations", {11, 12}, inside=False)
    assert in_season > 3 * off_season


@pytest.mark.parametrize("category", ["Garden", "Picnic & Summer"])
def test_summer_categories_peak_in_their_season(shop: DemoShop, products_by_id, category: str) -> None:
    lines = _line_categories_by_month(shop, products_by_id)
    months = set(shop.seasonal_categories[category])
    assert _category_share(lines, category, months, inside=True) > 1.8 * _category_share(
        lines, category, months, inside=False
    )


def test_gifting_season_has_more_orders_per_day(shop: DemoShop) -> None:
    days_by_month = collections.Counter()
    day = (DEFAULT_END - dt.timedelta(days=364)).date()
    while day <= DEFAULT_END.date():
        days_by_month[day.month in (11, 12)] += 1
        day += dt.timedelta(days=1)
    orders_by_season = collections.Counter(order.created_at.month in (11, 12) for order in shop.orders)
    rate_in_season = orders_by_season[True] / days_by_month[True]
    rate_rest = orders_by_season[False] / days_by_month[False]
    assert rate_in_season > 1.3 * rate_rest


def test_evenings_are_busier_than_nights(shop: DemoShop) -> None:
    hours = collections.Counter(order.created_at.hour for order in shop.orders)
    evening = sum(hours[h] for h in (19, 20, 21))
    night = sum(hours[h] for h in (2, 3, 4))
    assert evening > 5 * night > 0
