"""Related products: content similarity blended with behavioural item similarity.

Three components, each a similarity between the anchor and every item:
- "content": TF-IDF cosine on the catalogue (`ContentModel`); needs no sales, so new products
  get related items and every item with text gets a list;
- "co_customer": cosine between items' buyer sets (the user x item matrix);
- "bought_together": basket co-purchase, confidence damped by the companion's popularity
  (`BasketModel`).
Per anchor, each component is divided by its best value over the allowed items (best = 1), so
weights mean the same for every shop; the blend is the weighted sum. The component with the
largest weighted share of a returned item is reported as its source (for the explanation).
Among the items some component relates to the anchor, a small recent-popularity term (orders in
the last 30 days of the shop's sales, the best seller = 1) then favours what sells now; it never
brings in an item no component relates (best sellers only ever fill a list, in the trainer).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommendations.engine.bought_together import CoOccurrence, cooccurrence_build
from recommendations.engine.content import ContentModel
from recommendations.engine.data import SECONDS_PER_DAY, Catalog, Orders, top_k_dense
from recommendations.engine.personal import binary_history, column_normalised

ANCHOR_BATCH = 1024
SOURCES = ("content", "co_customer", "bought_together")


def _max_normalised(block: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Allowed cells divided by the row's best allowed value; non-positive values and others -> 0."""
    block = np.where(allowed & (block > 0), block, 0.0)
    row_max = block.max(axis=1, keepdims=True, initial=0.0)
    return np.divide(block, row_max, out=np.zeros_like(block), where=row_max > 0)


class CoCustomerModel:
    """Items bought by the same customers: cosine on the columns of the user x item matrix."""

    name = "co_customer"

    def __init__(self) -> None:
        self._item_users: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        self._user_items: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        self._sellable = np.zeros(0, dtype=bool)

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> CoCustomerModel:
        normalised = column_normalised(binary_history(orders, catalog.n_items))
        self._user_items = normalised.tocsr()
        self._item_users = normalised.T.tocsr()
        self._sellable = np.asarray(catalog.sellable, dtype=bool)
        return self

    def similarity_rows(self, anchors: np.ndarray) -> np.ndarray:
        return np.asarray((self._item_users[anchors] @ self._user_items).toarray(), dtype=np.float64)

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return _top_k_similar(self.similarity_rows, anchors, k, self._sellable)

    def similar_with_sources(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like `similar`, with "co_customer" as every item's source (the explanation quotes the
        shared customers), "" in padding slots."""
        indices, scores = self.similar(anchors, k)
        return indices, scores, np.where(indices >= 0, "co_customer", "").astype(object)


class BasketModel:
    """Items bought in the same orders as the anchor: c_ij / n_i / n_j^`companion_damping`, the
    bought-together confidence with best sellers discounted (as `CoverageModel` breaks ties)."""

    name = "basket"

    def __init__(self, *, companion_damping: float = 0.3, co: CoOccurrence | None = None) -> None:
        self.companion_damping = companion_damping
        self._given = co
        self._counts: sp.csr_matrix = sp.csr_matrix((0, 0))
        self._item_orders = np.zeros(0)
        self._damping = np.zeros(0)

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> BasketModel:
        co = self._given
        if co is None or co.n_orders != orders.n_orders or co.n_items != catalog.n_items:
            co = cooccurrence_build(orders, catalog.n_items)
        self._counts, self._item_orders = co.counts, np.maximum(co.item_orders, 1.0)
        self._damping = np.power(self._item_orders, -self.companion_damping)
        return self

    def similarity_rows(self, anchors: np.ndarray) -> np.ndarray:
        rows = np.asarray(self._counts[anchors].toarray(), dtype=np.float64)
        return rows / self._item_orders[anchors][:, None] * self._damping[None, :]


def recent_sales(catalog: Catalog, orders: Orders, *, now: float, days: float) -> np.ndarray:
    """Per item, the orders holding it in the `days` before the shop's latest order up to `now`
    (a shop without recent orders is judged by its last month of sales), divided by the best
    seller's count among the sellable items (0 everywhere without sales)."""
    counts = np.zeros(catalog.n_items)
    past = orders.order_time <= now
    if past.any():
        latest = float(orders.order_time[past].max())
        recent = past & (orders.order_time > latest - days * SECONDS_PER_DAY)
        counts = np.bincount(orders.line_item[recent[orders.line_order]], minlength=catalog.n_items).astype(float)
    best = counts[np.asarray(catalog.sellable, dtype=bool)].max(initial=0.0)
    return counts / best if best > 0 else counts


