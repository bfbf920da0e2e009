"""The models each list kind chooses from. The evaluation, not this order, picks the champion.

Baselines are always evaluated and reported beside the candidates; a candidate is published only
if it beats them on held-out orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recommendations.engine import bought_together as bt
from recommendations.engine import personal, popularity, related
from recommendations.engine.content import ContentModel


@dataclass(frozen=True)
class Candidate:
    name: str
    build: Callable[[], Any]
    baseline: bool = False


_POPULAR = Candidate("popular", popularity.PopularityModel, baseline=True)
_RECENT_POPULAR = Candidate("recent_popular", lambda: popularity.RecentPopularityModel(window_days=30), baseline=True)

BOUGHT_TOGETHER = (
    _POPULAR,
    _RECENT_POPULAR,
    Candidate("bt_confidence", bt.ConfidenceModel),
    Candidate("bt_cosine", bt.CosineModel),
    Candidate("bt_confidence_shrunk", bt.ShrunkConfidenceModel),
    Candidate("bt_interpolated", bt.InterpolatedModel),
)

RELATED = (
    _POPULAR,
    _RECENT_POPULAR,
    Candidate("content", ContentModel),
    Candidate("co_customer", related.CoCustomerModel),
    Candidate("related_blend", related.RelatedBlendModel),
)

PERSONAL = (
    _POPULAR,
    _RECENT_POPULAR,
    Candidate("ease", personal.EaseModel),
    Candidate("item_knn", personal.ItemKnnModel),
    Candidate("als", personal.AlsModel),
    Candidate("surprise_svd", personal.SurpriseSvdModel),
    Candidate("ease_recency_blend", personal.EaseRecencyBlendModel),
)

# Used when the held-out slice is too small to compare models.
DEFAULT_CHAMPIONS = {
    "bought_together": "bt_interpolated",
    "related": "related_blend",
    "personal": "ease_recency_blend",
}
# Used when the data cannot support the kind at all (see the readiness check).
FALLBACK_CHAMPIONS = {
    "bought_together": "recent_popular",
    "related": "content",
    "personal": "recent_popular",
}
POPULARITY_NAMES = {"popular", "recent_popular"}
