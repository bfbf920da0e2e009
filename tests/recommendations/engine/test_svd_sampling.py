"""Surprise SVD on purchases: sampled negatives, bounded work, unchanged results below the bound."""

from __future__ import annotations

import numpy as np

from recommendations.engine.personal import SurpriseSvdModel
from tests.recommendations.engine.test_evaluate import catalog, orders


def shop_history():
    rng = np.random.default_rng(8)
    baskets = [sorted(set(rng.choice(15, size=rng.integers(1, 4)).tolist())) for _ in range(200)]
    return catalog(15), orders(baskets, rng.integers(0, 30, size=200).tolist(), n_users=30)


def test_training_pairs_hold_every_purchase_as_one_and_negatives_as_zero():
    items, history = shop_history()
    model = SurpriseSvdModel(negatives=3).fit(items, history, now=300.0)
    users, products, ratings = model._training_pairs()
    positives = set(zip(users[ratings == 1].tolist(), products[ratings == 1].tolist(), strict=True))
    negatives = set(zip(users[ratings == 0].tolist(), products[ratings == 0].tolist(), strict=True))
    assert positives == set(zip(*model._history.nonzero(), strict=True))
    assert negatives and not negatives & positives


def test_purchases_beyond_the_bound_are_sampled_deterministically():
    items, history = shop_history()
    bounded = SurpriseSvdModel(max_purchases=50).fit(items, history, now=300.0)
    users, _, ratings = bounded._training_pairs()
    assert int((ratings == 1).sum()) == 50
    again = SurpriseSvdModel(max_purchases=50).fit(items, history, now=300.0)
    assert np.array_equal(bounded.recommend(np.arange(30), 5)[0], again.recommend(np.arange(30), 5)[0])
