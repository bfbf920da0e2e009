"""The evaluation protocol on hand-checked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommendations.engine.data import Catalog, earlier_windows, orders_from_lines
from recommendations.engine.evaluate import (
    EvaluationResult,
    ListsOf,
    champion_choose,
    evaluate_item_model,
    evaluate_user_model,
    item_cases_build,
    paired_interval,
    paired_interval_pooled,
)


def catalog(n: int) -> Catalog:
    return Catalog(
        titles=[f"item {i}" for i in range(n)],
        descriptions=[""] * n,
        categories=[""] * n,
        vendors=[""] * n,
        tags=[()] * n,
        prices=np.ones(n),
        created_at=np.zeros(n),
        sellable=np.ones(n, dtype=bool),
    )


def orders(baskets: list[list[int]], users: list[int], start: float = 0.0, n_users: int = 3):
    line_order = [o for o, basket in enumerate(baskets) for _ in basket]
    line_item = [item for basket in baskets for item in basket]
    return orders_from_lines(
        order_time=np.arange(len(baskets), dtype=float) + start,
        order_user=np.array(users),
        line_order=np.array(line_order),
        line_item=np.array(line_item),
        n_users=n_users,
    )


class FixedLists:
    def __init__(self, lists: dict[int, list[int]]) -> None:
        self.lists = lists

    def similar(self, anchors, k):
        rows = np.array([self.lists[int(a)][:k] for a in anchors], dtype=np.int32)
        return rows, np.ones(rows.shape)

    def recommend(self, users, k):
        return self.similar(users, k)


def test_item_protocol_counts_every_anchor_of_every_multi_item_test_basket():
    train = orders([[0, 1], [0, 1], [2, 3]], [0, 0, 1])
    test = orders([[0, 1, 2], [3], [1, 3]], [0, 1, 1], start=10)
    model = FixedLists({0: [1, 2], 1: [0, 3], 2: [3, 0], 3: [2, 1]})

    result = evaluate_item_model(model, catalog(4), train, test, k=2)

    second = 1 / math.log2(3)
    assert result.cases == 5  # the single-item basket [3] has nothing to predict
    assert result.hit_rate == pytest.approx(1.0)
    assert result.precision == pytest.approx(0.6)
    assert result.recall == pytest.approx(0.8)
    expected_ndcg = (1 + 1 / (1 + second) + second / (1 + second) + second + second) / 5
    assert result.ndcg == pytest.approx(expected_ndcg)
    assert result.coverage == pytest.approx(1.0)


def test_item_protocol_skips_anchors_unknown_to_training_and_counts_misses():
    train = orders([[0, 1]], [0])
    test = orders([[0, 2], [1, 2]], [0, 0], start=10)
    model = FixedLists({0: [1], 1: [0]})

    result = evaluate_item_model(model, catalog(3), train, test, k=1)

    assert result.cases == 2  # item 2 never sold before the split: not an anchor
    assert result.hit_rate == 0.0 and result.ndcg == 0.0


def test_personal_protocol_only_counts_new_items_of_known_customers():
    train = orders([[0, 1], [2]], [0, 1])
    test = orders([[1, 2], [3], [0]], [0, 1, 2], start=10)  # customer 2 is new: not a case
    model = FixedLists({0: [2, 3], 1: [0, 1]})

    result = evaluate_user_model(model, catalog(4), train, test, k=2)

    assert result.cases == 2
    assert result.hit_rate == pytest.approx(0.5)
    assert result.ndcg == pytest.approx(0.5)
    assert result.precision == pytest.approx(0.25)
    assert result.recall == pytest.approx(0.5)


def result(ndcg: float, coverage: float = 0.5, cases: int = 100) -> EvaluationResult:
    return EvaluationResult(
        k=5, cases=cases, hit_rate=ndcg, ndcg=ndcg, precision=0, recall=0, coverage=coverage, popularity_bias=1
    )


def test_champion_must_beat_the_baselines():
    chosen, reason = champion_choose(
        {"popular": result(0.30), "ease": result(0.35), "knn": result(0.20)}, metric="ndcg", baselines={"popular"}
    )
    assert chosen == "ease" and "+0.050 over the popular baseline" in reason

    chosen, reason = champion_choose(
        {"popular": result(0.30), "ease": result(0.25)}, metric="ndcg", baselines={"popular"}
    )
    assert chosen == "popular" and "no model beat the popular baseline" in reason


def test_an_item_to_item_champion_depends_on_the_item():
    popularity = frozenset({"popular", "recent_popular"})
    results = {"popular": result(0.45), "recent_popular": result(0.44), "co_customer": result(0.43)}
    results["content"] = result(0.3)
    chosen, reason = champion_choose(results, metric="ndcg", baselines=set(popularity), never=popularity)
    assert chosen == "co_customer"
    assert "popular baseline scores higher" in reason and "0.450 against 0.430" in reason
    # Where a model beats popularity, the choice is the same as without the rule.
    results["co_customer"] = result(0.5)
    chosen, reason = champion_choose(results, metric="ndcg", baselines=set(popularity), never=popularity)
    assert chosen == "co_customer" and "over the popular baseline" in reason
    with pytest.raises(ValueError):
        champion_choose({"popular": result(0.4)}, metric="ndcg", baselines={"popular"}, never=popularity)


def test_ties_go_to_coverage():
    chosen, _ = champion_choose(
        {"a": result(0.3, coverage=0.2), "b": result(0.3, coverage=0.9)}, metric="ndcg", baselines=set()
    )
    assert chosen == "b"


class RecordingLists(FixedLists):
    """Fixed lists that remember which anchors or users they were asked for."""

    def __init__(self, lists: dict[int, list[int]]) -> None:
        super().__init__(lists)
        self.asked: list[int] = []

    def similar(self, anchors, k):
        self.asked.extend(int(anchor) for anchor in anchors)
        return super().similar(anchors, k)


def test_large_shops_are_scored_on_a_fixed_sample_of_anchors():
    # 40 items in pairs (2i, 2i + 1); every pair sold before and after the split.
    pairs = [[2 * i, 2 * i + 1] for i in range(20)]
    train, test = orders(pairs, [0] * 20, n_users=1), orders(pairs, [0] * 20, start=100, n_users=1)
    lists = {item: [item ^ 1] for item in range(40)}

    whole = evaluate_item_model(FixedLists(lists), catalog(40), train, test, k=1)
    first, second = RecordingLists(lists), RecordingLists(lists)
    sampled = evaluate_item_model(first, catalog(40), train, test, k=1, max_anchors=10)
    again = evaluate_item_model(second, catalog(40), train, test, k=1, max_anchors=10)

    assert (whole.cases, whole.population) == (40, 40)
    # Only the sampled anchors' lists are computed, and only their cases are scored.
    assert len(first.asked) == 10 and sampled.cases == 10 and sampled.population == 40
    assert sampled.hit_rate == pytest.approx(1.0)
    # The same sample every time, whatever the model: candidates are compared on the same cases.
    assert first.asked == second.asked and sampled == again
    # Coverage counts what the sampled lists show, over every anchor there was.
    assert sampled.coverage == pytest.approx(10 / 40)
    assert evaluate_item_model(FixedLists(lists), catalog(40), train, test, k=1, max_anchors=40) == whole


def test_cases_built_once_score_every_model_as_building_them_each_time_would():
    pairs = [[2 * i, 2 * i + 1] for i in range(20)] + [[0, 3, 5]]
    train, test = orders(pairs, [0] * 21, n_users=1), orders(pairs, [0] * 21, start=100, n_users=1)
    right = FixedLists({item: [item ^ 1] for item in range(40)})
    wrong = FixedLists({item: [(item + 7) % 40] for item in range(40)})
    cases = item_cases_build(catalog(40), train, test, max_anchors=12)
    for model in (right, wrong):
        alone = evaluate_item_model(model, catalog(40), train, test, k=1, max_anchors=12)
        shared = evaluate_item_model(model, catalog(40), train, test, k=1, cases=cases)
        assert shared == alone
        np.testing.assert_array_equal(shared.case_hits, alone.case_hits)
    assert evaluate_item_model(right, catalog(40), train, test, k=1, cases=cases).hit_rate > 0.5
    assert evaluate_item_model(wrong, catalog(40), train, test, k=1, cases=cases).hit_rate == 0.0


def test_lists_of_the_same_anchors_and_items_are_the_same():
    anchors, lists = np.array([3, 1]), np.array([[1, 2], [3, -1]])
    assert ListsOf(anchors, lists).same_as(ListsOf(anchors.copy(), lists.copy()))
    assert not ListsOf(anchors, lists).same_as(ListsOf(anchors, np.array([[1, 2], [2, -1]])))
    assert not ListsOf(anchors, lists).same_as(ListsOf(np.array([1, 3]), lists))


def test_large_shops_are_scored_on_a_fixed_sample_of_customers():
    # Customer u bought item u before the split and item u + 30 after it.
    train = orders([[user] for user in range(30)], list(range(30)), n_users=30)
    test = orders([[user + 30] for user in range(30)], list(range(30)), start=100, n_users=30)
    model = RecordingLists({user: [user + 30] for user in range(30)})

    result = evaluate_user_model(model, catalog(60), train, test, k=1, max_users=12)

    assert (result.cases, result.population) == (12, 30) and len(model.asked) == 12
    assert result.hit_rate == pytest.approx(1.0)


def test_paired_interval_of_identical_lists_is_zero():
    hits = np.array([1, 0, 1, 1, 0, 1], dtype=bool)
    assert paired_interval(hits, hits, np.arange(6)) == (0.0, 0.0, 0.0)


def test_paired_interval_excludes_zero_only_for_a_clear_win():
    rng = np.random.default_rng(7)
    theirs = rng.random(2000) < 0.5
    better = theirs | (rng.random(2000) < 0.2)  # hits everything theirs does, and a fifth more
    mean, low, high = paired_interval(better, theirs, np.arange(2000))
    assert low > 0 and low <= mean <= high
    assert mean == pytest.approx(better.mean() - theirs.mean())
    # A coin-flip difference on few cases: the interval spans zero.
    noisy = rng.random(40) < 0.5
    _, low, high = paired_interval(noisy, rng.random(40) < 0.5, np.arange(40))
    assert low < 0 < high


def test_paired_interval_resamples_whole_orders():
    # Two cases per order, always equal within an order: by order there are half as many
    # independent draws as by case, so the interval is wider.
    rng = np.random.default_rng(3)
    per_order = rng.random(300) < 0.55
    ours, theirs = np.repeat(per_order, 2), np.repeat(rng.random(300) < 0.45, 2)
    _, low_orders, high_orders = paired_interval(ours, theirs, np.repeat(np.arange(300), 2))
    _, low_cases, high_cases = paired_interval(ours, theirs, np.arange(600))
    assert high_orders - low_orders > high_cases - low_cases


def test_lists_made_elsewhere_are_scored_as_a_model_ranking_them_would_be():
    from recommendations.engine.evaluate import ListsOf

    made = ListsOf(np.array([4, 7]), np.array([[1, 2, -1], [3, -1, -1]]))
    indices, scores = made.similar(np.array([7, 4]), 2)
    np.testing.assert_array_equal(indices, [[3, -1], [1, 2]])
    assert np.isneginf(scores[0, 1]) and scores[1, 1] == 0.0
    wider, _ = made.similar(np.array([4]), 5)
    np.testing.assert_array_equal(wider, [[1, 2, -1, -1, -1]])


def timed_orders(times: list[float]):
    return orders_from_lines(
        order_time=np.array(times, dtype=float),
        order_user=np.zeros(len(times), dtype=int),
        line_order=np.arange(len(times)),
        line_item=np.zeros(len(times), dtype=int),
        n_users=1,
    )


def test_earlier_windows_repeat_the_hold_out_from_earlier_origins():
    # Ten orders at times 0..9; the hold-out is the last three (times 7, 8, 9).
    windows = earlier_windows(timed_orders([float(t) for t in range(10)]), cutoff=7.0, count=2)

    assert [(w.start, w.end) for w in windows] == [(4.0, 7.0), (1.0, 4.0)]
    for window in windows:
        assert window.test.n_orders == 3
        assert window.train.order_time.max() < window.start <= window.test.order_time.min()
        assert window.test.order_time.max() < window.end
        assert window.train.n_orders == int(window.start)  # every order before the window trains it


def test_earlier_windows_stop_where_no_order_would_train_them():
    # Only one earlier window has orders before it; orders at the same time stay together.
    assert [(w.start, w.end) for w in earlier_windows(timed_orders([0, 1, 2, 3, 4, 5]), cutoff=3.0, count=5)] == []
    assert [(w.start, w.end) for w in earlier_windows(timed_orders([0, 1, 2, 3, 4, 5, 6]), cutoff=4.0, count=5)] == [
        (1.0, 4.0)
    ]
    same_day = earlier_windows(timed_orders([5.0] * 8), cutoff=5.0, count=2)
    assert same_day == []  # every order in the hold-out, none before it
    tied = earlier_windows(timed_orders([0, 1, 2, 2, 2, 3]), cutoff=3.0, count=1)
    assert [(w.start, w.test.n_orders, w.train.n_orders) for w in tied] == [(2.0, 3, 2)]


def scored(hits: np.ndarray, groups: np.ndarray) -> EvaluationResult:
    hits = np.asarray(hits, dtype=np.float64)
    return EvaluationResult(
        k=5, cases=hits.size, hit_rate=float(hits.mean()), ndcg=0.0, precision=0.0, recall=0.0,
        coverage=0.0, popularity_bias=0.0, case_hits=hits, case_ndcg=hits, case_groups=groups,
    )  # fmt: skip


def test_a_win_on_one_window_and_a_loss_on_another_pool_to_a_draw():
    rng = np.random.default_rng(11)
    theirs = rng.random(1500) < 0.5
    groups = np.arange(1500)
    better, worse = theirs | (rng.random(1500) < 0.2), theirs & (rng.random(1500) < 0.8)
    won = (scored(better, groups), scored(theirs, groups))
    lost = (scored(worse, groups), scored(theirs, groups))

    _, low, _ = paired_interval_pooled([won], "hit_rate", same_groups=False)
    assert low > 0  # the latest window alone: a clear win
    mean, low, high = paired_interval_pooled([won, lost], "hit_rate", same_groups=False)
    assert low < 0 < high  # pooled with a window where it loses as much: no win beyond the noise
    assert mean == pytest.approx((better.sum() - theirs.sum() + worse.sum() - theirs.sum()) / 3000)
    # Test orders are numbered per window: pooled as distinct clusters, as if numbered apart.
    apart = paired_interval(np.concatenate([better, worse]), np.concatenate([theirs, theirs]), np.arange(3000))
    assert (mean, low, high) == apart


def test_a_customer_in_several_windows_is_one_cluster_when_pooled():
    # The same 200 customers in two windows, equally better in both: resampled as 200 customers
    # the interval is wider than as 400 independent cases.
    rng = np.random.default_rng(5)
    customers = np.arange(200)
    ours, theirs = (rng.random(200) < 0.6).astype(float), (rng.random(200) < 0.4).astype(float)
    window = (scored(ours, customers), scored(theirs, customers))
    _, low_same, high_same = paired_interval_pooled([window, window], "ndcg", same_groups=True)
    _, low_apart, high_apart = paired_interval_pooled([window, window], "ndcg", same_groups=False)
    assert high_same - low_same > high_apart - low_apart


def test_with_many_orders_the_interval_comes_from_their_variance_and_agrees_with_the_bootstrap():
    # 12,000 test orders of one to four cases each, the cases of an order alike (one basket), a
    # clear but small win.
    rng = np.random.default_rng(9)
    orders = np.repeat(np.arange(12_000), rng.integers(1, 5, size=12_000))
    theirs = (rng.random(12_000) < 0.6)[orders]
    ours = theirs | (rng.random(12_000) < 0.03)[orders]
    analytic = paired_interval(ours, theirs, orders)
    bootstrap = paired_interval(ours, theirs, orders, bootstrap_max_clusters=20_000)
    assert analytic[0] == bootstrap[0] == pytest.approx(ours.mean() - theirs.mean())
    assert analytic != bootstrap  # two methods
    for a, b in zip(analytic[1:], bootstrap[1:], strict=True):
        assert a == pytest.approx(b, abs=0.1 * (bootstrap[2] - bootstrap[1]))
    # Clustering still counts: the same cases as independent give a narrower interval.
    _, low, high = paired_interval(ours, theirs, np.arange(orders.size))
    assert high - low < analytic[2] - analytic[1]
