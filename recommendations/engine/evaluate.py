"""Offline evaluation: a global time split, full ranking, the same protocol for every candidate.

Item-to-item models ("bought together", "related") are scored on held-out baskets: every test
order with two or more distinct items, each of its items that training knows as the anchor, the
other items of that order as the truth. Personal models are scored per customer: the items a
customer bought for the first time in the test window are the truth, everything they bought
before is excluded from ranking. No sampled negatives: every item competes.

Beyond accuracy: catalogue coverage (distinct items known to training that the lists show across
all anchors or users / items known to training; new items a content model shows are not
counted) and popularity bias (mean training popularity of what is shown / mean training
popularity of the catalogue; above 1 means the lists lean to the head).

Large shops are scored on a sample: at most `MAX_EVALUATION_ANCHORS` anchors (and the held-out
cases whose anchor is one of them) and `MAX_EVALUATION_USERS` customers, drawn with a fixed seed so
that every candidate is scored on the same ones. Computing a list costs O(catalogue) per anchor or
customer, so a 50,000-product shop would otherwise pay O(catalogue^2) per candidate. On a sample,
coverage counts what the sampled anchors' lists show (lower than on every anchor, the same for
every candidate); `population` says how many anchors or customers there were to sample from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np
import scipy.sparse as sp

from recommendations.engine.data import Catalog, Orders, basket_matrix, user_item_matrix

# Anchors (item lists) and customers (personal lists) scored per candidate, at most.
MAX_EVALUATION_ANCHORS = 8_000
MAX_EVALUATION_USERS = 10_000
SAMPLE_SEED = 20_111


def evaluation_sample(population: np.ndarray, limit: int) -> np.ndarray:
    """`population` itself when it is small enough, else `limit` of it drawn with a fixed seed (sorted)."""
    if population.size <= limit:
        return population
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(population, size=limit, replace=False))


@dataclass(frozen=True)
class EvaluationResult:
    k: int
    cases: int
    hit_rate: float
    ndcg: float
    precision: float
    recall: float
    coverage: float
    popularity_bias: float
    # Anchors (item models) or customers (personal models) there were before sampling.
    population: int = 0
    # Per case, its hit and its NDCG, and what it belongs to (its test order, or its customer):
    # for paired intervals between models scored on the same cases. Not part of the report.
    case_hits: np.ndarray | None = field(default=None, repr=False, compare=False)
    case_ndcg: np.ndarray | None = field(default=None, repr=False, compare=False)
    case_groups: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, float | int]:
        return {name: value for name, value in asdict(self).items() if not name.startswith("case_")}

    def per_case(self, metric: str) -> np.ndarray:
        """The metric's value per case ("hit_rate" or "ndcg"), in case order."""
        values = {"hit_rate": self.case_hits, "ndcg": self.case_ndcg}[metric]
        if values is None:
            raise ValueError("this result was not kept per case")
        return values


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _item_popularity(train: Orders, n_items: int) -> np.ndarray:
    return np.asarray(basket_matrix(train, n_items).sum(axis=0)).ravel()


def _popularity_bias(shown: np.ndarray, popularity: np.ndarray, known: np.ndarray) -> float:
    shown = shown[shown >= 0]
    base = popularity[known].mean() if known.any() else 0.0
    if shown.size == 0 or base == 0:
        return 0.0
    return float(popularity[shown].mean() / base)


