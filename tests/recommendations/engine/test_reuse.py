"""Sharing work inside one training run must not change any result."""

from __future__ import annotations

import numpy as np

from recommendations.engine import bought_together as bt
from recommendations.engine.data import time_split
from recommendations.engine.personal import EaseModel, EaseRecencyBlendModel
from tests.recommendations.engine.test_evaluate import catalog, orders


def demo_arrays():
    rng = np.random.default_rng(3)
    baskets = [sorted(set(rng.choice(12, size=rng.integers(1, 5)).tolist())) for _ in range(300)]
    users = rng.integers(0, 40, size=300).tolist()
    return catalog(12), orders(baskets, users, n_users=40)


def test_blend_reusing_plain_ease_gives_the_same_lists():
    items, history = demo_arrays()
    ease = EaseModel().fit(items, history, now=400.0)

    shared = EaseRecencyBlendModel().reusing(ease).fit(items, history, now=400.0)
    alone = EaseRecencyBlendModel().fit(items, history, now=400.0)

    users = np.arange(40)
    assert np.array_equal(shared.recommend(users, 5)[0], alone.recommend(users, 5)[0])
    assert shared._weights is ease._weights


def test_blend_ignores_an_ease_fitted_on_other_orders():
    items, history = demo_arrays()
    train, _, _ = time_split(history, test_fraction=0.5)
    ease = EaseModel().fit(items, train, now=400.0)

    blend = EaseRecencyBlendModel().reusing(ease).fit(items, history, now=400.0)

    assert blend._weights is not ease._weights


def test_scorers_sharing_cooccurrence_give_the_same_lists():
    items, history = demo_arrays()
    counts = bt.cooccurrence_build(history, items.n_items)
    anchors = np.arange(items.n_items)
    for model_class in (bt.ConfidenceModel, bt.CosineModel, bt.BlendModel):
        shared = model_class().sharing(counts).fit(items, history, now=400.0)
        alone = model_class().fit(items, history, now=400.0)
        assert shared.co_ is counts
        assert np.array_equal(shared.similar(anchors, 4)[0], alone.similar(anchors, 4)[0])
