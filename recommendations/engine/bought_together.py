"""\"Frequently bought together\": item-to-item scores from co-purchase counts.

Everything starts from one sparse items x items matrix of co-counts (orders containing both
items), built as X.T @ X on the binary basket matrix. The scorers are the classic association
measures over that matrix (confidence, cosine, Jaccard, lift), a smoothed confidence, an
interpolation between confidence and cosine, an anchor-adaptive version of it, and the shipped
blend (`BlendModel`, "bt_blend"): the anchor-adaptive score, nudged toward companions selling
now, plus a small title-similarity term. `FallbackChainModel` fills short lists with popular
items and reports each entry's source; `bundles_build` makes "add all to cart" bundles.

A pair needs at least `min_co_count` real co-purchases (not weighted) to be scored at all: an
absolute floor suits shops whose order volumes differ by orders of magnitude better than a
relative support.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recommendations.engine.data import SECONDS_PER_DAY, Catalog, Orders, basket_matrix

SOURCE_BOUGHT_TOGETHER = "bought_together"
SOURCE_RELATED = "related"
SOURCE_CATEGORY_POPULAR = "category_popular"
SOURCE_POPULAR = "popular"


# --------------------------------------------------------------------------------------------
# Co-occurrence
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoOccurrence:
    """Co-purchase counts. With order weights, `weighted_*` hold the weighted versions."""

    counts: sp.csr_matrix  # items x items, float64, orders containing both; zero diagonal
    item_orders: np.ndarray  # float64 per item: orders containing the item
    n_orders: int
    # Orders x items, binary, CSC: kept for evidence that needs more than pairs (bundles of three).
    baskets: sp.csc_matrix | None = field(default=None, repr=False)
    weighted_counts: sp.csr_matrix | None = field(default=None, repr=False)
    weighted_item_orders: np.ndarray | None = field(default=None, repr=False)
    weighted_n_orders: float | None = None

    @property
    def n_items(self) -> int:
        return self.counts.shape[0]


def order_recency_weights(orders: Orders, *, now: float, half_life_days: float) -> np.ndarray:
    """Per-order weight 0.5 ** (age / half-life); orders at or after `now` weigh 1."""
    age_days = np.maximum(now - orders.order_time, 0.0) / SECONDS_PER_DAY
    return np.power(0.5, age_days / half_life_days)


def cooccurrence_build(orders: Orders, n_items: int, *, order_weights: np.ndarray | None = None) -> CoOccurrence:
    """Co-counts of every item pair via one sparse product; optionally also order-weighted ones."""
    baskets = basket_matrix(orders, n_items).astype(np.float64)
    counts = _without_diagonal((baskets.T @ baskets).tocsr())
    item_orders = np.asarray(baskets.sum(axis=0), dtype=np.float64).ravel()
    weighted_counts = weighted_item_orders = weighted_n_orders = None
    if order_weights is not None:
        # Strictly positive weights keep the weighted matrix on the raw one's sparsity pattern.
        order_weights = np.maximum(np.asarray(order_weights, dtype=np.float64), np.finfo(np.float64).tiny)
        weighted_baskets = sp.diags(order_weights) @ baskets
        weighted_counts = _without_diagonal((baskets.T @ weighted_baskets).tocsr())
        weighted_item_orders = np.asarray(weighted_baskets.sum(axis=0), dtype=np.float64).ravel()
        weighted_n_orders = float(order_weights.sum())
    return CoOccurrence(
        counts=counts,
        item_orders=item_orders,
        n_orders=orders.n_orders,
        baskets=baskets.tocsc(),
        weighted_counts=weighted_counts,
        weighted_item_orders=weighted_item_orders,
        weighted_n_orders=weighted_n_orders,
    )


def _without_diagonal(matrix: sp.csr_matrix, *, columns_kept: np.ndarray | None = None) -> sp.csr_matrix:
    """The matrix with sorted indices and without its diagonal, its explicit zeros and, given
    `columns_kept` (a bool per column), the other columns' entries: one filtering pass."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keep = (matrix.indices != rows) & (matrix.data != 0)
    if columns_kept is not None:
        keep &= columns_kept[matrix.indices]
    if keep.all():
        return matrix
    indptr = np.zeros(matrix.shape[0] + 1, dtype=matrix.indptr.dtype)
    np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]), out=indptr[1:])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def _raw_co_counts_at(co: CoOccurrence, evidence: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Real co-counts at the stored entries of `evidence` (the raw or the weighted matrix)."""
    raw = co.counts
    if evidence is raw or (
        np.array_equal(evidence.indptr, raw.indptr) and np.array_equal(evidence.indices, raw.indices)
    ):
        return raw.data
    return np.asarray(raw[rows, cols], dtype=np.float64).ravel()


# A companion is bought-together evidence when at least this many orders held it with the
# product: a real co-purchase, never a fill. What a model ranks is its own choice (below).
BOUGHT_TOGETHER_MIN_ORDERS = 1
# The pair scorers' default floor, and a bundle's: pairs seen in a single order rank too
# noisily by their ratios (one order makes a confidence of 1 for a product sold once).
PAIR_MIN_CO_COUNT = 2


def bt_evidenced(
    co: CoOccurrence, anchor: int, items: np.ndarray, *, min_orders: int = BOUGHT_TOGETHER_MIN_ORDERS
) -> np.ndarray:
    """Per item, whether at least `min_orders` orders held it with the anchor."""
    items = np.asarray(items, dtype=np.int64)
    found = np.zeros(items.size, dtype=bool)
    if items.size == 0 or not 0 <= anchor < co.n_items:
        return found
    start, end = co.counts.indptr[anchor], co.counts.indptr[anchor + 1]
    if start == end:
        return found
    columns, counts = co.counts.indices[start:end], co.counts.data[start:end]  # sorted by column
    at = np.minimum(np.searchsorted(columns, items), end - start - 1)
    return (columns[at] == items) & (counts[at] >= min_orders)


def pair_rule_stats(co: CoOccurrence, i: int, j: int) -> dict[str, float]:
    """Association-rule figures for i => j, for explanations ("bought together 14 times")."""
    co_count = float(co.counts[i, j])
    n_i, n_j, n = float(co.item_orders[i]), float(co.item_orders[j]), float(co.n_orders)
    return {
        "co_count": co_count,
        "support": co_count / n if n else 0.0,
        "confidence": co_count / n_i if n_i else 0.0,
        "lift": co_count * n / (n_i * n_j) if n_i and n_j else 0.0,
    }


# --------------------------------------------------------------------------------------------
# Ranking helpers
# --------------------------------------------------------------------------------------------


def _rows_and_cols(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return rows, matrix.indices.astype(np.int64)


def _empty_lists(n_rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n_rows, k), -1, dtype=np.int32), np.full((n_rows, k), -np.inf)


def top_k_sparse_rows(
    scores: sp.csr_matrix, anchors: np.ndarray, k: int, *, tiebreak: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best k stored entries of each anchor's row, best first, -1 / -inf padded.

    Equal scores go to the item with the larger `tiebreak` (popularity), then the lower index,
    so lists are deterministic whatever the storage order.
    """
    anchors = np.asarray(anchors, dtype=np.int64).ravel()
    indices, values = _empty_lists(len(anchors), k)
    if k <= 0:
        return indices, values
    indptr, cols_all, data_all = scores.indptr, scores.indices, scores.data
    for position, anchor in enumerate(anchors):
        if anchor < 0 or anchor >= scores.shape[0]:
            continue
        start, end = indptr[anchor], indptr[anchor + 1]
        if start == end:
            continue
        cols, vals = cols_all[start:end], data_all[start:end]
        if end - start > k:
            # Keep everything tied with the k-th best so the tie-break sees all of them.
            threshold = np.partition(vals, end - start - k)[end - start - k]
            keep = vals >= threshold
            cols, vals = cols[keep], vals[keep]
        order = np.lexsort((cols, -tiebreak[cols], -vals))[:k]
        indices[position, : len(order)] = cols[order]
        values[position, : len(order)] = vals[order]
    return indices, values


# --------------------------------------------------------------------------------------------
# Pair scorers
# --------------------------------------------------------------------------------------------


class PairScoreModel:
    """Base of the co-occurrence scorers: score every stored pair, keep the well-supported ones.

    Subclasses implement `_pair_scores(co_count, n_anchor, n_other, n_orders)` on arrays (one
    entry per stored pair). With `half_life_days`, those figures are recency-weighted while the
    `min_co_count` floor still counts real orders.
    """

    name = "bt_pair"
    # Whether `similar` ranks companions by their pair score (bundles then take its best ones).
    ranks_pairs = True

    def __init__(self, *, min_co_count: int = PAIR_MIN_CO_COUNT, half_life_days: float | None = None) -> None:
        self.min_co_count = min_co_count
        self.half_life_days = half_life_days
        self._given_cooccurrence: CoOccurrence | None = None

    def sharing(self, co: CoOccurrence | None) -> PairScoreModel:
        """Use co-occurrence counts already built from the very orders `fit` will get.

        Several scorers of one training run then share one `X.T @ X` instead of each building
        its own. Ignored with recency weighting, which needs weighted counts.
        """
        self._given_cooccurrence = co
        return self

    # -- scoring ---------------------------------------------------------------------------

    def _pair_scores(
        self, co_count: np.ndarray, n_anchor: np.ndarray, n_other: np.ndarray, n_orders: float
    ) -> np.ndarray:
        raise NotImplementedError

    def _evidence(self) -> tuple[sp.csr_matrix, np.ndarray, float]:
        co = self.co_
        if co.weighted_counts is not None:
            return co.weighted_counts, co.weighted_item_orders, float(co.weighted_n_orders)
        return co.counts, co.item_orders, float(co.n_orders)

    def _extra_scores(self, catalog: Catalog) -> sp.csr_matrix | None:
        """Optional scores for pairs beyond co-purchases (added to the co-occurrence scores)."""
        return None

    def _companion_weights(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray | None:
        """Optional per-item multiplier applied to an item's co-occurrence score as a companion."""
        return None

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> PairScoreModel:
        n_items = catalog.n_items
        weights = (
            order_recency_weights(orders, now=now, half_life_days=self.half_life_days)
            if self.half_life_days is not None
            else None
        )
        given = self._given_cooccurrence
        if weights is None and given is not None and given.n_orders == orders.n_orders and given.n_items == n_items:
            self.co_ = given
        else:
            self.co_ = cooccurrence_build(orders, n_items, order_weights=weights)
        self.sellable_ = np.asarray(catalog.sellable, dtype=bool)
        self.popularity_ = self.co_.item_orders
        counts, item_orders, n_orders = self._evidence()
        rows, cols = _rows_and_cols(counts)
        supported = _raw_co_counts_at(self.co_, counts, rows, cols) >= self.min_co_count
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self._pair_scores(counts.data, item_orders[rows], item_orders[cols], n_orders)
        values = np.where(supported & np.isfinite(values), values, 0.0)
        companion_weights = self._companion_weights(catalog, orders, now=now)
        if companion_weights is not None:
            values = values * companion_weights[cols]
        co_scores = sp.csr_matrix((values, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)
        co_scores.eliminate_zeros()
        extra = self._extra_scores(catalog)
        scores = co_scores if extra is None else (co_scores + extra).tocsr()
        self.scores_ = self._only_showable(scores)
        return self

    def _only_showable(self, scores: sp.csr_matrix) -> sp.csr_matrix:
        return _without_diagonal(scores, columns_kept=self.sellable_)

    # -- serving ---------------------------------------------------------------------------

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return top_k_sparse_rows(self.scores_, anchors, k, tiebreak=self.popularity_)

    def similar_with_sources(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like `similar`, plus a source code per entry ("" for padding)."""
        indices, values = self.similar(anchors, k)
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        sources = np.full(indices.shape, "", dtype=object)
        filled = indices >= 0
        rows = np.broadcast_to(anchors[:, None], indices.shape)[filled]
        co_counts = np.asarray(self.co_.counts[rows, indices[filled]]).ravel() if filled.any() else np.empty(0)
        sources[filled] = np.where(co_counts >= self.min_co_count, SOURCE_BOUGHT_TOGETHER, SOURCE_RELATED)
        return indices, values, sources

    def pair_score(self, anchors: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Scores of given (anchor, other) pairs; 0 where the pair is not scored."""
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        others = np.asarray(others, dtype=np.int64).ravel()
        if anchors.size == 0:
            return np.zeros(0)
        return np.asarray(self.scores_[anchors, others], dtype=np.float64).ravel()


class ConfidenceModel(PairScoreModel):
    """P(other | anchor) = c_ij / n_i: per anchor, the same ranking as the raw co-count."""

    name = "bt_confidence"

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return co_count / n_anchor


class CoverageModel(ConfidenceModel):
    """A bought-together list chosen as a set ("bt_coverage"). A block is a hit when any one of
    its items is in the basket, so after the anchor's most frequent companion, each next pick is
    the companion found in the most of the anchor's past orders that no earlier pick is in. Ties,
    and the picks once every such order is covered, go by confidence damped by the companion's
    own popularity (c_ij / n_i / n_j^`companion_damping`): among companions that explain the
    same orders, the one that is not simply a best seller. Companions that always come in the
    same orders as a better one give way to ones that sell with the anchor in other orders, so
    much more of the catalogue is shown without losing the orders confidence would have hit.

    Lists every companion bought with the anchor (`min_co_count` 1): the greedy pass needs the
    anchor's own orders, not the pair ratios that a single order makes noisy. The damping (0.3)
    was chosen on the hold-out of July 2011 as the strongest that keeps the hit rate within the
    interval of confidence. The first `greedy_picks` places are chosen so; an anchor's orders
    beyond `max_orders` are thinned evenly (its most frequent companions stay the same).
    """

    name = "bt_coverage"
    # Its order is a set's, not a ranking of pairs: bundles come from the pairs' confidence.
    ranks_pairs = False

    def __init__(
        self,
        *,
        greedy_picks: int = 8,
        max_orders: int = 4000,
        companion_damping: float = 0.3,
        min_co_count: int = BOUGHT_TOGETHER_MIN_ORDERS,
    ) -> None:
        super().__init__(min_co_count=min_co_count)
        self.greedy_picks = greedy_picks
        self.max_orders = max_orders
        self.companion_damping = companion_damping

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> CoverageModel:
        super().fit(catalog, orders, now=now)
        self.orders_of_ = self.co_.baskets  # orders x items, CSC: an item's orders are a column
        self.items_of_ = self.co_.baskets.tocsr()  # an order's items are a row
        return self

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        indices, values = _empty_lists(len(anchors), k)
        scores, orders_indptr = self.scores_, self.orders_of_.indptr
        place = np.full(scores.shape[1], -1, dtype=np.int64)  # an item's place among the candidates
        for position, anchor in enumerate(anchors):
            if k <= 0 or anchor < 0 or anchor >= scores.shape[0]:
                continue
            start, end = scores.indptr[anchor], scores.indptr[anchor + 1]
            if start == end:
                continue
            candidates, confidence = scores.indices[start:end], scores.data[start:end]
            popularity = self.popularity_[candidates]
            # The tie-break order (np.lexsort's keys, the last first): damped confidence, then
            # the more popular companion, then the lower id.
            damped = confidence / np.power(np.maximum(popularity, 1.0), self.companion_damping)
            keys = (candidates, -popularity, -damped)
            if orders_indptr[anchor + 1] - orders_indptr[anchor] <= 1:
                chosen = _first_by(keys, np.arange(candidates.size), k)  # the first pick covers the order
            else:
                place[candidates] = np.arange(candidates.size)
                picked = self._greedy(int(anchor), place, keys, min(k, self.greedy_picks))
                place[candidates] = -1
                rest = np.ones(candidates.size, dtype=bool)
                rest[picked] = False
                chosen = np.concatenate([picked, _first_by(keys, np.flatnonzero(rest), k - picked.size)])
            indices[position, : chosen.size] = candidates[chosen]
            values[position, : chosen.size] = confidence[chosen]
        return indices, values

    def _greedy(self, anchor: int, place: np.ndarray, keys: tuple[np.ndarray, ...], picks: int) -> np.ndarray:
        """Places among the candidates (`place` maps an item to its place, -1 for the others;
        `keys` break ties as `_first_by` does) of the greedy picks, in pick order."""
        column, rows = self.orders_of_, self.items_of_
        orders = column.indices[column.indptr[anchor] : column.indptr[anchor + 1]]
        if orders.size > self.max_orders:
            orders = orders[np.linspace(0, orders.size - 1, self.max_orders).astype(np.int64)]
        # Every (order, candidate) pair of the anchor's orders, gathered from the orders' rows.
        starts = rows.indptr[orders]
        lengths = rows.indptr[orders + 1] - starts
        total = int(lengths.sum())
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(total)
        at = place[rows.indices[offsets]]
        kept = at >= 0
        order_of, candidate_of = np.repeat(np.arange(orders.size), lengths)[kept], at[kept]
        chosen: list[int] = []
        for _ in range(picks):
            if candidate_of.size == 0:
                break
            # Only pairs of orders no pick covers are left, so a count is the gain.
            gains = np.bincount(candidate_of, minlength=keys[0].size)
            best = int(_first_by(keys, np.flatnonzero(gains == gains.max()), 1)[0])
            chosen.append(best)
            covered = np.zeros(orders.size, dtype=bool)
            covered[order_of[candidate_of == best]] = True
            left = ~covered[order_of]
            order_of, candidate_of = order_of[left], candidate_of[left]
        return np.asarray(chosen, dtype=np.int64)


def _first_by(keys: tuple[np.ndarray, ...], among: np.ndarray, k: int) -> np.ndarray:
    """The first k of the places `among` by `keys` (np.lexsort's: the last key first), without
    sorting them all: only those tied with or above the k-th on the last key are sorted."""
    if k <= 0 or among.size == 0:
        return among[:0]
    if among.size > k:
        primary = keys[-1][among]
        among = among[primary <= np.partition(primary, k - 1)[k - 1]]
    return among[np.lexsort(tuple(key[among] for key in keys))[:k]]


class CosineModel(PairScoreModel):
    """c_ij / sqrt(n_i n_j): discounts popular companions, so more of the catalogue is shown."""

    name = "bt_cosine"

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return co_count / np.sqrt(n_anchor * n_other)


class JaccardModel(PairScoreModel):
    """c_ij / (n_i + n_j - c_ij)."""

    name = "bt_jaccard"

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return co_count / (n_anchor + n_other - co_count)


class LiftModel(PairScoreModel):
    """c_ij N / (n_i n_j). Rewards rare pairs; kept for comparison, needs the co-count floor."""

    name = "bt_lift"

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return co_count * n_orders / (n_anchor * n_other)


class ShrunkConfidenceModel(PairScoreModel):
    """Confidence shrunk toward the companion's base rate: (c_ij + beta p_j) / (n_i + beta).

    For anchors with few orders the ranking leans to generally popular companions instead of
    whatever happened to share their one or two baskets.
    """

    name = "bt_confidence_shrunk"

    def __init__(
        self, *, beta: float = 10.0, min_co_count: int = PAIR_MIN_CO_COUNT, half_life_days: float | None = None
    ) -> None:
        super().__init__(min_co_count=min_co_count, half_life_days=half_life_days)
        self.beta = beta

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return (co_count + self.beta * n_other / n_orders) / (n_anchor + self.beta)


class InterpolatedModel(PairScoreModel):
    """c_ij / (n_i^(1-alpha) n_j^alpha): alpha 0 is confidence, 0.5 cosine.

    Per anchor only the companion's exponent matters, so alpha sets how hard popular
    companions are discounted.
    """

    name = "bt_interpolated"

    def __init__(
        self,
        *,
        alpha: float = 0.25,
        min_co_count: int = PAIR_MIN_CO_COUNT,
        half_life_days: float | None = None,
    ) -> None:
        super().__init__(min_co_count=min_co_count, half_life_days=half_life_days)
        self.alpha = alpha

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        return co_count / (np.power(n_anchor, 1.0 - self.alpha) * np.power(n_other, self.alpha))


class AnchorAdaptiveModel(PairScoreModel):
    """Interpolation whose popularity discount depends on how much the anchor has sold.

    c_ij / (n_i^(1-a_i) n_j^a_i) with a_i = shrink / (shrink + n_i): well-sold anchors rank
    companions by confidence (best hit rate), anchors with a handful of orders rank them by
    c_ij / n_j, so their lists show their own specific companions rather than the same few
    bestsellers. Scores stay within [0, 1] either way.
    """

    name = "bt_adaptive"

    def __init__(
        self,
        *,
        anchor_shrink: float = 3.0,
        min_co_count: int = PAIR_MIN_CO_COUNT,
        half_life_days: float | None = None,
    ) -> None:
        super().__init__(min_co_count=min_co_count, half_life_days=half_life_days)
        self.anchor_shrink = anchor_shrink

    def _pair_scores(self, co_count, n_anchor, n_other, n_orders):
        alpha = self.anchor_shrink / (self.anchor_shrink + n_anchor)
        return co_count / (np.power(n_anchor, 1.0 - alpha) * np.power(n_other, alpha))


def trend_factor(orders: Orders, n_items: int, *, now: float, half_life_days: float) -> np.ndarray:
    """Per item: its share of recency-weighted orders over its share of all orders (1 = steady).

    Add-one smoothing keeps items with a single order from swinging to extremes.
    """
    weights = order_recency_weights(orders, now=now, half_life_days=half_life_days)
    weights = np.where(orders.order_time <= now, weights, 0.0)
    recent = np.bincount(orders.line_item, weights=weights[orders.line_order], minlength=n_items)[:n_items]
    total = np.bincount(orders.line_item, minlength=n_items)[:n_items].astype(np.float64)
    return ((recent + 1.0) / (recent.sum() + 1.0)) / ((total + 1.0) / (total.sum() + 1.0))


def _top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """The `keep` largest values of each row (ties at the cut broken by column); the rest dropped."""
    counts = np.diff(matrix.indptr)
    if counts.size == 0 or counts.max() <= keep:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    # Sort by row, then value descending, then column: position within the row is then the rank.
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - np.repeat(matrix.indptr[:-1], counts)
    kept = order[rank < keep]
    return sp.csr_matrix((matrix.data[kept], (rows[kept], matrix.indices[kept])), shape=matrix.shape)


def title_similarity(
    titles: list[str], *, min_similarity: float = 0.2, chunk_rows: int = 2048, max_neighbours: int = 200
) -> sp.csr_matrix:
    """Cosine similarity of TF-IDF title vectors, items x items, zero diagonal, small values dropped.

    Tokens are words of two or more letters: sizes and pack counts say little about design
    families ("RETROSPOT", "BABUSHKA"), which is what baskets share. Built in row chunks so the
    dense-ish product never has to exist for the whole catalogue at once, and at most
    `max_neighbours` per item are kept: in a large catalogue where thousands of titles share a word
    ("mug") the matrix would otherwise grow with the square of the catalogue.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    n_items = len(titles)
    empty = sp.csr_matrix((n_items, n_items), dtype=np.float64)
    if n_items == 0:
        return empty
    try:
        vectors = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b[^\W\d_]{2,}\b").fit_transform(titles)
    except ValueError:  # no usable word in any title
        return empty
    vectors = vectors.tocsr().astype(np.float64)
    transposed = vectors.T.tocsc()
    blocks = []
    for start in range(0, n_items, chunk_rows):
        block = (vectors[start : start + chunk_rows] @ transposed).tocsr()
        block.data[block.data < min_similarity] = 0.0
        # The item itself (cosine 1) is dropped before the cut, so that it takes no neighbour's place.
        own = block.indices == np.repeat(np.arange(start, start + block.shape[0]), np.diff(block.indptr))
        block.data[own] = 0.0
        block.eliminate_zeros()
        blocks.append(_top_per_row(block, max_neighbours))
    return _without_diagonal(sp.vstack(blocks, format="csr"))


class BlendModel(AnchorAdaptiveModel):
    """The shipped "bought together" scorer: anchor-adaptive co-occurrence plus title similarity.

    score_ij = c_ij / (n_i^(1-a_i) n_j^a_i) * trend_j^trend_exponent + text_weight * title_cosine_ij

    The trend factor (`trend_factor`, recent share over all-time share of orders) gently
    favours companions that are selling now over ones that sold well once; the title term
    lifts companions of the same design family, and gives anchors with thin purchase history
    "related" items (reported with source "related" by `similar_with_sources` when the pair
    has fewer than `min_co_count` co-purchases). Defaults were tuned on a validation window
    carved from the end of the training period.
    """

    name = "bt_blend"

    def __init__(
        self,
        *,
        anchor_shrink: float = 3.0,
        text_weight: float = 0.15,
        text_min_similarity: float = 0.2,
        trend_half_life_days: float = 14.0,
        trend_exponent: float = 0.25,
        min_co_count: int = PAIR_MIN_CO_COUNT,
        half_life_days: float | None = None,
    ) -> None:
        super().__init__(anchor_shrink=anchor_shrink, min_co_count=min_co_count, half_life_days=half_life_days)
        self.text_weight = text_weight
        self.text_min_similarity = text_min_similarity
        self.trend_half_life_days = trend_half_life_days
        self.trend_exponent = trend_exponent

    def _companion_weights(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray | None:
        if self.trend_exponent == 0 or orders.n_orders == 0:
            return None
        trend = trend_factor(orders, catalog.n_items, now=now, half_life_days=self.trend_half_life_days)
        return np.power(trend, self.trend_exponent)

    def _extra_scores(self, catalog: Catalog) -> sp.csr_matrix | None:
        if self.text_weight <= 0:
            return None
        return title_similarity(catalog.titles, min_similarity=self.text_min_similarity) * self.text_weight


# --------------------------------------------------------------------------------------------
# Filling short lists
# --------------------------------------------------------------------------------------------


class FallbackChainModel:
    """A co-occurrence model whose short lists are filled: same-category popular, then popular.

    "Popular" is recent popularity (`window_days`), itself filled with all-time popularity and
    then the newest items, so every list is full when enough sellable items exist. Filled
    entries keep their own model's score (order counts), which is not comparable with the
    co-occurrence scores before them: use the source codes, not the scores, to tell them apart.
    """

    def __init__(self, primary: PairScoreModel, *, window_days: float = 30.0) -> None:
        self.primary = primary
        self.window_days = window_days
        self.name = f"{primary.name}_filled"

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> FallbackChainModel:
        from recommendations.engine.popularity import CategoryPopularityModel, RecentPopularityModel

        self.primary.fit(catalog, orders, now=now)
        self.category_model_ = CategoryPopularityModel(window_days=self.window_days).fit(catalog, orders, now=now)
        self.popular_model_ = RecentPopularityModel(window_days=self.window_days).fit(catalog, orders, now=now)
        self.categories_ = np.asarray(catalog.categories, dtype=object)
        return self

    @property
    def co_(self) -> CoOccurrence:
        return self.primary.co_

    def similar_with_sources(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        k = max(int(k), 0)
        indices, values, sources = self.primary.similar_with_sources(anchors, k)
        for row, anchor in enumerate(anchors):
            taken = int((indices[row] >= 0).sum())
            if taken == k:
                continue
            excluded = np.concatenate([[anchor], indices[row, :taken]])
            category = self.categories_[anchor] if 0 <= anchor < len(self.categories_) else ""
            steps = []
            if category:
                steps.append(
                    (self.category_model_.category_popular(category, k, exclude=excluded), SOURCE_CATEGORY_POPULAR)
                )
            steps.append(
                (
                    self.popular_model_._first_k(
                        self.popular_model_.ranking_, self.popular_model_.ranking_scores_, k + 1, excluded
                    ),
                    SOURCE_POPULAR,
                )
            )
            for (fill, fill_scores), source in steps:
                fresh = (fill >= 0) & ~np.isin(fill, indices[row, :taken]) & (fill != anchor)
                fill, fill_scores = fill[fresh][: k - taken], fill_scores[fresh][: k - taken]
                indices[row, taken : taken + len(fill)] = fill
                values[row, taken : taken + len(fill)] = fill_scores
                sources[row, taken : taken + len(fill)] = source
                taken += len(fill)
                if taken == k:
                    break
        return indices, values, sources

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        indices, values, _ = self.similar_with_sources(anchors, k)
        return indices, values


# --------------------------------------------------------------------------------------------
# Bundles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """An anchor plus one or two complements, for an "add all to cart" block."""

    items: tuple[int, ...]  # anchor first
    score: float
    # Orders that contained every item of the bundle.
    together_count: int
    # Co-count of every pair in the bundle: ((i, j), count), anchor pairs first.
    pair_co_counts: tuple[tuple[tuple[int, int], int], ...]


def _confidence_top(
    co: CoOccurrence, anchors: np.ndarray, k: int, *, min_co_count: int, sellable: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's k companions by confidence (bought together in at least `min_co_count`
    orders, for sale), ranked as `top_k_sparse_rows` ranks: read from the counts' rows, with no
    copy of the whole matrix."""
    indices, values = _empty_lists(len(anchors), k)
    counts = co.counts
    sellable = None if sellable is None else np.asarray(sellable, dtype=bool)
    for position, anchor in enumerate(anchors):
        if k <= 0 or anchor < 0 or anchor >= counts.shape[0]:
            continue
        start, end = counts.indptr[anchor], counts.indptr[anchor + 1]
        cols, together = counts.indices[start:end], counts.data[start:end]
        keep = (together >= min_co_count) & (cols != anchor)
        if sellable is not None:
            keep &= sellable[cols]
        cols, together = cols[keep], together[keep]
        order = _first_by((cols, -co.item_orders[cols], -together), np.arange(cols.size), k)
        indices[position, : order.size] = cols[order]
        values[position, : order.size] = together[order] / max(float(co.item_orders[anchor]), 1.0)
    return indices, values


def bundles_build(
    model_or_co: PairScoreModel | FallbackChainModel | CoOccurrence,
    anchors: np.ndarray,
    *,
    size: int = 2,
    n_bundles: int = 3,
    n_candidates: int = 10,
    min_co_count: int = PAIR_MIN_CO_COUNT,
    sellable: np.ndarray | None = None,
) -> list[list[Bundle]]:
    """Bundles per anchor, best first.

    Candidates are the anchor's top `n_candidates` co-purchased companions (the model's list,
    or by confidence from a bare CoOccurrence). Size 2 bundles are (anchor, companion) scored
    by the model's score (confidence for a bare CoOccurrence). Size 3 bundles need all three
    items together in at least `min_co_count` orders, which also guarantees the two complements
    go together; they are scored by that count over the anchor's orders (the confidence of
    anchor => both), ties to the stronger pair scores. Filled entries (popular fallbacks) are
    never used: a bundle needs co-purchase evidence.
    """
    if size not in (2, 3):
        raise ValueError("bundle size must be 2 or 3")
    anchors = np.asarray(anchors, dtype=np.int64).ravel()
    if isinstance(model_or_co, CoOccurrence):
        co = model_or_co
        lists, scores = _confidence_top(co, anchors, n_candidates, min_co_count=min_co_count, sellable=sellable)
        evidence_ok = np.ones(lists.shape, dtype=bool)
    else:
        model = model_or_co
        co = model.co_
        lists, scores, sources = model.similar_with_sources(anchors, n_candidates)
        evidence_ok = sources == SOURCE_BOUGHT_TOGETHER
    counts = co.counts
    if not counts.has_sorted_indices:
        counts.sort_indices()  # co_counts below binary-searches each row
    baskets = co.baskets
    result: list[list[Bundle]] = []

    def orders_of(item: int) -> np.ndarray:
        # Sorted order indices of one item (a CSC column): plain slicing, no sparse indexing.
        return baskets.indices[baskets.indptr[item] : baskets.indptr[item + 1]]

    def co_counts(anchor: int, others: np.ndarray) -> np.ndarray:
        row_items = counts.indices[counts.indptr[anchor] : counts.indptr[anchor + 1]]
        row_values = counts.data[counts.indptr[anchor] : counts.indptr[anchor + 1]]
        if len(row_items) == 0:
            return np.zeros(len(others))
        position = np.minimum(np.searchsorted(row_items, others), len(row_items) - 1)
        return np.where(row_items[position] == others, row_values[position], 0.0)

    for row, anchor in enumerate(anchors):
        usable = (lists[row] >= 0) & evidence_ok[row]
        companions, companion_scores = lists[row][usable], scores[row][usable]
        anchor_counts = np.empty(0, dtype=np.float64)
        if companions.size:
            anchor_counts = co_counts(int(anchor), companions)
            enough = anchor_counts >= min_co_count
            companions, companion_scores, anchor_counts = (
                companions[enough],
                companion_scores[enough],
                anchor_counts[enough],
            )
        bundles: list[Bundle] = []
        if size == 2:
            for companion, score, count in zip(companions[:n_bundles], companion_scores, anchor_counts, strict=False):
                bundles.append(
                    Bundle(
                        (int(anchor), int(companion)),
                        float(score),
                        int(count),
                        (((int(anchor), int(companion)), int(count)),),
                    )
                )
        elif companions.size >= 2 and baskets is not None:
            # Orders containing the anchor, restricted to the candidates: their pair counts are
            # the triple counts (anchor, j, l) for every candidate pair at once.
            anchor_orders = orders_of(int(anchor))
            member = np.column_stack(
                [np.isin(anchor_orders, orders_of(int(companion)), assume_unique=True) for companion in companions]
            ).astype(np.float64)
            triple = member.T @ member
            first, second = np.triu_indices(len(companions), k=1)
            together = triple[first, second]
            ok = together >= min_co_count
            first, second, together = first[ok], second[ok], together[ok]
            pair_strength = companion_scores[first] + companion_scores[second]
            order = np.lexsort((second, first, -pair_strength, -together))[:n_bundles]
            n_anchor = max(float(co.item_orders[anchor]), 1.0)
            for position in order:
                one, other = int(companions[first[position]]), int(companions[second[position]])
                pairs = (
                    ((int(anchor), one), int(co_counts(int(anchor), np.array([one]))[0])),
                    ((int(anchor), other), int(co_counts(int(anchor), np.array([other]))[0])),
                    ((one, other), int(co_counts(one, np.array([other]))[0])),
                )
                score = float(together[position] / n_anchor)
                bundles.append(Bundle((int(anchor), one, other), score, int(together[position]), pairs))
        result.append(bundles)
    return result
