"""Cart-level recommendations: merge the item-to-item lists of everything in the cart.

Each cart item brings its own ranked list (from any model's `similar`). The combined list
leaves out what is already in the cart, adds up each candidate's evidence across cart items,
and remembers which cart items contributed it, for "Goes with X in your cart".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Reciprocal-rank fusion constant (Cormack et al. 2009): damps the weight of the very top ranks.
RRF_OFFSET = 60.0


def cart_combine(
    anchor_lists: Sequence[tuple[np.ndarray, np.ndarray]],
    cart_items: Sequence[int] | np.ndarray,
    k: int,
    *,
    method: str = "sum",
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    """Combine per-cart-item lists into one list of k items.

    `anchor_lists[t]` is the (indices, scores) list of `cart_items[t]`, 1-D or a single row;
    -1 entries are padding. `method` "sum" adds the scores (fine when all lists come from one
    model), "rank" adds 1 / (60 + rank) (reciprocal-rank fusion, for lists whose scores are not
    comparable). Ties go to the item more cart items agree on, then the better single rank,
    then the lower index.

    Returns (indices, combined scores, contributors): contributors[r] lists the cart items
    whose lists held item r, strongest contribution first (empty for padding).
    """
    if method not in ("sum", "rank"):
        raise ValueError(f"method must be 'sum' or 'rank', not {method!r}")
    cart = np.asarray(cart_items, dtype=np.int64).ravel()
    if len(anchor_lists) != len(cart):
        raise ValueError("one list per cart item is needed")
    k = max(int(k), 0)
    item_parts, score_parts, anchor_parts, rank_parts = [], [], [], []
    for anchor, (indices, scores) in zip(cart.tolist(), anchor_lists, strict=True):
        indices = np.asarray(indices, dtype=np.int64).ravel()
        scores = np.asarray(scores, dtype=np.float64).ravel()
        valid = (indices >= 0) & np.isfinite(scores)
        ranks = np.flatnonzero(valid)
        indices, scores = indices[valid], scores[valid]
        # A list that repeats an item counts it once, at its best rank.
        _, first = np.unique(indices, return_index=True)
        first.sort()
        item_parts.append(indices[first])
        score_parts.append(scores[first] if method == "sum" else 1.0 / (RRF_OFFSET + ranks[first] + 1.0))
        anchor_parts.append(np.full(len(first), anchor, dtype=np.int64))
        rank_parts.append(ranks[first])
    out_indices = np.full(k, -1, dtype=np.int32)
    out_scores = np.full(k, -np.inf)
    contributors: list[tuple[int, ...]] = [() for _ in range(k)]
    if not item_parts or k == 0:
        return out_indices, out_scores, contributors
    items = np.concatenate(item_parts)
    contributions = np.concatenate(score_parts)
    anchors = np.concatenate(anchor_parts)
    ranks = np.concatenate(rank_parts)
    outside_cart = ~np.isin(items, cart)
    items, contributions, anchors, ranks = (
        items[outside_cart],
        contributions[outside_cart],
        anchors[outside_cart],
        ranks[outside_cart],
    )
    if items.size == 0:
        return out_indices, out_scores, contributors
    unique_items, group = np.unique(items, return_inverse=True)
    totals = np.bincount(group, weights=contributions)
    agreeing = np.bincount(group)
    best_rank = np.full(len(unique_items), np.iinfo(np.int64).max)
    np.minimum.at(best_rank, group, ranks)
    order = np.lexsort((unique_items, best_rank, -agreeing, -totals))[:k]
    out_indices[: len(order)] = unique_items[order]
    out_scores[: len(order)] = totals[order]
    # Contributors per chosen item, strongest first (then by cart item index for determinism).
    by_strength = np.lexsort((anchors, -contributions, group))
    sorted_group, sorted_anchor = group[by_strength], anchors[by_strength]
    starts = np.searchsorted(sorted_group, np.arange(len(unique_items)))
    ends = np.searchsorted(sorted_group, np.arange(len(unique_items)), side="right")
    for row, item_group in enumerate(order):
        contributors[row] = tuple(int(a) for a in sorted_anchor[starts[item_group] : ends[item_group]])
    return out_indices, out_scores, contributors