def _case_scores(relevant: np.ndarray, truth_sizes: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per case (row of a cases x k relevance matrix): hit, NDCG, precision and recall."""
    discounts = _discounts(k)
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    found = relevant.sum(axis=1)
    denominators = np.minimum(k, truth_sizes)
    ideal = ideal_cumulative[denominators]
    return {
        "hit_rate": (found > 0).astype(np.float64),
        "ndcg": np.divide(relevant @ discounts, ideal, out=np.zeros(len(ideal)), where=ideal > 0),
        "precision": found / k,
        "recall": np.divide(found, denominators, out=np.zeros(len(found)), where=denominators > 0),
    }


def _score_hits(relevant: np.ndarray, truth_sizes: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """Mean hit rate, NDCG, precision and recall from a (cases x k) relevance matrix."""
    if relevant.shape[0] == 0:
        return 0.0, 0.0, 0.0, 0.0
    scores = _case_scores(relevant, truth_sizes, k)
    return tuple(float(scores[name].mean()) for name in ("hit_rate", "ndcg", "precision", "recall"))


def _lookup(matrix: sp.csr_matrix, rows: np.ndarray, lists: np.ndarray) -> np.ndarray:
    """matrix[rows[i], lists[i, j]] > 0 for every case i and rank j; padding (-1) is never relevant."""
    relevant = np.zeros(lists.shape, dtype=bool)
    filled = lists >= 0
    if filled.any():
        row_index = np.broadcast_to(rows[:, None], lists.shape)[filled]
        relevant[filled] = np.asarray(matrix[row_index, lists[filled]]).ravel() > 0
    return relevant


@dataclass(frozen=True)
class ItemCases:
    """The held-out cases of an item-to-item evaluation, one per (test order, anchor), and what
    scoring a model's lists on them needs: the same for every candidate of a training, so built
    once (`item_cases_build`) and passed to `evaluate_item_model`."""

    anchors: np.ndarray  # the sampled anchors, whose lists are scored
    population: np.ndarray  # every anchor that could be sampled
    popularity: np.ndarray  # per item, training orders holding it
    baskets: sp.csr_matrix  # test orders x items
    orders: np.ndarray  # the test order of each case
    case_rows: np.ndarray  # each case's row among `anchors`
    truth_sizes: np.ndarray  # per case, the order's other items


class ListsOf:
    """Lists already made for some anchors, answering `similar` as a model would (for anchors it
    was given; -1 padded): to score lists as they are published rather than as a model ranks them."""

    def __init__(self, anchors: np.ndarray, lists: np.ndarray) -> None:
        self._row = {int(anchor): row for row, anchor in enumerate(np.asarray(anchors).tolist())}
        self._lists = lists

    def same_as(self, other: ListsOf) -> bool:
        """Whether both hold the same lists for the same anchors (one evaluation serves both)."""
        return self._row == other._row and np.array_equal(self._lists, other._lists)

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        out = np.full((len(anchors), k), -1, dtype=np.int32)
        width = min(k, self._lists.shape[1])
        for position, anchor in enumerate(np.asarray(anchors).tolist()):
            out[position, :width] = self._lists[self._row[anchor], :width]
        return out, np.where(out >= 0, 0.0, -np.inf)


def item_cases_build(
    catalog: Catalog, train: Orders, test: Orders, *, max_anchors: int = MAX_EVALUATION_ANCHORS
) -> ItemCases:
    """Held-out baskets: every test order with two or more items, each of its items that training
    knows as the anchor (if sampled), the other items as the truth."""
    n_items = catalog.n_items
    popularity = _item_popularity(train, n_items)
    population = np.flatnonzero(popularity > 0)
    anchors = evaluation_sample(population, max_anchors)
    sampled = np.zeros(n_items, dtype=bool)
    sampled[anchors] = True
    baskets = basket_matrix(test, n_items)
    sizes = np.diff(baskets.indptr)
    case_orders = np.repeat(np.arange(test.n_orders), sizes)
    case_anchors = baskets.indices.astype(np.int64)
    usable = (sizes[case_orders] >= 2) & sampled[case_anchors]
    case_orders, case_anchors = case_orders[usable], case_anchors[usable]
    row_of = np.full(n_items, -1, dtype=np.int64)
    row_of[anchors] = np.arange(anchors.size)
    return ItemCases(
        anchors, population, popularity, baskets, case_orders, row_of[case_anchors], sizes[case_orders] - 1
    )


def evaluate_item_model(
    model,
    catalog: Catalog,
    train: Orders,
    test: Orders,
    *,
    k: int = 5,
    max_anchors: int = MAX_EVALUATION_ANCHORS,
    cases: ItemCases | None = None,
) -> EvaluationResult:
    """Held-out baskets: can the anchor's list predict the rest of the basket? `cases`, built by
    `item_cases_build` from the same catalogue, orders and sample size, saves rebuilding them."""
    if cases is None:
        cases = item_cases_build(catalog, train, test, max_anchors=max_anchors)
    anchors = cases.anchors
    lists, _ = model.similar(anchors, k) if anchors.size else (np.empty((0, k), dtype=np.int32), None)
    case_lists = lists[cases.case_rows] if cases.case_rows.size else np.empty((0, k), dtype=np.int32)
    # A list never holds its anchor, so every hit is another item of the same order.
    relevant = _lookup(cases.baskets, cases.orders, case_lists)
    popularity, population = cases.popularity, cases.population
    known = popularity > 0
    hit_rate, ndcg, precision, recall = _score_hits(relevant, cases.truth_sizes, k)
    per_case = _case_scores(relevant, cases.truth_sizes, k)
    shown = np.unique(lists[lists >= 0]) if lists.size else np.empty(0, dtype=np.int32)
    return EvaluationResult(
        k=k,
        cases=int(cases.orders.size),
        hit_rate=hit_rate,
        ndcg=ndcg,
        precision=precision,
        recall=recall,
        coverage=float(known[shown].sum() / population.size) if population.size else 0.0,
        popularity_bias=_popularity_bias(lists.ravel() if lists.size else shown, popularity, known),
        population=int(population.size),
        case_hits=per_case["hit_rate"],
        case_ndcg=per_case["ndcg"],
        case_groups=cases.orders,
    )


# Above this many clusters the interval comes from the clusters' variance (the delta method for a
# ratio of sums), which a bootstrap agrees with at that size; below it, from the bootstrap. A
# bootstrap costs resamples x clusters: at 60,000 test orders (16x the UCI shop) 0.5 s per pair.
BOOTSTRAP_MAX_CLUSTERS = 10_000


def paired_interval(
    ours: np.ndarray,
    theirs: np.ndarray,
    clusters: np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    bootstrap_max_clusters: int = BOOTSTRAP_MAX_CLUSTERS,
) -> tuple[float, float, float]:
    """(mean of ours - theirs, and its `level` interval) over the same cases, resampling whole
    clusters (the cases of one test order share a basket, so they are not independent): a
    bootstrap with a fixed seed (the same inputs give the same interval) up to
    `bootstrap_max_clusters` clusters, the normal interval of the cluster-robust variance above."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.size == 0:
        return 0.0, 0.0, 0.0
    _, cluster = np.unique(clusters, return_inverse=True)
    n_clusters = int(cluster.max()) + 1
    difference = np.bincount(cluster, weights=ours - theirs, minlength=n_clusters)
    size = np.bincount(cluster, minlength=n_clusters).astype(np.float64)
    mean = float(difference.sum() / size.sum())
    tail = (1.0 - level) / 2.0
    if n_clusters > bootstrap_max_clusters:
        # Linearised ratio: each cluster's residual d_c - mean * n_c, variance n/(n-1) sum e^2 / N^2.
        residual = difference - mean * size
        spread = float(np.sqrt(n_clusters / (n_clusters - 1) * (residual @ residual)) / size.sum())
        half = NormalDist().inv_cdf(1.0 - tail) * spread
        return mean, mean - half, mean + half
    rng, means = np.random.default_rng(SAMPLE_SEED), []
    for start in range(0, resamples, 100):  # 100 resamples at a time: memory by the cluster count
        draws = rng.integers(0, n_clusters, size=(min(100, resamples - start), n_clusters))
        means.append(difference[draws].sum(axis=1) / size[draws].sum(axis=1))
    means = np.concatenate(means)
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return mean, float(low), float(high)


def paired_interval_pooled(
    pairs: list[tuple[EvaluationResult, EvaluationResult]], metric: str, *, same_groups: bool
) -> tuple[float, float, float]:
    """`paired_interval` of ours - theirs over the cases of several windows together: `pairs`
    holds (ours, theirs) scored on the same cases of each window. With `same_groups` (customers)
    a group seen in two windows is one cluster; otherwise (test orders, numbered per window) each
    window's groups are its own."""
    ours = np.concatenate([mine.per_case(metric) for mine, _ in pairs])
    theirs = np.concatenate([other.per_case(metric) for _, other in pairs])
    groups, offset = [], 0
    for mine, _ in pairs:
        grouped = np.asarray(mine.case_groups, dtype=np.int64)
        groups.append(grouped if same_groups else grouped + offset)
        offset += int(grouped.max(initial=-1)) + 1
    return paired_interval(ours, theirs, np.concatenate(groups))


def personal_cases(train: Orders, test: Orders, n_items: int) -> tuple[np.ndarray, sp.csr_matrix]:
    """Customers known to training who bought something new in the test window, and a users x
    items matrix of those new items."""
    history = user_item_matrix(train, n_items).tocsr()
    future = user_item_matrix(test, n_items).tocsr()
    future = (future - future.multiply(history > 0)).tocsr()
    future.eliminate_zeros()
    has_history = np.diff(history.indptr) > 0
    has_future = np.diff(future.indptr) > 0
    users = np.flatnonzero(has_history & has_future).astype(np.int32)
    return users, future


@dataclass(frozen=True)
class UserCases:
    """The held-out customers of a personal evaluation and what scoring a model on them needs:
    the same for every candidate of a window, so built once (`user_cases_build`)."""

    users: np.ndarray  # the sampled customers, scored
    population: np.ndarray  # every customer that could be sampled
    future: sp.csr_matrix  # users x items: what each bought for the first time in the window
    popularity: np.ndarray  # per item, training orders holding it


def user_cases_build(
    catalog: Catalog, train: Orders, test: Orders, *, max_users: int = MAX_EVALUATION_USERS
) -> UserCases:
    population, future = personal_cases(train, test, catalog.n_items)
    return UserCases(
        evaluation_sample(population, max_users), population, future, _item_popularity(train, catalog.n_items)
    )


def evaluate_user_model(
    model,
    catalog: Catalog,
    train: Orders,
    test: Orders,
    *,
    k: int = 10,
    max_users: int = MAX_EVALUATION_USERS,
    cases: UserCases | None = None,
) -> EvaluationResult:
    """Customers' first purchases in the test window, ranked against the whole catalogue. `cases`,
    built by `user_cases_build` from the same catalogue, orders and sample size, saves rebuilding them."""
    if cases is None:
        cases = user_cases_build(catalog, train, test, max_users=max_users)
    popularity, population, future, users = cases.popularity, cases.population, cases.future, cases.users
    known = popularity > 0
    if users.size == 0:
        return EvaluationResult(k, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    lists, _ = model.recommend(users, k)
    relevant = _lookup(future, users, lists)
    hit_rate, ndcg, precision, recall = _score_hits(relevant, np.diff(future.indptr)[users], k)
    per_case = _case_scores(relevant, np.diff(future.indptr)[users], k)
    shown = np.unique(lists[lists >= 0])
    return EvaluationResult(
        k=k,
        cases=int(users.size),
        hit_rate=hit_rate,
        ndcg=ndcg,
        precision=precision,
        recall=recall,
        coverage=float(known[shown].sum() / max(int(known.sum()), 1)),
        popularity_bias=_popularity_bias(lists.ravel(), popularity, known),
        population=int(population.size),
        case_hits=per_case["hit_rate"],
        case_ndcg=per_case["ndcg"],
        case_groups=users,
    )


def champion_choose(
    results: Mapping[str, EvaluationResult],
    *,
    metric: str,
    baselines: set[str],
    min_cases: int = 1,
    never: frozenset[str] = frozenset(),
) -> tuple[str, str]:
    """The best candidate by `metric`, or the best baseline if no candidate beats it.

    `never` names candidates compared against but never chosen: for an item-to-item list, the
    popularity models, whose list is the same whatever the item (popularity only ever fills a
    list). Returns (name, reason). Ties go to higher coverage, then to the name for determinism.
    """
    if not results or not set(results) - never:
        raise ValueError("nothing to choose from")

    def key(name: str) -> tuple[float, float, str]:
        result = results[name]
        return (getattr(result, metric), result.coverage, name)

    ranked = sorted(results, key=key, reverse=True)
    if ranked[0] in never:
        above = ranked[0]
        best = next(name for name in ranked if name not in never)
        return best, (
            f"the {above} baseline scores higher on {metric} ({getattr(results[above], metric):.3f} against "
            f"{getattr(results[best], metric):.3f}), but a list that is the same for every product is never "
            f"the champion of an item-to-item list: the best that depends on the product"
        )
    best = ranked[0]
    if results[best].cases < min_cases:
        return best, f"only {results[best].cases} held-out cases: too few to compare models"
    best_baseline = next((name for name in ranked if name in baselines), None)
    if best in baselines:
        return best, f"no model beat the {best} baseline on {metric}"
    if best_baseline is None:
        return best, f"highest {metric}"
    margin = getattr(results[best], metric) - getattr(results[best_baseline], metric)
    return best, f"highest {metric}, {margin:+.3f} over the {best_baseline} baseline"
