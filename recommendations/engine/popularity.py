"""Popularity baselines: all-time, recent window, trending, and per category.

They serve twice: as baselines every other model must beat, and as the last links of every
fallback chain. So they always fill a list when enough sellable items exist: after the items
with a score come the rest by all-time popularity, then the newest items, then by index.

Item-to-item use: `similar(anchors, k)` is the popular list minus the anchor.
Personal use: `recommend(users, k)` is the popular list minus what the user already bought in the
fitted orders (guests and unknown users get the plain list).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommendations.engine.data import SECONDS_PER_DAY, Catalog, Orders, user_item_matrix


def orders_per_item(orders: Orders, n_items: int, *, weights: np.ndarray | None = None) -> np.ndarray:
    """How many orders contain each item (lines are one per order and item), optionally weighted per order."""
    line_weights = None if weights is None else np.asarray(weights, dtype=np.float64)[orders.line_order]
    return np.bincount(orders.line_item, weights=line_weights, minlength=n_items).astype(np.float64)[:n_items]


def buyers_per_item(orders: Orders, n_items: int) -> np.ndarray:
    """Distinct buyers per item; each guest order counts as its own buyer."""
    if len(orders.line_item) == 0:
        return np.zeros(n_items)
    line_user = orders.order_user[orders.line_order].astype(np.int64)
    guest = line_user < 0
    buyer = np.where(guest, orders.n_users + orders.line_order.astype(np.int64), line_user)
    pairs = np.unique(buyer * n_items + orders.line_item.astype(np.int64))
    return np.bincount(pairs % n_items, minlength=n_items).astype(np.float64)


class PopularityModel:
    """All-time popularity: orders containing the item (or distinct buyers with count="buyers")."""

    name = "popular"

    def __init__(self, *, count: str = "orders") -> None:
        if count not in ("orders", "buyers"):
            raise ValueError(f"count must be 'orders' or 'buyers', not {count!r}")
        self.count = count

    def _primary_scores(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray:
        if self.count == "buyers":
            return buyers_per_item(orders, catalog.n_items)
        return orders_per_item(orders, catalog.n_items)

    def fit(self, catalog: Catalog, orders: Orders, *, now: float) -> PopularityModel:
        n_items = catalog.n_items
        self.n_items_ = n_items
        self.all_time_ = orders_per_item(orders, n_items)
        primary = np.asarray(self._primary_scores(catalog, orders, now=now), dtype=np.float64)
        created = np.nan_to_num(np.asarray(catalog.created_at, dtype=np.float64), nan=-np.inf)
        sellable = np.flatnonzero(np.asarray(catalog.sellable, dtype=bool))
        order = np.lexsort((sellable, -created[sellable], -self.all_time_[sellable], -primary[sellable]))
        self.ranking_ = sellable[order].astype(np.int32)
        self.ranking_scores_ = primary[self.ranking_]
        self.categories_ = np.asarray(catalog.categories, dtype=object)
        self.history_ = user_item_matrix(orders, n_items).tocsr() if orders.n_users else sp.csr_matrix((0, n_items))
        return self

    # -- lists -----------------------------------------------------------------------------

    def _first_k(
        self, ranking: np.ndarray, scores: np.ndarray, k: int, excluded: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # Only the head can be needed: k items plus at most one per excluded item.
        head = ranking[: k + len(excluded)]
        keep = ~np.isin(head, excluded) if len(excluded) else np.ones(len(head), dtype=bool)
        chosen = np.flatnonzero(keep)[:k]
        indices = np.full(k, -1, dtype=np.int32)
        values = np.full(k, -np.inf)
        indices[: len(chosen)] = head[chosen]
        values[: len(chosen)] = scores[chosen]
        return indices, values

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The most popular items, never the anchor itself."""
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        indices = np.full((len(anchors), max(k, 0)), -1, dtype=np.int32)
        values = np.full((len(anchors), max(k, 0)), -np.inf)
        for row, anchor in enumerate(anchors):
            indices[row], values[row] = self._first_k(
                self.ranking_, self.ranking_scores_, max(k, 0), np.array([anchor])
            )
        return indices, values

    def bought_by(self, user: int) -> np.ndarray:
        """Items the user bought in the fitted orders (empty for guests and unknown users)."""
        if user < 0 or user >= self.history_.shape[0]:
            return np.empty(0, dtype=np.int32)
        return self.history_.indices[self.history_.indptr[user] : self.history_.indptr[user + 1]]

    def recommend(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The most popular items the user has not bought yet."""
        users = np.asarray(users, dtype=np.int64).ravel()
        indices = np.full((len(users), max(k, 0)), -1, dtype=np.int32)
        values = np.full((len(users), max(k, 0)), -np.inf)
        for row, user in enumerate(users):
            indices[row], values[row] = self._first_k(
                self.ranking_, self.ranking_scores_, max(k, 0), self.bought_by(int(user))
            )
        return indices, values

    def category_popular(
        self, category: str, k: int, *, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The category's most popular items only (padded with -1 when it has fewer than k)."""
        in_category = self.categories_[self.ranking_] == category
        excluded = np.empty(0, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64).ravel()
        return self._first_k(self.ranking_[in_category], self.ranking_scores_[in_category], max(k, 0), excluded)


class RecentPopularityModel(PopularityModel):
    """Orders containing the item within `window_days` before `now`; ties and the rest by all-time popularity."""

    name = "popular_recent"

    def __init__(self, *, window_days: float = 30.0) -> None:
        super().__init__(count="orders")
        self.window_days = window_days

    def _primary_scores(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray:
        in_window = (orders.order_time <= now) & (orders.order_time > now - self.window_days * SECONDS_PER_DAY)
        return orders_per_item(orders, catalog.n_items, weights=in_window.astype(np.float64))


class TrendingModel(PopularityModel):
    """Recency-decayed order counts: an order `half_life_days` before `now` counts half.

    Orders after `now` are ignored (the model is trained as of `now`).
    """

    name = "trending"

    def __init__(self, *, half_life_days: float = 7.0) -> None:
        super().__init__(count="orders")
        self.half_life_days = half_life_days

    def _primary_scores(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray:
        age_days = (now - orders.order_time) / SECONDS_PER_DAY
        weights = np.where(age_days >= 0, np.power(0.5, np.maximum(age_days, 0.0) / self.half_life_days), 0.0)
        return orders_per_item(orders, catalog.n_items, weights=weights)


class CategoryPopularityModel(PopularityModel):
    """Item-to-item: the anchor's category's popular items first, then the overall popular ones.

    With `window_days`, popularity is counted over that recent window (rest as usual). Anchors
    without a category get the overall list. `recommend` is the overall personal baseline.
    """

    name = "category_popular"

    def __init__(self, *, window_days: float | None = None) -> None:
        super().__init__(count="orders")
        self.window_days = window_days

    def _primary_scores(self, catalog: Catalog, orders: Orders, *, now: float) -> np.ndarray:
        if self.window_days is None:
            return orders_per_item(orders, catalog.n_items)
        return RecentPopularityModel(window_days=self.window_days)._primary_scores(catalog, orders, now=now)

    def similar_with_sources(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lists plus a source per entry: "category_popular", "popular", or "" for padding."""
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        k = max(k, 0)
        indices = np.full((len(anchors), k), -1, dtype=np.int32)
        values = np.full((len(anchors), k), -np.inf)
        sources = np.full((len(anchors), k), "", dtype=object)
        for row, anchor in enumerate(anchors):
            category = self.categories_[anchor] if 0 <= anchor < self.n_items_ else ""
            taken = 0
            if category:
                same, same_scores = self.category_popular(category, k, exclude=np.array([anchor]))
                taken = int((same >= 0).sum())
                indices[row, :taken], values[row, :taken] = same[:taken], same_scores[:taken]
                sources[row, :taken] = "category_popular"
            rest, rest_scores = self._first_k(
                self.ranking_, self.ranking_scores_, k - taken, np.concatenate([[anchor], indices[row, :taken]])
            )
            filled = int((rest >= 0).sum())
            indices[row, taken : taken + filled] = rest[:filled]
            values[row, taken : taken + filled] = rest_scores[:filled]
            sources[row, taken : taken + filled] = "popular"
        return indices, values, sources

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        indices, values, _ = self.similar_with_sources(anchors, k)
        return indices, values
