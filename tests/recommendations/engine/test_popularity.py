"""Popularity baselines: known rankings, exclusions, windows, and always-full lists."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.engine import popularity as pop
from recommendations.engine.data import SECONDS_PER_DAY, Catalog, orders_from_lines

NOW = 1_000 * SECONDS_PER_DAY
DAY = SECONDS_PER_DAY


def make_catalog(n_items, *, categories=None, sellable=None, created_at=None):
    return Catalog(
        titles=[f"item {i}" for i in range(n_items)],
        descriptions=[""] * n_items,
        categories=categories or [""] * n_items,
        vendors=[""] * n_items,
        tags=[()] * n_items,
        prices=np.ones(n_items),
        created_at=np.arange(n_items, dtype=np.float64) if created_at is None else np.asarray(created_at, dtype=float),
        sellable=np.ones(n_items, dtype=bool) if sellable is None else np.asarray(sellable),
    )


def make_orders(baskets, *, users=None, ages_days=None, n_users=3):
    line_order = [o for o, basket in enumerate(baskets) for _ in basket]
    line_item = [item for basket in baskets for item in basket]
    ages = np.zeros(len(baskets)) if ages_days is None else np.asarray(ages_days, dtype=float)
    return orders_from_lines(
        order_time=NOW - ages * DAY,
        order_user=np.asarray(users if users is not None else [-1] * len(baskets), dtype=np.int32),
        line_order=np.asarray(line_order, dtype=np.int64),
        line_item=np.asarray(line_item, dtype=np.int64),
        n_users=n_users,
    )


# Item 0 in 4 orders (old), item 1 in 3 (recent), item 2 in 2, item 3 in 1, item 4 never (newest).
BASKETS = [[0, 1], [0, 2], [0], [0, 3], [1, 2], [1]]
AGES = [100, 100, 100, 100, 1, 2]
USERS = [0, 0, 1, -1, 2, 2]


def fit(model, **catalog_args):
    return model.fit(make_catalog(5, **catalog_args), make_orders(BASKETS, users=USERS, ages_days=AGES), now=NOW)


def test_all_time_ranking_and_fill_with_newest():
    model = fit(pop.PopularityModel())
    indices, scores = model.similar(np.array([3]), 4)
    np.testing.assert_array_equal(indices[0], [0, 1, 2, 4])  # anchor 3 left out; unsold 4 fills
    np.testing.assert_array_equal(scores[0], [4, 3, 2, 0])


def test_anchor_is_removed_even_when_it_is_the_top_item():
    indices, _ = fit(pop.PopularityModel()).similar(np.array([0, 4]), 2)
    np.testing.assert_array_equal(indices, [[1, 2], [0, 1]])


def test_buyers_count_collapses_repeat_buyers():
    # User 0 bought item 0 twice; the guest order counts as its own buyer.
    model = fit(pop.PopularityModel(count="buyers"))
    indices, scores = model.similar(np.array([4]), 2)
    np.testing.assert_array_equal(indices[0], [0, 1])  # 0: users 0, 1, guest = 3; 1: users 0, 2 = 2
    np.testing.assert_array_equal(scores[0], [3, 2])


def test_recommend_excludes_what_the_user_bought_and_guests_get_the_plain_list():
    model = fit(pop.PopularityModel())
    indices, _ = model.recommend(np.array([0, 2, -1, 99]), 3)
    np.testing.assert_array_equal(indices[0], [3, 4, -1])  # user 0 bought 0, 1, 2; only 3 and 4 are left
    np.testing.assert_array_equal(indices[1], [0, 3, 4])  # user 2 bought 1, 2
    np.testing.assert_array_equal(indices[2], [0, 1, 2])
    np.testing.assert_array_equal(indices[3], [0, 1, 2])


def test_recent_window_ranks_recent_sales_first_then_all_time():
    model = fit(pop.RecentPopularityModel(window_days=30))
    indices, scores = model.similar(np.array([3]), 4)
    np.testing.assert_array_equal(indices[0], [1, 2, 0, 4])
    np.testing.assert_array_equal(scores[0], [2, 1, 0, 0])


def test_trending_decays_by_half_life_and_ignores_future_orders():
    orders = make_orders([[0], [1], [2]], ages_days=[7, 0, -5])  # item 2 sold after "now"
    model = pop.TrendingModel(half_life_days=7).fit(make_catalog(3), orders, now=NOW)
    indices, scores = model.similar(np.array([2]), 2)
    np.testing.assert_array_equal(indices[0], [1, 0])
    np.testing.assert_allclose(scores[0], [1.0, 0.5])


def test_unsellable_items_never_appear_and_lists_stay_full():
    model = fit(pop.PopularityModel(), sellable=[False, True, True, True, True])
    indices, _ = model.similar(np.array([1]), 3)
    np.testing.assert_array_equal(indices[0], [2, 3, 4])
    indices, _ = model.similar(np.array([1]), 5)  # only 3 sellable items besides the anchor
    np.testing.assert_array_equal(indices[0], [2, 3, 4, -1, -1])


def test_category_popular_and_category_model_fill():
    categories = ["mugs", "spoons", "mugs", "spoons", "mugs"]
    model = fit(pop.CategoryPopularityModel(), categories=categories)
    indices, _ = model.category_popular("mugs", 4)
    np.testing.assert_array_equal(indices, [0, 2, 4, -1])
    indices, _, sources = model.similar_with_sources(np.array([3]), 4)
    np.testing.assert_array_equal(indices[0], [1, 0, 2, 4])
    assert list(sources[0]) == ["category_popular", "popular", "popular", "popular"]
    assert model.category_popular("unknown", 2)[0].tolist() == [-1, -1]


@pytest.mark.parametrize(
    "model_class", [pop.PopularityModel, pop.RecentPopularityModel, pop.TrendingModel, pop.CategoryPopularityModel]
)
def test_no_orders_still_fills_by_newest(model_class):
    empty = make_orders([])
    model = model_class().fit(make_catalog(3, created_at=[5.0, 9.0, 1.0]), empty, now=NOW)
    indices, scores = model.similar(np.array([0]), 3)
    np.testing.assert_array_equal(indices[0], [1, 2, -1])
    assert scores[0, 0] == 0.0
    np.testing.assert_array_equal(model.recommend(np.array([0]), 2)[0][0], [1, 0])


def test_unknown_count_is_rejected():
    with pytest.raises(ValueError):
        pop.PopularityModel(count="views")
