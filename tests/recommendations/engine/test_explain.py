"""Explanations say only what the evidence says."""

from __future__ import annotations

from recommendations.engine import explain


def test_popular_counts_its_recent_orders_and_never_claims_zero():
    assert explain.popular(3, 30).sentence == "Popular in the last 30 days (3 orders)"
    assert explain.popular(1, 30).sentence == "Popular in the last 30 days (1 order)"
    quiet = explain.popular(0, 30)
    assert "0 orders" not in quiet.sentence and "last 30 days" not in quiet.sentence