def _valid_anchors(anchors: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    anchors = np.asarray(anchors, dtype=np.int64).ravel()
    return anchors, np.flatnonzero((anchors >= 0) & (anchors < n_items))


def _allowed(anchors: np.ndarray, sellable: np.ndarray) -> np.ndarray:
    allowed = np.broadcast_to(sellable, (len(anchors), len(sellable))).copy()
    allowed[np.arange(len(anchors)), anchors] = False
    return allowed


def _top_k_similar(similarity_rows, anchors: np.ndarray, k: int, sellable: np.ndarray):
    anchors, valid = _valid_anchors(anchors, len(sellable))
    indices = np.full((len(anchors), k), -1, dtype=np.int32)
    scores = np.full((len(anchors), k), -np.inf)
    if k <= 0:
        return indices, scores
    for start in range(0, len(valid), ANCHOR_BATCH):
        rows = valid[start : start + ANCHOR_BATCH]
        block = similarity_rows(anchors[rows])
        block[~_allowed(anchors[rows], sellable) | (block <= 0)] = -np.inf
        indices[rows], scores[rows] = top_k_dense(block, k)
    return indices, scores


class RelatedBlendModel:
    """Weighted blend of content, co-customer and basket similarity (see the module doc).

    A weight of 0 switches a component off (and skips its training). Content and co-customer
    weights chosen on a validation window of UCI Online Retail (fit before 2011-10-01, baskets
    of October 2011): HR@5 0.661 at 95 % coverage, against 0.654 / 89 % for co-customer cosine
    alone; more content weight buys coverage for hit rate (0.8: HR@5 0.643, coverage 99 %). The
    basket weight is a choice (see `candidates.RELATED`). A blend with Surprise SVD item factors
    never beat it beyond the noise on four windows and was removed. `recent_weight` is the
    recent-popularity term's (`recent_sales`), also a choice (docs/BENCHMARKS.md: on July 2011
    it keeps coverage within half a point of the blend without it; more of it scores higher on
    baskets, as best sellers do, and makes the lists more alike).
    """

    name = "related_blend"

    def __init__(
        self,
        *,
        content_weight: float = 0.4,
        co_customer_weight: float = 1.0,
        basket_weight: float = 2.0,
        recent_weight: float = 0.4,
        recent_days: float = 30.0,
        content: ContentModel | None = None,
        co: CoOccurrence | None = None,
    ) -> None:
        self.content_weight = content_weight
        self.co_customer_weight = co_customer_weight
        self.basket_weight = basket_weight
        self.recent_weight = recent_weight
        self.recent_days = recent_days
        self._recent = np.zeros(0)
        self.content = content if content is not None else ContentModel()
        self.co_customer = CoCustomerModel()
        self.basket = BasketModel(co=co)
        self._sellable = np.zeros(0, dtype=bool)

    def _components(self) -> list[tuple[float, object]]:
        return [
            (self.content_weight, self.content),
            (self.co_customer_weight, self.co_customer),
            (self.basket_weight, self.basket),
        ]

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> RelatedBlendModel:
        self._sellable = np.asarray(catalog.sellable, dtype=bool)
        for weight, component in self._components():
            if weight:
                component.fit(catalog, orders, now=now)
        self._recent = recent_sales(catalog, orders, now=now, days=self.recent_days)
        return self

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        indices, scores, _ = self.similar_with_sources(anchors, k)
        return indices, scores

    def similar_with_sources(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like `similar`, plus per returned item the dominant component's name from SOURCES
        ("" in padding slots)."""
        anchors, valid = _valid_anchors(anchors, len(self._sellable))
        indices = np.full((len(anchors), k), -1, dtype=np.int32)
        scores = np.full((len(anchors), k), -np.inf)
        sources = np.full((len(anchors), k), "", dtype=object)
        if k <= 0:
            return indices, scores, sources
        for start in range(0, len(valid), ANCHOR_BATCH):
            rows = valid[start : start + ANCHOR_BATCH]
            batch = anchors[rows]
            allowed = _allowed(batch, self._sellable)
            # Summed part by part, keeping each item's largest part: memory for three blocks,
            # whatever the number of components.
            blended, largest = np.zeros(allowed.shape), np.zeros(allowed.shape)
            dominant = np.zeros(allowed.shape, dtype=np.int8)
            for position, (weight, component) in enumerate(self._components()):
                if not weight:
                    continue
                part = weight * _max_normalised(component.similarity_rows(batch), allowed)
                blended += part
                larger = part > largest
                largest[larger], dominant[larger] = part[larger], position
                del part, larger
            related = blended > 0
            if self.recent_weight:
                blended += np.where(related, self.recent_weight * self._recent[None, :], 0.0)
            blended[~related] = -np.inf
            block_indices, block_scores = top_k_dense(blended, k)
            returned = block_indices >= 0
            safe = np.where(returned, block_indices, 0)
            indices[rows], scores[rows] = block_indices, block_scores
            chosen = np.take_along_axis(dominant, safe, axis=1)
            sources[rows] = np.where(returned, np.asarray(SOURCES, dtype=object)[chosen], "")
        return indices, scores, sources
