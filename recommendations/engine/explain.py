"""Explanations: a machine-readable reason, a plain sentence and the evidence behind it.

Every item of every published list carries one. Sentences quote the evidence ("Bought together
in 34 orders") rather than the model ("EASE score 0.31"), because the merchant and the shopper
read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


class Reason:
    BOUGHT_TOGETHER = "bought_together"
    SIMILAR_CONTENT = "similar_content"
    SAME_CUSTOMERS = "same_customers"
    SIMILAR_TASTE = "similar_taste"
    BECAUSE_YOU_BOUGHT = "because_you_bought"
    CATEGORY_POPULAR = "category_popular"
    POPULAR = "popular"
    TRENDING = "trending"
    PINNED = "pinned"
    MERCHANT_RULE = "merchant_rule"


@dataclass(frozen=True)
class Explanation:
    reason: str
    sentence: str
    evidence: dict = field(default_factory=dict)


def _quoted(words) -> str:
    return ", ".join(f"'{word}'" for word in words)


def pair_count(matrix: sp.csr_matrix, i: int, j: int) -> int:
    """One stored entry of a sparse count matrix (0 when absent)."""
    row = slice(matrix.indptr[i], matrix.indptr[i + 1])
    position = np.searchsorted(matrix.indices[row], j)
    if position < matrix.indptr[i + 1] - matrix.indptr[i] and matrix.indices[row][position] == j:
        return int(round(float(matrix.data[row][position])))
    return 0


def bought_together(co_count: int, *, confidence: float | None = None, lift: float | None = None) -> Explanation:
    evidence = {"co_count": co_count}
    if confidence is not None:
        evidence["confidence"] = round(confidence, 4)
    if lift is not None:
        evidence["lift"] = round(lift, 3)
    noun = "order" if co_count == 1 else "orders"
    return Explanation(Reason.BOUGHT_TOGETHER, f"Bought together in {co_count} {noun}", evidence)


def similar_content(shared) -> Explanation:
    """From content.SharedTerms: "Same category 'Candles'; shares 'heart', 'holder'"."""
    parts, evidence = [], {}
    if shared.category:
        parts.append(f"Same category '{shared.category}'")
        evidence["category"] = shared.category
    if shared.vendor:
        parts.append(f"same brand '{shared.vendor}'" if parts else f"Same brand '{shared.vendor}'")
        evidence["vendor"] = shared.vendor
    if shared.tags:
        parts.append(f"tagged {_quoted(shared.tags[:3])}")
        evidence["tags"] = list(shared.tags[:3])
    if shared.terms:
        parts.append(f"shares {_quoted(shared.terms[:3])}")
        evidence["terms"] = list(shared.terms[:3])
    sentence = "; ".join(parts) if parts else "Similar product"
    return Explanation(Reason.SIMILAR_CONTENT, sentence[0].upper() + sentence[1:], evidence)


def same_customers(customers: int) -> Explanation:
    noun = "customer" if customers == 1 else "customers"
    return Explanation(
        Reason.SAME_CUSTOMERS, f"Also bought by {customers} {noun} who bought this", {"customers": customers}
    )


def similar_taste() -> Explanation:
    return Explanation(Reason.SIMILAR_TASTE, "Chosen by customers with similar taste")


def because_you_bought(title: str) -> Explanation:
    return Explanation(Reason.BECAUSE_YOU_BOUGHT, f"Because you bought {title}", {"product": title})


def popular(orders: int, window_days: int) -> Explanation:
    if orders == 0:
        # Ranked on all-time sales: "popular in the last 30 days (0 orders)" would contradict itself.
        return Explanation(Reason.POPULAR, "One of the shop's best sellers", {"orders": 0, "window_days": window_days})
    noun = "order" if orders == 1 else "orders"
    return Explanation(
        Reason.POPULAR,
        f"Popular in the last {window_days} days ({orders} {noun})",
        {"orders": orders, "window_days": window_days},
    )


def trending(orders: int, window_days: int) -> Explanation:
    return Explanation(Reason.TRENDING, f"Trending: {orders} orders in the last {window_days} days", {"orders": orders})


def category_popular(category: str, orders: int) -> Explanation:
    return Explanation(Reason.CATEGORY_POPULAR, f"Popular in '{category}'", {"category": category, "orders": orders})
