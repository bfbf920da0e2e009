"""Offline evaluation: a global time split, full ranking, the same protocol for every candidate.

Item-to-item models ("bought together", "related") are scored on held-out baskets: every test
order with two or more distinct items, each of its items that training knows as the anchor, the
other items of that order as the truth. Personal models are scored per customer: the items a
customer bought for the first time in the test window are the truth, everything they bought
before is excluded from ranking. No sampled negatives: every item competes.

Beyond accuracy: catalogue coverage (distinct items known to training that the lists show across
all anchors or users / items known to training; new items a content model shows are not counted) and popularity bias (mean training popularity of what is shown / mean
training popularity of the catalogue; above 1 means the lists lean to the head).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from recommendations.engine.data import Catalog, Orders, basket_matrix, user_item_matrix


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

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


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


def _score_lists(lists: np.ndarray, truths: list[np.ndarray], k: int) -> tuple[float, float, float, float]:
    """Mean hit rate, NDCG, precision and recall of ranked lists against truth sets."""
    discounts = _discounts(k)
    hits = ndcgs = precisions = recalls = 0.0
    for ranked, truth in zip(lists, truths, strict=True):
        relevant = np.isin(ranked[:k], truth) & (ranked[:k] >= 0)
        found = int(relevant.sum())
        ideal = discounts[: min(k, len(truth))].sum()
        hits += found > 0
        ndcgs += float(discounts[relevant].sum() / ideal) if ideal else 0.0
        precisions += found / k
        recalls += found / min(k, len(truth))
    n = max(len(truths), 1)
    return hits / n, ndcgs / n, precisions / n, recalls / n


def evaluate_item_model(model, catalog: Catalog, train: Orders, test: Orders, *, k: int = 5) -> EvaluationResult:
    """Held-out baskets: can the anchor's list predict the rest of the basket?"""
    n_items = catalog.n_items
    popularity = _item_popularity(train, n_items)
    known = popularity > 0
    anchors = np.flatnonzero(known)
    lists, _ = model.similar(anchors, k) if anchors.size else (np.empty((0, k), dtype=np.int32), None)
    list_of = dict(zip(anchors.tolist(), range(len(anchors)), strict=True))

    test_baskets = basket_matrix(test, n_items).tolil().rows
    case_lists, truths = [], []
    for basket in test_baskets:
        if len(basket) < 2:
            continue
        items = np.asarray(basket)
        for anchor in items:
            row = list_of.get(int(anchor))
            if row is None:
                continue
            case_lists.append(lists[row])
            truths.append(items[items != anchor])
    hit_rate, ndcg, precision, recall = _score_lists(case_lists, truths, k) if truths else (0.0, 0.0, 0.0, 0.0)
    shown = np.unique(lists[lists >= 0]) if lists.size else np.empty(0, dtype=np.int32)
    return EvaluationResult(
        k=k,
        cases=len(truths),
        hit_rate=hit_rate,
        ndcg=ndcg,
        precision=precision,
        recall=recall,
        coverage=float(known[shown].sum() / anchors.size) if anchors.size else 0.0,
        popularity_bias=_popularity_bias(lists.ravel() if lists.size else shown, popularity, known),
    )


def personal_cases(train: Orders, test: Orders, n_items: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Customers known to training who bought something new in the test window, with those items."""
    history = user_item_matrix(train, n_items).tocsr()
    future = user_item_matrix(test, n_items).tocsr()
    future = future - future.multiply(history > 0)
    future.eliminate_zeros()
    has_history = np.diff(history.indptr) > 0
    has_future = np.diff(future.indptr) > 0
    users = np.flatnonzero(has_history & has_future).astype(np.int32)
    truths = [future.indices[future.indptr[u] : future.indptr[u + 1]] for u in users]
    return users, truths


def evaluate_user_model(model, catalog: Catalog, train: Orders, test: Orders, *, k: int = 10) -> EvaluationResult:
    """Customers' first purchases in the test window, ranked against the whole catalogue."""
    n_items = catalog.n_items
    popularity = _item_popularity(train, n_items)
    known = popularity > 0
    users, truths = personal_cases(train, test, n_items)
    if users.size == 0:
        return EvaluationResult(k, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    lists, _ = model.recommend(users, k)
    hit_rate, ndcg, precision, recall = _score_lists(lists, truths, k)
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
    )


def champion_choose(
    results: Mapping[str, EvaluationResult], *, metric: str, baselines: set[str], min_cases: int = 1
) -> tuple[str, str]:
    """The best candidate by `metric`, or the best baseline if no candidate beats it.

    Returns (name, reason). Ties go to higher coverage, then to the name for determinism.
    """
    if not results:
        raise ValueError("nothing to choose from")

    def key(name: str) -> tuple[float, float, str]:
        result = results[name]
        return (getattr(result, metric), result.coverage, name)

    ranked = sorted(results, key=key, reverse=True)
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
