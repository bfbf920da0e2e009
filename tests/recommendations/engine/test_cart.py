"""Combining the lists of a cart's items."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.engine.cart import RRF_OFFSET, cart_combine


def test_scores_add_up_and_contributors_are_reported():
    lists = [
        (np.array([5, 6, 2, -1]), np.array([0.5, 0.4, 0.3, -np.inf])),  # cart item 1
        (np.array([6, 7, 1]), np.array([0.5, 0.2, 0.1])),  # cart item 2; its 1 is in the cart
    ]
    indices, scores, contributors = cart_combine(lists, [1, 2], 4)
    np.testing.assert_array_equal(indices, [6, 5, 7, -1])
    np.testing.assert_allclose(scores[:3], [0.9, 0.5, 0.2])
    assert np.isneginf(scores[3])
    assert contributors == [(2, 1), (1,), (2,), ()]


def test_rank_fusion_and_tie_breaking():
    lists = [(np.array([3, 4]), np.array([9.0, 8.0])), (np.array([4, 3]), np.array([0.2, 0.1]))]
    indices, scores, _ = cart_combine(lists, [0, 1], 2, method="rank")
    # Both items get 1/61 + 1/62: equal agreement and best rank, so the lower index wins.
    np.testing.assert_array_equal(indices, [3, 4])
    np.testing.assert_allclose(scores, [1 / (RRF_OFFSET + 1) + 1 / (RRF_OFFSET + 2)] * 2)


def test_items_more_anchors_agree_on_win_ties():
    lists = [(np.array([8, 9]), np.array([0.5, 0.25])), (np.array([9]), np.array([0.25]))]
    indices, scores, contributors = cart_combine(lists, [0, 1], 2)
    np.testing.assert_array_equal(indices, [9, 8])  # 0.25 + 0.25 ties 0.5, and two cart items agree on 9
    assert scores[0] == scores[1]
    assert contributors == [(0, 1), (0,)]


def test_empty_cart_and_everything_in_cart():
    indices, scores, contributors = cart_combine([], [], 3)
    np.testing.assert_array_equal(indices, [-1, -1, -1])
    assert contributors == [(), (), ()]
    indices, _, _ = cart_combine([(np.array([1]), np.array([1.0])), (np.array([0]), np.array([1.0]))], [0, 1], 2)
    np.testing.assert_array_equal(indices, [-1, -1])


def test_mismatched_lists_and_unknown_method_are_rejected():
    with pytest.raises(ValueError):
        cart_combine([(np.array([1]), np.array([1.0]))], [0, 1], 2)
    with pytest.raises(ValueError):
        cart_combine([], [], 2, method="max")
