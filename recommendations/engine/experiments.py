"""A/B test arithmetic: deterministic assignment, and the comparison of each arm with the
control once the test is over. Pure functions, no Django.

The unit is the visitor: each visitor is assigned once (a hash of the experiment's salt and a
random visitor id the browser keeps), so counts per arm are counts of independent visitors. The
primary metric is the share of exposed visitors who placed an order; revenue per visitor is
reported next to it. Arms are compared with the control (the first arm) only, at a Bonferroni-
adjusted level, so three arms do not buy two chances at a false win.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

ALPHA = 0.05
BUCKETS = 10_000


def arm_assign(*, salt: str, visitor: str, weights: Sequence[int]) -> int:
    """The arm index a visitor sees: stable for the same salt and visitor, spread by weight."""
    digest = hashlib.sha256(f"{salt}:{visitor}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % BUCKETS
    total = sum(weights)
    edge = 0.0
    for index, weight in enumerate(weights):
        edge += weight / total * BUCKETS
        if bucket < edge:
            return index
    return len(weights) - 1


@dataclass(frozen=True)
class ArmTotals:
    key: str
    visitors: int
    orders: int
    revenue: float
    # Sum over orders of the order value squared: the variance of revenue per visitor, with
    # the visitors who did not order counting as zero.
    revenue_squares: float = 0.0

    @property
    def conversion(self) -> float:
        return self.orders / self.visitors if self.visitors else 0.0

    @property
    def revenue_per_visitor(self) -> float:
        return self.revenue / self.visitors if self.visitors else 0.0


@dataclass(frozen=True)
class Comparison:
    key: str
    difference: float  # conversion of the arm minus the control's, as a share
    low: float
    high: float
    p_value: float
    significant: bool
    revenue_difference: float
    revenue_low: float
    revenue_high: float


def _z(alpha: float) -> float:
    return float(norm.ppf(1 - alpha / 2))


def conversion_compare(control: ArmTotals, arm: ArmTotals, *, alpha: float) -> tuple[float, float, float, float]:
    """(difference, CI low, CI high, two-sided p) of two conversion rates: the unpooled Wald
    interval and the pooled z test, fine at the sample sizes a test needs."""
    p1, p2 = control.conversion, arm.conversion
    n1, n2 = control.visitors, arm.visitors
    difference = p2 - p1
    if not n1 or not n2:
        return difference, -1.0, 1.0, 1.0
    spread = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = _z(alpha)
    pooled = (control.orders + arm.orders) / (n1 + n2)
    pooled_spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = 1.0 if pooled_spread == 0 else float(2 * norm.sf(abs(difference) / pooled_spread))
    return difference, difference - z * spread, difference + z * spread, p_value


def _revenue_variance(arm: ArmTotals) -> float:
    if arm.visitors < 2:
        return 0.0
    mean = arm.revenue_per_visitor
    return max(arm.revenue_squares / arm.visitors - mean * mean, 0.0) * arm.visitors / (arm.visitors - 1)


def arms_compare(arms: Sequence[ArmTotals], *, alpha: float = ALPHA) -> list[Comparison]:
    """Every arm against the first (the control), at alpha divided by the number of comparisons."""
    control, others = arms[0], arms[1:]
    level = alpha / max(len(others), 1)
    z = _z(level)
    comparisons = []
    for arm in others:
        difference, low, high, p_value = conversion_compare(control, arm, alpha=level)
        revenue_difference = arm.revenue_per_visitor - control.revenue_per_visitor
        spread = math.sqrt(
            (_revenue_variance(control) / control.visitors if control.visitors else 0.0)
            + (_revenue_variance(arm) / arm.visitors if arm.visitors else 0.0)
        )
        comparisons.append(
            Comparison(
                key=arm.key,
                difference=difference,
                low=low,
                high=high,
                p_value=p_value,
                significant=p_value < level and (low > 0 or high < 0),
                revenue_difference=revenue_difference,
                revenue_low=revenue_difference - z * spread,
                revenue_high=revenue_difference + z * spread,
            )
        )
    return comparisons


def visitors_needed(*, base_rate: float, relative_lift: float, alpha: float = ALPHA, power: float = 0.8) -> int:
    """Visitors per arm to detect a relative lift of the conversion rate (normal approximation)."""
    if not 0 < base_rate < 1 or relative_lift <= 0:
        return 0
    other = min(base_rate * (1 + relative_lift), 0.999)
    z_alpha, z_power = _z(alpha), float(norm.ppf(power))
    variance = base_rate * (1 - base_rate) + other * (1 - other)
    return math.ceil((z_alpha + z_power) ** 2 * variance / (other - base_rate) ** 2)


def confidence_level(comparisons: int, *, alpha: float = ALPHA) -> float:
    """The confidence of each interval once the level is split between the comparisons."""
    return 1 - alpha / max(comparisons, 1)


def verdict(control: ArmTotals, comparisons: Sequence[Comparison], labels: dict[str, str]) -> str:
    """One plain sentence on the finished test."""
    level = f"{confidence_level(len(comparisons)) * 100:g}%"
    if control.visitors == 0 or any(c.low == -1.0 and c.high == 1.0 for c in comparisons):
        return "Not enough visitors took part to compare the arms."
    winners = [c for c in comparisons if c.significant and c.difference > 0]
    losers = [c for c in comparisons if c.significant and c.difference < 0]
    parts = []
    for c in sorted(winners, key=lambda c: -c.difference):
        parts.append(
            f"{labels[c.key]} converted better than {labels[control.key]}: "
            f"{c.difference * 100:+.2f} points ({level} interval {c.low * 100:+.2f} to {c.high * 100:+.2f})."
        )
    for c in losers:
        parts.append(
            f"{labels[c.key]} converted worse than {labels[control.key]}: "
            f"{c.difference * 100:+.2f} points ({level} interval {c.low * 100:+.2f} to {c.high * 100:+.2f})."
        )
    if not parts:
        return (
            f"No clear difference: the data are consistent with {labels[control.key]} and the other "
            "arm(s) converting equally well. Keep the simpler option, or run a longer test."
        )
    return " ".join(parts)
