"""Re-ranking for variety: MMR and the per-group cap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.diversity import cap_per_group, mmr_rerank

# Items 0 and 1 are near duplicates; 2 and 3 are unrelated to everything.
SIMILARITY = np.array([[1.0, 0.9, 0.0, 0.1], [0.9, 1.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.0], [0.1, 0.1, 0.0, 1.0]])


def test_mmr_pushes_the_near_duplicate_down_but_keeps_the_best_first():
    indices, scores = mmr_rerank(np.array([0, 1, 2, 3]), np.array([1.0, 0.9, 0.5, 0.1]), SIMILARITY, 0.5, 4)
    np.testing.assert_array_equal(indices, [0, 2, 1, 3])
    np.testing.assert_allclose(scores, [1.0, 0.5, 0.9, 0.1])


def test_mmr_lambda_one_keeps_the_order_and_accepts_sparse_or_function():
    candidates, scores = np.array([0, 1, 2, 3]), np.array([1.0, 0.9, 0.5, 0.1])
    np.testing.assert_array_equal(mmr_rerank(candidates, scores, SIMILARITY, 1.0, 4)[0], [0, 1, 2, 3])
    sparse = mmr_rerank(candidates, scores, sp.csr_matrix(SIMILARITY), 0.5, 4)[0]
    function = mmr_rerank(candidates, scores, lambda rows, cols: SIMILARITY[rows, cols], 0.5, 4)[0]
    np.testing.assert_array_equal(sparse, [0, 2, 1, 3])
    np.testing.assert_array_equal(function, [0, 2, 1, 3])


def test_mmr_pads_skips_padding_and_breaks_ties_by_input_order():
    indices, scores = mmr_rerank(np.array([2, -1, 3]), np.array([0.5, -np.inf, 0.5]), np.zeros((4, 4)), 0.7, 4)
    np.testing.assert_array_equal(indices, [2, 3, -1, -1])
    assert np.isneginf(scores[2:]).all()
    with pytest.raises(ValueError):
        mmr_rerank(np.array([0]), np.array([1.0]), SIMILARITY, 1.5, 1)


def test_cap_per_group_with_and_without_backfill():
    groups = ["a", "a", "a", "b", ""]
    candidates, scores = np.array([0, 1, 2, 3, 4]), np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    indices, kept_scores = cap_per_group(candidates, scores, groups, 1, 5)
    np.testing.assert_array_equal(indices, [0, 3, 4, 1, 2])  # capped-out items fill the end
    np.testing.assert_array_equal(kept_scores, [5.0, 2.0, 1.0, 4.0, 3.0])
    strict, _ = cap_per_group(candidates, scores, groups, 1, 5, backfill=False)
    np.testing.assert_array_equal(strict, [0, 3, 4, -1, -1])


def test_cap_per_group_ungrouped_items_are_not_capped_and_input_order_does_not_matter():
    groups = ["", "", "x"]
    indices, _ = cap_per_group(np.array([2, 0, 1]), np.array([1.0, 3.0, 2.0]), groups, 1, 3, backfill=False)
    np.testing.assert_array_equal(indices, [0, 1, 2])
    with pytest.raises(ValueError):
        cap_per_group(np.array([0]), np.array([1.0]), groups, 0, 1)
