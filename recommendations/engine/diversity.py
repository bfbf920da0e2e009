"""Optional re-ranking of one candidate list for variety: MMR and a per-group cap.

Both take a ranked candidate list (item indices, -1 padding allowed, with their scores), are
deterministic (equal values keep the input order), always keep the best candidate first, and
return (indices, scores) of length k padded with -1 / -inf. Returned scores are the input scores
of the chosen items, so explanations keep meaning what the model computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

SimilarityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _valid_candidates(candidates: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates without padding and duplicates, best first (stable for equal scores)."""
    candidates = np.asarray(candidates, dtype=np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if candidates.shape != scores.shape:
        raise ValueError("candidates and scores must have the same length")
    keep = (candidates >= 0) & ~np.isnan(scores) & (scores > -np.inf)
    candidates, scores = candidates[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    candidates, scores = candidates[order], scores[order]
    _, first = np.unique(candidates, return_index=True)
    first.sort()
    return candidates[first], scores[first]


def _padded(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    out_indices = np.full(k, -1, dtype=np.int32)
    out_scores = np.full(k, -np.inf)
    n = min(k, len(indices))
    out_indices[:n] = indices[:n]
    out_scores[:n] = scores[:n]
    return out_indices, out_scores


def _similarity_lookup(similarity: SimilarityFn | np.ndarray | sp.spmatrix) -> SimilarityFn:
    if callable(similarity):
        return lambda rows, cols: np.asarray(similarity(rows, cols), dtype=np.float64).ravel()
    if sp.issparse(similarity):
        matrix = sp.csr_matrix(similarity)
        return lambda rows, cols: np.asarray(matrix[rows, cols], dtype=np.float64).ravel()
    dense = np.asarray(similarity, dtype=np.float64)
    return lambda rows, cols: dense[rows, cols]


def mmr_rerank(
    candidates: np.ndarray,
    scores: np.ndarray,
    similarity: SimilarityFn | np.ndarray | sp.spmatrix,
    lambda_: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance: greedily pick argmax lambda*relevance - (1-lambda)*max-similarity-to-picked.

    `similarity` is an items x items matrix (dense or sparse) or a function (rows, cols) ->
    similarities of those pairs. Relevance is the score min-max scaled to [0, 1] over the
    candidates, so lambda means the same whatever the model's score range. lambda_ = 1 keeps
    the input order. Equal MMR values go to the better-ranked candidate.
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError("lambda_ must be within [0, 1]")
    k = max(int(k), 0)
    items, item_scores = _valid_candidates(candidates, scores)
    if len(items) == 0 or k == 0:
        return _padded(items, item_scores, k)
    span = item_scores[0] - item_scores[-1]
    relevance = (item_scores - item_scores[-1]) / span if span > 0 else np.ones(len(items))
    lookup = _similarity_lookup(similarity)
    # The first pick has no competitor for redundancy: it is the best candidate.
    chosen = [0]
    max_similarity = np.zeros(len(items))
    remaining = np.ones(len(items), dtype=bool)
    remaining[0] = False
    while len(chosen) < min(k, len(items)):
        last = items[chosen[-1]]
        open_positions = np.flatnonzero(remaining)
        max_similarity[open_positions] = np.maximum(
            max_similarity[open_positions], lookup(np.full(len(open_positions), last), items[open_positions])
        )
        value = lambda_ * relevance[open_positions] - (1.0 - lambda_) * max_similarity[open_positions]
        best = open_positions[int(np.argmax(value))]  # argmax takes the first of equals: the better rank
        chosen.append(best)
        remaining[best] = False
    chosen_positions = np.array(chosen)
    return _padded(items[chosen_positions], item_scores[chosen_positions], k)


def cap_per_group(
    candidates: np.ndarray,
    scores: np.ndarray,
    groups: Sequence | np.ndarray,
    max_per_group: int,
    k: int,
    *,
    backfill: bool = True,
    ungrouped: object = "",
) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_per_group` items per group (category or vendor), in score order.

    `groups` has one entry per catalogue item. Items whose group equals `ungrouped` (an empty
    category, say) are never capped: they share no real group. With `backfill`, when the cap
    leaves fewer than k items the best capped-out ones fill the end, so a widget stays full.
    """
    if max_per_group < 1:
        raise ValueError("max_per_group must be at least 1")
    k = max(int(k), 0)
    items, item_scores = _valid_candidates(candidates, scores)
    group_of = np.asarray(groups, dtype=object)
    taken: dict[object, int] = {}
    within_cap = np.zeros(len(items), dtype=bool)
    for position, item in enumerate(items):
        group = group_of[item]
        if group == ungrouped:
            within_cap[position] = True
            continue
        if taken.get(group, 0) < max_per_group:
            taken[group] = taken.get(group, 0) + 1
            within_cap[position] = True
    order = np.flatnonzero(within_cap)
    if backfill:
        order = np.concatenate([order, np.flatnonzero(~within_cap)])
    return _padded(items[order], item_scores[order], k)
