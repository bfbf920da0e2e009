"""The engine's input: a catalogue and orders as plain arrays, and the matrices built from them.

Items and users are dense indices (0..n-1) chosen by the caller; the training service keeps the
mapping to database ids. Times are POSIX seconds (float64).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Catalog:
    """One entry per item index. Text fields may be empty strings."""

    titles: list[str]
    descriptions: list[str]
    categories: list[str]
    vendors: list[str]
    tags: list[tuple[str, ...]]
    prices: np.ndarray  # float64
    created_at: np.ndarray  # float64 POSIX seconds
    # Published and in stock: the only items any list may show. Unsellable items still count as
    # evidence (a past basket with a now-archived product is still a basket).
    sellable: np.ndarray  # bool

    @property
    def n_items(self) -> int:
        return len(self.titles)


@dataclass(frozen=True)
class Orders:
    """Paid orders: one entry per order, and one per (order, distinct item) line."""

    order_time: np.ndarray  # float64, per order
    order_user: np.ndarray  # int32, per order; -1 for a guest
    line_order: np.ndarray  # int32, per line: index into the order arrays
    line_item: np.ndarray  # int32, per line
    n_users: int
    # Quantity per line (float32); defaults to ones.
    line_quantity: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.line_quantity is None:
            object.__setattr__(self, "line_quantity", np.ones(len(self.line_item), dtype=np.float32))

    @property
    def n_orders(self) -> int:
        return len(self.order_time)


def orders_from_lines(
    *,
    order_time: np.ndarray,
    order_user: np.ndarray,
    line_order: np.ndarray,
    line_item: np.ndarray,
    n_users: int,
    line_quantity: np.ndarray | None = None,
) -> Orders:
    """Build Orders, merging duplicate (order, item) lines (quantities add up)."""
    line_order = np.asarray(line_order, dtype=np.int64)
    line_item = np.asarray(line_item, dtype=np.int64)
    quantity = (
        np.ones(len(line_item), dtype=np.float32)
        if line_quantity is None
        else np.asarray(line_quantity, dtype=np.float32)
    )
    if len(line_item):
        n_items_bound = int(line_item.max()) + 1
        keys = line_order * n_items_bound + line_item
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        merged_quantity = np.bincount(inverse, weights=quantity).astype(np.float32)
        line_order, line_item, quantity = unique_keys // n_items_bound, unique_keys % n_items_bound, merged_quantity
    return Orders(
        order_time=np.asarray(order_time, dtype=np.float64),
        order_user=np.asarray(order_user, dtype=np.int32),
        line_order=line_order.astype(np.int32),
        line_item=line_item.astype(np.int32),
        n_users=n_users,
        line_quantity=quantity,
    )


def orders_subset(orders: Orders, order_mask: np.ndarray) -> Orders:
    """The orders selected by a boolean mask, renumbered; user indices are kept as they are."""
    order_mask = np.asarray(order_mask, dtype=bool)
    new_index = np.cumsum(order_mask) - 1
    keep_line = order_mask[orders.line_order]
    return Orders(
        order_time=orders.order_time[order_mask],
        order_user=orders.order_user[order_mask],
        line_order=new_index[orders.line_order[keep_line]].astype(np.int32),
        line_item=orders.line_item[keep_line],
        n_users=orders.n_users,
        line_quantity=orders.line_quantity[keep_line],
    )


def time_split(
    orders: Orders, *, test_fraction: float = 0.2, cutoff: float | None = None
) -> tuple[Orders, Orders, float]:
    """Global temporal split: orders before the cutoff train, the rest test.

    Without an explicit cutoff, the latest `test_fraction` of orders (by time) is held out.
    Returns (train, test, cutoff).
    """
    if cutoff is None:
        if orders.n_orders == 0:
            return orders, orders, 0.0
        cutoff = float(np.quantile(orders.order_time, 1.0 - test_fraction))
    train_mask = orders.order_time < cutoff
    return orders_subset(orders, train_mask), orders_subset(orders, ~train_mask), cutoff


@dataclass(frozen=True)
class Window:
    """One origin of a rolling-origin evaluation: train on every order before `start`, test on
    the orders from `start` up to `end` (None: up to the latest)."""

    train: Orders
    test: Orders
    start: float
    end: float | None


def earlier_windows(orders: Orders, *, cutoff: float, count: int) -> list[Window]:
    """Up to `count` windows before the hold-out that starts at `cutoff`, latest first, each
    holding as many orders as that hold-out and trained on every order before it: the same test
    repeated from earlier origins. A window is left out when the hold-out is empty or no order
    would be left to train it; orders at the same time stay in the same window."""
    times = np.sort(orders.order_time)
    size = int((times >= cutoff).sum())
    windows: list[Window] = []
    end = cutoff
    while size and len(windows) < count:
        before = int(np.searchsorted(times, end, side="left"))
        if before - size <= 0:
            break
        start = float(times[before - size])
        if not (times < start).any():
            break
        test = orders_subset(orders, (orders.order_time >= start) & (orders.order_time < end))
        windows.append(Window(orders_subset(orders, orders.order_time < start), test, start, end))
        end = start
    return windows


def basket_matrix(orders: Orders, n_items: int) -> sp.csr_matrix:
    """Binary orders x items matrix (1 where the order contains the item)."""
    data = np.ones(len(orders.line_item), dtype=np.float32)
    matrix = sp.csr_matrix((data, (orders.line_order, orders.line_item)), shape=(orders.n_orders, n_items))
    matrix.data[:] = 1.0
    return matrix


def user_item_matrix(
    orders: Orders, n_items: int, *, half_life_days: float | None = None, now: float | None = None
) -> sp.csr_matrix:
    """users x items: how many orders of the user contain the item, optionally decayed by age.

    With a half-life, an order `half_life_days` older than `now` counts half. Guest orders are
    left out (they belong to no user).
    """
    line_user = orders.order_user[orders.line_order]
    known = line_user >= 0
    weights = np.ones(int(known.sum()), dtype=np.float32)
    if half_life_days is not None:
        reference = float(orders.order_time.max()) if now is None else now
        age_days = (reference - orders.order_time[orders.line_order[known]]) / SECONDS_PER_DAY
        weights = np.power(0.5, np.maximum(age_days, 0.0) / half_life_days).astype(np.float32)
    matrix = sp.csr_matrix(
        (weights, (line_user[known], orders.line_item[known])), shape=(orders.n_users, n_items), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def top_k_dense(
    scores: np.ndarray, k: int, *, exclude: sp.csr_matrix | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k column indices per row of a dense score matrix, best first.

    `exclude` (same shape, sparse or boolean) marks cells that may not be returned. Rows with
    fewer than k allowed finite scores are padded with index -1 and score -inf.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        if sp.issparse(exclude):
            rows, cols = exclude.nonzero()
            scores[rows, cols] = -np.inf
        else:
            scores[np.asarray(exclude, dtype=bool)] = -np.inf
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    if k_eff == 0:
        return np.full((n_rows, k), -1, dtype=np.int32), np.full((n_rows, k), -np.inf)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1).astype(np.int32)
    values = np.take_along_axis(part_scores, order, axis=1)
    indices[~np.isfinite(values)] = -1
    if k_eff < k:
        indices = np.pad(indices, ((0, 0), (0, k - k_eff)), constant_values=-1)
        values = np.pad(values, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
    return indices, values
