"""A/B test arithmetic: assignment, intervals, tests and verdicts, checked by hand."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from recommendations.engine.experiments import (
    ArmTotals,
    arm_assign,
    arms_compare,
    conversion_compare,
    verdict,
    visitors_needed,
)


def test_assignment_is_stable_and_follows_the_weights():
    visitors = [f"visitor-{n}" for n in range(20_000)]
    first = [arm_assign(salt="s1", visitor=v, weights=[50, 30, 20]) for v in visitors]
    again = [arm_assign(salt="s1", visitor=v, weights=[50, 30, 20]) for v in visitors]
    assert first == again
    shares = Counter(first)
    for arm, weight in enumerate((50, 30, 20)):
        assert shares[arm] / len(visitors) == pytest.approx(weight / 100, abs=0.015)


def test_two_experiments_split_visitors_independently():
    visitors = [f"v{n}" for n in range(10_000)]
    one = [arm_assign(salt="one", visitor=v, weights=[50, 50]) for v in visitors]
    two = [arm_assign(salt="two", visitor=v, weights=[50, 50]) for v in visitors]
    together = Counter(zip(one, two, strict=True))
    for cell in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert together[cell] / len(visitors) == pytest.approx(0.25, abs=0.02)


def test_the_difference_interval_and_p_value_match_the_textbook_formulas():
    control, arm = ArmTotals("A", 1000, 100, 0.0), ArmTotals("B", 1000, 150, 0.0)
    difference, low, high, p_value = conversion_compare(control, arm, alpha=0.05)
    spread = math.sqrt(0.1 * 0.9 / 1000 + 0.15 * 0.85 / 1000)
    assert difference == pytest.approx(0.05)
    assert (low, high) == (
        pytest.approx(0.05 - 1.959964 * spread, abs=1e-5),
        pytest.approx(0.05 + 1.959964 * spread, abs=1e-5),
    )
    pooled = 250 / 2000
    z = 0.05 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-6)
    assert conversion_compare(control, ArmTotals("B", 1000, 100, 0.0), alpha=0.05)[3] == pytest.approx(1.0)


def test_three_arms_split_the_error_rate_so_intervals_widen():
    control, better = ArmTotals("A", 2000, 200, 0.0), ArmTotals("B", 2000, 250, 0.0)
    (two_arms,) = arms_compare([control, better])
    three_arms = arms_compare([control, better, ArmTotals("C", 2000, 200, 0.0)])[0]
    assert three_arms.high - three_arms.low > two_arms.high - two_arms.low
    assert three_arms.p_value == pytest.approx(two_arms.p_value)


def test_revenue_per_visitor_interval_counts_non_buyers_as_zero():
    # 10 visitors each; A: two orders of 10, B: two orders of 30.
    control = ArmTotals("A", 10, 2, 20.0, revenue_squares=200.0)
    arm = ArmTotals("B", 10, 2, 60.0, revenue_squares=1800.0)
    (result,) = arms_compare([control, arm])
    assert result.revenue_difference == pytest.approx(4.0)
    var_a = (200 / 10 - 2.0**2) * 10 / 9
    var_b = (1800 / 10 - 6.0**2) * 10 / 9
    half = 1.959964 * math.sqrt(var_a / 10 + var_b / 10)
    assert result.revenue_high - result.revenue_low == pytest.approx(2 * half, rel=1e-4)


def test_verdicts_say_who_won_or_that_nothing_did():
    labels = {"A": "Model", "B": "Best sellers"}
    control = ArmTotals("A", 5000, 500, 0.0)
    worse = arms_compare([control, ArmTotals("B", 5000, 380, 0.0)])
    assert verdict(control, worse, labels).startswith("Best sellers converted worse than Model")
    same = arms_compare([control, ArmTotals("B", 5000, 505, 0.0)])
    assert verdict(control, same, labels).startswith("No clear difference")
    empty = ArmTotals("A", 0, 0, 0.0)
    assert "Not enough visitors" in verdict(empty, arms_compare([empty, ArmTotals("B", 0, 0, 0.0)]), labels)


def test_visitors_needed_for_a_ten_percent_lift_on_ten_percent():
    # (1.96 + 0.8416)^2 * (0.1*0.9 + 0.11*0.89) / 0.01^2
    assert visitors_needed(base_rate=0.1, relative_lift=0.1) == pytest.approx(14_748, abs=5)
    assert visitors_needed(base_rate=0.0, relative_lift=0.1) == 0
