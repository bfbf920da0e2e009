"""Personal models on small synthetic purchase histories with known answers. No database."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.engine.data import SECONDS_PER_DAY, Catalog, orders_from_lines
from recommendations.engine.personal import (
    AlsModel,
    EaseModel,
    EaseRecencyBlendModel,
    ItemKnnModel,
    SurpriseSvdModel,
    binary_history,
)

NOW = 1_700_000_000.0


def make_catalog(n_items: int, *, sellable: np.ndarray | None = None) -> Catalog:
    return Catalog(
        titles=[f"item {i}" for i in range(n_items)],
        descriptions=[""] * n_items,
        categories=[""] * n_items,
        vendors=[""] * n_items,
        tags=[()] * n_items,
        prices=np.ones(n_items),
        created_at=np.zeros(n_items),
        sellable=np.ones(n_items, dtype=bool) if sellable is None else sellable,
    )


def make_orders(baskets: list[tuple[int, list[int]]], n_users: int, *, ages_days: list[float] | None = None):
    """One order per (user, items) pair; order i is ages_days[i] days before NOW (default: i+1)."""
    ages = ages_days if ages_days is not None else [i + 1.0 for i in range(len(baskets))]
    line_order = [number for number, (_, items) in enumerate(baskets) for _ in items]
    line_item = [item for _, items in baskets for item in items]
    return orders_from_lines(
        order_time=NOW - np.asarray(ages, dtype=float) * SECONDS_PER_DAY,
        order_user=np.array([user for user, _ in baskets]),
        line_order=np.array(line_order, dtype=np.int64),
        line_item=np.array(line_item, dtype=np.int64),
        n_users=n_users,
    )


# Two taste groups: users 0-3 buy from {0, 1, 2}, users 4-7 from {3, 4, 5}; item 6 is a niche item
# bought by one customer only. Users 0-2 and 4-6 each leave out one item of their group.
GROUP_BASKETS = [
    (0, [0, 1]), (1, [1, 2]), (2, [0, 2]), (3, [0, 1, 2, 6]),
    (4, [3, 4]), (5, [4, 5]), (6, [3, 5]), (7, [3, 4, 5]),
]  # fmt: skip
GROUP_MISSING = {0: 2, 1: 0, 2: 1, 4: 5, 5: 3, 6: 4}


def all_models():
    return [
        EaseModel(l2=1.0),
        ItemKnnModel(neighbours=5),
        AlsModel(factors=2, regularization=0.1, iterations=20),
        SurpriseSvdModel(factors=4, epochs=30, negatives=2),
        EaseRecencyBlendModel(l2=1.0, als_factors=4),
    ]


def model_ids():
    return [model.name for model in all_models()]


def test_ease_weights_match_direct_closed_form():
    orders = make_orders(GROUP_BASKETS, 8)
    model = EaseModel(l2=2.0).fit(make_catalog(7), orders, now=NOW)
    x = binary_history(orders, 7).toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(7))
    expected = np.eye(7) - p / np.diag(p)[None, :]
    np.testing.assert_allclose(model._weights, expected, atol=1e-5)
    assert np.allclose(np.diag(model._weights), 0.0)
    _, scores = model.recommend(np.array([0]), 1)
    assert scores[0, 0] == pytest.approx(float((x[0] @ expected)[2]), rel=1e-5)


@pytest.mark.parametrize("model", all_models(), ids=model_ids())
def test_recommends_the_missing_item_of_the_users_group_and_never_a_bought_one(model):
    orders = make_orders(GROUP_BASKETS, 8)
    model.fit(make_catalog(7), orders, now=NOW)
    users = np.array(sorted(GROUP_MISSING))
    indices, scores = model.recommend(users, 3)
    history = binary_history(orders, 7).toarray().astype(bool)
    for row, user in enumerate(users):
        returned = indices[row][indices[row] >= 0]
        assert not history[user, returned].any()
        assert len(set(returned.tolist())) == len(returned)
    if model.name == "surprise_svd":
        return  # sampled negatives make an 8-user toy too noisy for an exact top-1
    assert indices[:, 0].tolist() == [GROUP_MISSING[user] for user in users]
    assert np.all(np.diff(scores[:, :2], axis=1) <= 0)


@pytest.mark.parametrize("model", all_models(), ids=model_ids())
def test_unsellable_items_are_never_recommended(model):
    sellable = np.ones(7, dtype=bool)
    sellable[[2, 5]] = False
    model.fit(make_catalog(7, sellable=sellable), make_orders(GROUP_BASKETS, 8), now=NOW)
    indices, _ = model.recommend(np.arange(8), 7)
    assert not np.isin(indices, [2, 5]).any()
    assert (indices >= 0).any()


@pytest.mark.parametrize("model", all_models(), ids=model_ids())
def test_users_without_history_get_an_empty_row(model):
    baskets = GROUP_BASKETS + [(-1, [0, 3])]  # a guest order belongs to nobody
    model.fit(make_catalog(7), make_orders(baskets, 10), now=NOW)
    indices, scores = model.recommend(np.array([8, 9, 0, 42]), 4)
    assert indices.shape == (4, 4) and indices.dtype == np.int32 and scores.dtype == np.float64
    assert (indices[[0, 1, 3]] == -1).all() and np.isneginf(scores[[0, 1, 3]]).all()
    assert indices[2, 0] >= 0


@pytest.mark.parametrize("model", all_models(), ids=model_ids())
@pytest.mark.parametrize(
    "baskets, n_users, n_items",
    [
        ([], 0, 5),  # zero orders
        ([], 3, 0),  # empty catalogue
        ([(0, [1])], 1, 3),  # one order, one user
        ([(0, [0])], 1, 1),  # one item
        ([(0, [0]), (1, [1]), (0, [2])], 2, 3),  # only single-item baskets
        ([(-1, [0, 1])], 2, 2),  # only a guest
    ],
)
def test_edge_cases_do_not_fail(model, baskets, n_users, n_items):
    model.fit(make_catalog(n_items), make_orders(baskets, n_users), now=NOW)
    indices, scores = model.recommend(np.arange(n_users), 3)
    assert indices.shape == (n_users, 3) and scores.shape == (n_users, 3)
    history = binary_history(make_orders(baskets, n_users), n_items).toarray().astype(bool)
    for user in range(n_users):
        returned = indices[user][indices[user] >= 0]
        assert not history[user, returned].any()
    assert model.because_of(0, 0) is None or isinstance(model.because_of(0, 0), int)


@pytest.mark.parametrize("model_class", [AlsModel, SurpriseSvdModel, EaseRecencyBlendModel])
def test_fixed_seed_gives_identical_results(model_class):
    orders = make_orders(GROUP_BASKETS, 8)
    first = model_class().fit(make_catalog(7), orders, now=NOW).recommend(np.arange(8), 4)
    second = model_class().fit(make_catalog(7), orders, now=NOW).recommend(np.arange(8), 4)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_because_of_names_the_history_item_that_drives_the_recommendation():
    # User 0 bought 0 and 3; item 1 goes with 0 (users 1-3), item 4 with 3 (users 4-6).
    baskets = [(0, [0, 3]), (1, [0, 1]), (2, [0, 1]), (3, [0, 1]), (4, [3, 4]), (5, [3, 4]), (6, [3, 4])]
    orders = make_orders(baskets, 7)
    for model in [EaseModel(l2=1.0), ItemKnnModel(), EaseRecencyBlendModel(l2=1.0, als_factors=4)]:
        model.fit(make_catalog(5), orders, now=NOW)
        assert model.because_of(0, 1) == 0
        assert model.because_of(0, 4) == 3
        assert model.because_of(5, 2) is None  # item nobody bought
    als = AlsModel(factors=4).fit(make_catalog(5), orders, now=NOW)
    assert als.because_of(0, 1) in (0, 3)
    assert SurpriseSvdModel().fit(make_catalog(5), orders, now=NOW).because_of(0, 1) is None


def test_recency_blend_prefers_recent_tastes_and_trending_items():
    # User 0 bought 0 long ago and 3 yesterday. Items 1 (goes with 0) and 4 (goes with 3) are
    # otherwise alike, so recency-weighted history must put 4 first where plain EASE ties.
    baskets = [(0, [0]), (0, [3]), (1, [0, 1]), (2, [0, 1]), (3, [3, 4]), (4, [3, 4])]
    ages = [400.0, 1.0, 50.0, 50.0, 50.0, 50.0]
    orders = make_orders(baskets, 5, ages_days=ages)
    blend = EaseRecencyBlendModel(l2=1.0, trend_weight=0.0, als_weight=0.0).fit(make_catalog(5), orders, now=NOW)
    assert blend.recommend(np.array([0]), 2)[0][0].tolist() == [4, 1]
    plain = EaseModel(l2=1.0).fit(make_catalog(5), orders, now=NOW)
    plain_scores = plain._score(np.array([0]))[0]
    assert plain_scores[1] == pytest.approx(plain_scores[4])
    # A trend weight pulls a recently popular item the customer's history says nothing about.
    trending = [(0, [0]), (1, [0, 1]), (2, [0, 1]), (3, [2]), (4, [2]), (5, [2])]
    orders = make_orders(trending, 6, ages_days=[100.0, 100.0, 100.0, 1.0, 1.0, 1.0])
    catalog = make_catalog(3)
    without = EaseRecencyBlendModel(l2=1.0, trend_weight=0.0, als_weight=0.0).fit(catalog, orders, now=NOW)
    with_trend = EaseRecencyBlendModel(l2=1.0, trend_weight=5.0, als_weight=0.0).fit(catalog, orders, now=NOW)
    assert without.recommend(np.array([0]), 1)[0][0, 0] == 1
    assert with_trend.recommend(np.array([0]), 1)[0][0, 0] == 2


def test_ease_caps_the_catalogue_to_the_most_popular_items():
    baskets = [(0, [0, 1, 2]), (1, [0, 1]), (2, [0, 3]), (3, [1])]
    model = EaseModel(l2=1.0, max_items=2).fit(make_catalog(4), make_orders(baskets, 4), now=NOW)
    assert model._item_ids.tolist() == [0, 1]
    indices, _ = model.recommend(np.arange(4), 4)
    assert set(indices[indices >= 0].tolist()) <= {0, 1}


def test_surprise_svd_exposes_item_factors_and_learns_from_sampled_negatives():
    model = SurpriseSvdModel(factors=4).fit(make_catalog(7), make_orders(GROUP_BASKETS, 8), now=NOW)
    assert model.item_factors.shape == (7, 4)
    assert np.abs(model.item_factors[:6]).sum() > 0
    users, items, ratings = model._training_pairs()
    assert set(np.unique(ratings).tolist()) == {0.0, 1.0}
    bought = binary_history(make_orders(GROUP_BASKETS, 8), 7).toarray() > 0
    assert bought[users[ratings == 1], items[ratings == 1]].all()
    assert not bought[users[ratings == 0], items[ratings == 0]].any()


@pytest.mark.online_retail
def test_recency_blend_beats_plain_ease_on_online_retail():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bench.quality.online_retail import load_online_retail
    from recommendations.engine.data import time_split
    from recommendations.engine.evaluate import evaluate_user_model

    catalog, orders, _ = load_online_retail()
    cutoff = datetime(2011, 11, 1, tzinfo=ZoneInfo("Europe/London")).timestamp()
    train, test, _ = time_split(orders, cutoff=cutoff)
    ease = evaluate_user_model(EaseModel().fit(catalog, train, now=cutoff), catalog, train, test, k=10)
    blend = evaluate_user_model(EaseRecencyBlendModel().fit(catalog, train, now=cutoff), catalog, train, test, k=10)
    assert blend.ndcg > ease.ndcg + 0.005


def test_eases_inverse_matches_the_general_one_and_survives_a_matrix_that_is_not_definite():
    import scipy.linalg

    from recommendations.engine.personal import _spd_inverse

    rng = np.random.default_rng(4)
    purchases = (rng.random((3000, 300)) < 0.03).astype(np.float32)
    gram = purchases.T @ purchases
    gram[np.diag_indices_from(gram)] += 500.0
    expected = scipy.linalg.inv(gram.astype(np.float64))
    inverse = _spd_inverse(gram)
    assert inverse.dtype == np.float32 and np.array_equal(inverse, inverse.T)
    assert np.abs(inverse - expected).max() <= 1e-5 * np.abs(expected).max()
    assert np.array_equal(gram, purchases.T @ purchases + 500.0 * np.eye(300, dtype=np.float32))  # input kept
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(_spd_inverse(indefinite) @ indefinite, np.eye(2), atol=1e-5)
