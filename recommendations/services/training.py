"""Training: load -> check readiness -> fit candidates -> evaluate -> choose -> refit -> precompute
-> drop bundles the merchant's rules block -> publish a new model version atomically (or keep the
live one, and say why). The other merchant rules apply when lists are read.

The only code that reads the ORM for training; the engine gets arrays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
from django.db import transaction
from django.utils import timezone

from recommendations.engine import candidates as registry
from recommendations.engine import explain
from recommendations.engine.bought_together import (
    CoOccurrence,
    PairScoreModel,
    bt_evidenced,
    bundles_build,
    cooccurrence_build,
)
from recommendations.engine.content import ContentModel
from recommendations.engine.data import (
    Catalog,
    Orders,
    Window,
    basket_matrix,
    earlier_windows,
    time_split,
    user_item_matrix,
)
from recommendations.engine.diversity import cap_per_group, mmr_rerank
from recommendations.engine.evaluate import (
    MAX_EVALUATION_ANCHORS,
    EvaluationResult,
    ItemCases,
    ListsOf,
    UserCases,
    champion_choose,
    evaluate_item_model,
    evaluate_user_model,
    item_cases_build,
    paired_interval,
    paired_interval_pooled,
    user_cases_build,
)
from recommendations.engine.popularity import RecentPopularityModel, TrendingModel
from recommendations.models import ListKind, ModelVersion, RecommendationList, ServingPack, TrainingRun
from recommendations.readiness import MIN_CUSTOMERS_WITH_HISTORY, MIN_MULTI_ITEM_ORDERS
from recommendations.rules import rules_apply
from recommendations.selectors import merchant_rules_active
from recommendations.services.settings import DIVERSITY_KEY, diversity_settings_clean
from recommendations.services.training_data import TrainingData, training_data_load
from recommendations.services.training_runs import (
    SHUTDOWN_REASON,
    TrainingHeartbeat,
    TrainingInterrupted,
    TrainingLost,
    _lock_key,  # noqa: F401 (re-exported: the lock's key is the training's)
    training_lock_acquire,
    training_lock_release,
    training_retries_exhausted,
    training_run_create,  # noqa: F401 (re-exported for the commands that train in the foreground)
    training_run_finish,
    training_run_start,
    training_runs_reap,
)
from recommendations.storefront.cache import storefront_invalidate
from recommendations.storefront.packs import PACKED_KINDS, pack_build
from recommendations.storefront.service import LIST_ITEMS
from shops.bulk import rows_insert
from shops.models import Order, Product, Shop
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.training")

# Longest list any widget can ask for (the storefront's limit is 1-24).
LIST_LENGTH = 24
# Share of the latest orders held out for evaluation when no cut-off date is given.
HOLDOUT_FRACTION = 0.2
# Below this many held-out cases, metric differences are noise: the default champion is used.
MIN_EVALUATION_CASES = 30
# Rolling origin: besides the latest hold-out, this many earlier windows of as many orders each,
# on which the chosen model and the plain reference are refitted and scored again before a
# challenger wins (their difference pooled over every window with enough cases).
EARLIER_WINDOWS = 2
# Products whose lists an earlier window scores, at most (a fixed-seed sample, as the latest
# window's MAX_EVALUATION_ANCHORS): the latest window ranks every candidate, an earlier one only
# confirms two of them, on at most this many.
EARLIER_WINDOW_ANCHORS = 2_000
POPULAR_WINDOW_DAYS = 30
# A nightly retraining of a shop that gained at most this share of new orders over what the live
# version learned from reuses the live version's evaluation (champions, figures, windows) and
# only refits and precomputes on every order: the evaluation is most of a training's cost, and a
# few orders more do not change what it found. Never for an evaluation older than
# REUSE_MAX_DAYS, and never when the diversity setting or a list kind's readiness changed.
REUSE_NEW_ORDERS = 0.05
REUSE_MAX_DAYS = 7
# A new version may score up to 5% below the live one on the same held-out data and still go
# live (noise between runs); a bigger drop keeps the live version.
PROMOTION_TOLERANCE = 0.05
# If the shop suddenly has far fewer orders than the live version saw, a sync probably lost
# data: training on it would publish worse lists, so the live version stays.
MAX_ORDER_SHRINK = 0.2
# Largest catalogue whose item x item co-customer counts are kept dense during precompute.
DENSE_ITEM_LIMIT = 6000

ProgressCallback = Callable[[str], None]


def training_run_execute(
    *,
    shop: Shop,
    run: TrainingRun,
    holdout_from: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
) -> TrainingRun:
    """Run a queued training to its end. Safe to call twice: a run that is not queued is left alone.

    Any error marks the run failed with the reason and leaves the live version serving. A worker
    shutdown that outlasts the grace period fails the run with that reason and queues it again.
    """
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    run.refresh_from_db()
    if not claimed:
        return run
    if not training_lock_acquire(shop_id=shop.pk, run_id=run.pk):
        return training_run_finish(
            run=run, status=TrainingRun.Status.SKIPPED, error="Another training of this shop is running."
        )
    report = progress or (lambda step: None)
    try:
        with TrainingHeartbeat(shop_id=shop.pk, run_id=run.pk) as heartbeat:

            def checked_progress(step: str) -> None:
                if heartbeat.lost:
                    raise TrainingLost("another worker took this shop's training over (this run's heartbeat was late)")
                report(step)

            trainer = _Trainer(shop=shop, run=run, holdout_from=holdout_from, progress=checked_progress)
            return trainer.run()
    except TrainingInterrupted:
        logger.warning("training.given_back shop_id=%s run_id=%s", shop.pk, run.pk)
        given_back = training_run_finish(run=run, status=TrainingRun.Status.FAILED, error=SHUTDOWN_REASON)
    except Exception as error:
        logger.exception("training.failed shop_id=%s run_id=%s", shop.pk, run.pk)
        return training_run_finish(run=run, status=TrainingRun.Status.FAILED, error=f"{type(error).__name__}: {error}")
    finally:
        training_lock_release(shop_id=shop.pk, run_id=run.pk)
    # Queued again only once the lock is free, so that the next worker is not turned away.
    training_run_start(shop=shop, trigger=run.trigger)
    return given_back


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the lists are built: they are a million small
    dicts at 50k products, none of them in a cycle, and every full collection would walk them all
    again (a third of the precompute time in a profile)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _result_dict(result: EvaluationResult, *, fit_seconds: float, baseline: bool) -> dict:
    values = {key: (round(value, 5) if isinstance(value, float) else value) for key, value in result.as_dict().items()}
    return {**values, "fit_seconds": round(fit_seconds, 3), "baseline": baseline}


def _intervals(
    results: dict[str, EvaluationResult], *, metric: str, baselines: set[str], reference: str | None
) -> dict[str, dict[str, list[float]]]:
    """Per candidate, its metric minus the reference model's and minus the best baseline's on
    the same held-out cases: [difference, low, high] with the 95% interval of a bootstrap over test
    orders (customers for personal lists)."""

    def value(name: str) -> float:
        return getattr(results[name], metric)

    scored = [name for name, result in results.items() if result.case_groups is not None and result.cases]
    best_baseline = max((name for name in scored if name in baselines), key=value, default=None)
    intervals: dict[str, dict[str, list[float]]] = {}
    for name in scored:
        against = {}
        for other in (reference, best_baseline):
            if other is None or other == name or other not in scored:
                continue
            mine, theirs = results[name].per_case(metric), results[other].per_case(metric)
            if mine.size != theirs.size:
                continue
            difference = paired_interval(mine, theirs, results[name].case_groups)
            against[other] = [round(number, 5) for number in difference]
        if against:
            intervals[name] = against
    return intervals


# A draw on the metric goes to the list that shows at least this much more of the catalogue.
BREADTH_RATIO = 1.25


def _interval_text(interval: tuple[float, float, float] | list[float], other: str) -> str:
    difference, low, high = interval
    return f"{difference:+.4f} [{low:+.4f}, {high:+.4f}] over {other}"


def _broadest_of_equals(
    champion: str, reason: str, results: dict[str, EvaluationResult], *, metric: str, never: frozenset[str]
) -> tuple[str, str]:
    """Of the champion and every candidate whose paired 95% interval against it holds zero (no
    worse beyond the noise of the held-out orders), the one that shows the most of the
    catalogue: for item lists, where a draw on hit rate is settled by breadth."""
    leader = results[champion]
    if leader.case_groups is None:
        return champion, reason
    best, best_interval = champion, None
    for name, result in results.items():
        if name in never or name == champion or result.case_groups is None or result.cases != leader.cases:
            continue
        if result.coverage <= results[best].coverage:
            continue
        interval = paired_interval(result.per_case(metric), leader.per_case(metric), leader.case_groups)
        if interval[2] >= 0:
            best, best_interval = name, interval
    if best_interval is None:
        return champion, reason
    return best, (
        f"{best} scores {_interval_text(best_interval, champion)} (95% interval), a draw with the best, and "
        f"shows {results[best].coverage:.0%} of the catalogue against {leader.coverage:.0%}"
    )


def _beyond_the_noise(
    champion: str,
    reason: str,
    intervals: dict[str, dict[str, list[float]]],
    reference: str | None,
    *,
    results: dict[str, EvaluationResult] | None = None,
    over: str = "",
) -> tuple[str, str]:
    """The champion, unless it beats the kind's plain reference model only within the 95%
    interval: then the reference, the simpler of the two. With `results` (item lists), a draw
    still goes to the champion when it shows at least BREADTH_RATIO times as much of the
    catalogue as the reference. `over` says what the interval pools (e.g. "3 windows")."""
    against = intervals.get(champion, {}).get(reference) if reference else None
    if against is None:
        return champion, reason
    figures = _interval_text(against, reference)
    level = f"(95% interval, {over})" if over else "(95% interval)"
    if against[1] > 0:
        return champion, f"{reason}; {figures} {level}"
    if results is not None and against[2] >= 0:
        ours, theirs = results[champion].coverage, results[reference].coverage
        if ours >= BREADTH_RATIO * theirs:
            return champion, (
                f"{reason}; {figures} {level}, a draw with {reference}, showing {ours:.0%} of the "
                f"catalogue against {theirs:.0%}"
            )
    return reference, (
        f"{champion} scores {figures} {level}, within the noise of the held-out orders: the plainer {reference} is kept"
    )


def _window_entry(
    span: dict, cases: int, pair: tuple | None = None, metric: str = "", names: tuple[str, str] | None = None
) -> dict:
    """A window of the report: its span, its held-out cases, whether they are enough to judge,
    and with `pair` (the results of `names`, the challenger and the reference, on it) both
    figures and the difference between them with its 95% interval."""
    entry = {**span, "cases": cases, "judged": cases >= MIN_EVALUATION_CASES}
    if not entry["judged"]:
        entry["note"] = f"too thin to judge: {cases} held-out cases (needs {MIN_EVALUATION_CASES})"
    if pair is not None and names is not None:
        ours, theirs = pair
        entry["compared"] = list(names)
        entry["values"] = [round(getattr(ours, metric), 5), round(getattr(theirs, metric), 5)]
        difference = paired_interval(ours.per_case(metric), theirs.per_case(metric), ours.case_groups)
        entry["interval"] = [round(number, 5) for number in difference]
    return entry


class _Held:
    """One evaluation window and what the candidates scored on it share, each built on first use."""

    def __init__(self, catalog: Catalog, window: Window, *, max_anchors: int = MAX_EVALUATION_ANCHORS) -> None:
        self.catalog = catalog
        self.window = window
        self.max_anchors = max_anchors
        # Fitted models later candidates reuse (registry.REUSED), and the window's co-occurrence.
        self.fitted: dict[str, object] = {}

    @functools.cached_property
    def co(self) -> CoOccurrence:
        return cooccurrence_build(self.window.train, self.catalog.n_items)

    @functools.cached_property
    def fills(self) -> RecentPopularityModel:
        """What fills a short related list, as of the window's start."""
        return RecentPopularityModel(window_days=POPULAR_WINDOW_DAYS).fit(
            self.catalog, self.window.train, now=self.window.start
        )

    @functools.cached_property
    def item_cases(self) -> ItemCases:
        """The held-out baskets every item list is scored on, built once for all candidates."""
        return item_cases_build(self.catalog, self.window.train, self.window.test, max_anchors=self.max_anchors)

    @functools.cached_property
    def user_cases(self) -> UserCases:
        """The held-out customers every personal list is scored on, built once for all candidates."""
        return user_cases_build(self.catalog, self.window.train, self.window.test)

    def cases(self, kind: str) -> int:
        return int(self.user_cases.users.size if kind == ListKind.PERSONAL else self.item_cases.orders.size)

    def for_items(self) -> dict[str, object]:
        self.fitted.setdefault(registry.COOCCURRENCE, self.co)
        return self.fitted

    def forget_models(self) -> None:
        """Drop the fitted models (not the co-occurrence): the next kind fits its own."""
        self.fitted = {name: model for name, model in self.fitted.items() if name == registry.COOCCURRENCE}

    def span(self) -> dict:
        window = self.window

        def day(moment: float | None) -> str | None:
            return dt.datetime.fromtimestamp(moment, tz=dt.UTC).isoformat() if moment else None

        return {
            "from": day(window.start),
            "to": day(window.end),
            "train_orders": window.train.n_orders,
            "test_orders": window.test.n_orders,
        }


class _Trainer:
    def __init__(self, *, shop: Shop, run: TrainingRun, holdout_from: dt.datetime | None, progress) -> None:
        self.shop = shop
        self.run_row = run
        self.holdout_from = holdout_from
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.report: dict = {}

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        self.progress(step)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - started, 3)

    # -- pipeline --------------------------------------------------------------------------

    def run(self) -> TrainingRun:
        started = time.perf_counter()
        with self._timed("load"):
            data = training_data_load()
            rules = merchant_rules_active()
        orders_seen = data.orders.n_orders
        diversity = diversity_settings_clean(self.shop.settings.get(DIVERSITY_KEY))
        reused = self._reusable_evaluation(data, diversity)
        lists, evaluation = self.compute(data, rules=rules, now=timezone.now(), diversity=diversity, evaluation=reused)
        # Publishing needs only the lists: the fitted models and matrices go before it serialises
        # them (about 400 MB at the UCI Online Retail shop's size).
        self.data = self.models = self.co = self.history = self.co_customers = self.content = None
        self.co_customers_dense = self.co_counts_dense = None
        self.shared_terms_cache = {}
        del data
        gc.collect()
        with self._timed("publish"):
            run = self._publish(lists, evaluation, orders_seen=orders_seen)
        self.timings["total"] = round(time.perf_counter() - started, 3)
        run.report = {**self.report, "timings": self.timings}
        run.save(update_fields=["report"])
        return run

    def compute(
        self,
        data: TrainingData,
        *,
        rules: list,
        now: dt.datetime,
        diversity: dict | None = None,
        evaluation: dict | None = None,
    ) -> tuple[dict[str, dict[str, list[dict]]], dict]:
        """Everything between loading and publishing; touches no database (benchmarks call it).
        With `evaluation` (`_reusable_evaluation`), its champions are refitted without evaluating."""
        self.data = data
        self.rules = rules
        self.diversity = diversity or {"strategy": "none"}
        self.now_datetime = now
        readiness = self._readiness(data)
        self.report["diversity"] = self.diversity
        if evaluation is None:
            with self._timed("evaluate"):
                evaluation = self._evaluate(data, readiness)
            self.report["evaluated_at"] = now.isoformat()
        with self._timed("refit"):
            models = self._refit(data, evaluation, readiness, now=now.timestamp())
        with self._timed("precompute"), _collector_paused():
            lists = self._precompute(data, models, readiness)
        self.report.update(
            data=self._data_counts(data),
            readiness=readiness,
            evaluation=evaluation,
            lists={kind: len(entries) for kind, entries in lists.items()},
        )
        return lists, evaluation

    def _reusable_evaluation(self, data: TrainingData, diversity: dict) -> dict | None:
        """For a nightly retraining with few new orders (REUSE_NEW_ORDERS), the live version's
        evaluation to reuse (the report then says where it comes from); None when a full
        evaluation is due."""
        if self.run_row.trigger != TrainingRun.Trigger.NIGHTLY or self.holdout_from is not None:
            return None
        live = ModelVersion.objects.select_related("training_run").filter(status=ModelVersion.Status.LIVE).first()
        if live is None:
            return None
        source = live.training_run
        report = source.report if isinstance(source.report, dict) else {}
        evaluation, readiness = report.get("evaluation"), report.get("readiness") or {}
        known = {candidate.name for _, group in registry.KINDS for candidate in group}
        if not isinstance(evaluation, dict) or set(evaluation) != {kind for kind, _ in registry.KINDS}:
            return None
        if any(entry.get("champion") not in known for entry in evaluation.values()):
            return None  # a model this release no longer has
        try:
            evaluated_at = dt.datetime.fromisoformat(report.get("evaluated_at", ""))
        except (TypeError, ValueError):
            return None
        new_orders = data.orders.n_orders - source.orders_seen
        fresh = timezone.now() - evaluated_at <= dt.timedelta(days=REUSE_MAX_DAYS)
        ready = {kind: entry["ready"] for kind, entry in self._readiness(data).items()}
        if (
            not fresh
            or not source.orders_seen
            or not 0 <= new_orders <= REUSE_NEW_ORDERS * source.orders_seen
            or report.get("diversity") != diversity
            or ready != {kind: (readiness.get(kind) or {}).get("ready") for kind in ready}
        ):
            return None
        self.report.update(
            split=report.get("split"),
            evaluated_at=evaluated_at.isoformat(),
            evaluation_reused={"version": live.number, "new_orders": new_orders, "orders_seen": source.orders_seen},
        )
        return evaluation

    def _data_counts(self, data: TrainingData) -> dict:
        baskets = basket_matrix(data.orders, data.catalog.n_items)
        sizes = np.diff(baskets.indptr)
        return {
            "products": data.catalog.n_items,
            "sellable_products": int(data.catalog.sellable.sum()),
            "paid_orders": data.orders.n_orders,
            "order_lines": int(len(data.orders.line_item)),
            "multi_item_orders": int((sizes >= 2).sum()),
            "customers": data.orders.n_users,
            "products_with_sales": int((np.diff(baskets.tocsc().indptr) > 0).sum()),
        }

    def _readiness(self, data: TrainingData) -> dict:
        counts = self._data_counts(data)
        multi, customers = counts["multi_item_orders"], counts["customers"]
        return {
            ListKind.BOUGHT_TOGETHER: {
                "ready": multi >= MIN_MULTI_ITEM_ORDERS,
                "reason": (
                    f"{multi} orders with 2+ items"
                    if multi >= MIN_MULTI_ITEM_ORDERS
                    else f"only {multi} orders with 2+ items (needs {MIN_MULTI_ITEM_ORDERS}): showing popular products"
                ),
            },
            ListKind.RELATED: {
                "ready": counts["products"] >= 2,
                "reason": "product text and purchases" if counts["products"] >= 2 else "fewer than 2 products",
            },
            ListKind.PERSONAL: {
                "ready": customers >= MIN_CUSTOMERS_WITH_HISTORY,
                "reason": (
                    f"{customers} customers with orders"
                    if customers >= MIN_CUSTOMERS_WITH_HISTORY
                    else f"only {customers} known customers (needs {MIN_CUSTOMERS_WITH_HISTORY}): "
                    "showing popular products"
                ),
            },
        }

    def _split(self, orders: Orders) -> tuple[Orders, Orders, float]:
        cutoff = self.holdout_from.timestamp() if self.holdout_from else None
        return time_split(orders, test_fraction=HOLDOUT_FRACTION, cutoff=cutoff)

    def _evaluate(self, data: TrainingData, readiness: dict) -> dict:
        train, test, cutoff = self._split(data.orders)
        # History is judged as it was: every product could be bought then, whatever it is now.
        catalog = dataclasses.replace(data.catalog, sellable=np.ones(data.catalog.n_items, dtype=bool))
        latest = _Held(catalog, Window(train, test, cutoff, None))
        windows_before = earlier_windows(data.orders, cutoff=cutoff, count=EARLIER_WINDOWS)
        earlier = [_Held(catalog, window, max_anchors=EARLIER_WINDOW_ANCHORS) for window in windows_before]
        self.report["split"] = {
            "holdout_from": dt.datetime.fromtimestamp(cutoff, tz=dt.UTC).isoformat() if cutoff else None,
            "train_orders": train.n_orders,
            "test_orders": test.n_orders,
            "windows": [held.span() for held in (latest, *earlier)],
        }
        evaluation = {}
        for kind, candidates in registry.KINDS:
            k = 10 if kind == ListKind.PERSONAL else 5
            results, table = {}, {}
            for candidate in candidates:
                self.progress(f"evaluate {kind}: {candidate.name}")
                result, raw, fit_seconds = self._candidate_result(kind, candidate, latest, k=k)
                results[candidate.name] = result
                table[candidate.name] = _result_dict(result, fit_seconds=fit_seconds, baseline=candidate.baseline)
                if raw is not None:
                    table[candidate.name]["raw"] = {
                        key: round(getattr(raw, key), 5) for key in ("hit_rate", "ndcg", "coverage")
                    }
            latest.forget_models()
            cases = max((result.cases for result in results.values()), default=0)
            baselines = {candidate.name for candidate in candidates if candidate.baseline}
            metric = registry.METRICS[kind]
            reference = registry.REFERENCES.get(kind)
            intervals = _intervals(results, metric=metric, baselines=baselines, reference=reference)
            for name, against in intervals.items():
                table[name]["intervals"] = against
            windows, everywhere = None, (latest, *earlier)
            if cases >= MIN_EVALUATION_CASES:
                never = frozenset() if kind == ListKind.PERSONAL else frozenset(registry.POPULARITY_NAMES)
                champion, reason = champion_choose(results, metric=metric, baselines=baselines, never=never)
                item_list = kind != ListKind.PERSONAL
                if item_list:
                    champion, reason = _broadest_of_equals(champion, reason, results, metric=metric, never=never)
                windows, pooled, judged = self._rolling_origin(kind, champion, reference, results, latest, earlier, k=k)
                if pooled is not None:
                    intervals = {champion: {reference: pooled}}
                champion, reason = _beyond_the_noise(
                    champion,
                    reason,
                    intervals,
                    reference,
                    results=results if item_list else None,
                    over=f"{judged} windows" if judged > 1 else "",
                )
            else:
                champion = registry.DEFAULT_CHAMPIONS[kind]
                reason = (
                    f"only {cases} held-out cases (needs {MIN_EVALUATION_CASES}): too thin to judge, "
                    f"using the default {champion}"
                )
            if not readiness[kind]["ready"]:
                champion, reason = registry.FALLBACK_CHAMPIONS[kind], readiness[kind]["reason"]
            evaluation[kind] = {
                "metric": metric,
                "k": k,
                "candidates": table,
                "champion": champion,
                "reason": reason,
                "evaluated": cases >= MIN_EVALUATION_CASES,
                "windows": windows or [_window_entry(held.span(), held.cases(kind)) for held in everywhere],
            }
        return evaluation

    def _candidate_result(
        self, kind: str, candidate: registry.Candidate, held: _Held, *, k: int
    ) -> tuple[EvaluationResult, EvaluationResult | None, float]:
        """A candidate fitted on the window's training orders and scored on its held-out ones:
        (the lists as published, the model's own ranking when it differs, fit seconds)."""
        fitted = held.fitted if kind == ListKind.PERSONAL else held.for_items()
        fit_started = time.perf_counter()
        model = candidate.build(fitted).fit(held.catalog, held.window.train, now=held.window.start)
        fit_seconds = time.perf_counter() - fit_started
        if candidate.name in registry.REUSED:
            held.fitted[candidate.name] = model
        train, test = held.window.train, held.window.test
        if kind == ListKind.PERSONAL:
            return evaluate_user_model(model, held.catalog, train, test, k=k, cases=held.user_cases), None, fit_seconds
        # Judged on the lists as published; the model's own ranking reported beside.
        cases = held.item_cases
        own, served = self._served_lists(kind, model, cases.anchors, popular=held.fills, co=held.co, k=k)
        result = evaluate_item_model(served, held.catalog, train, test, k=k, cases=cases)
        raw = result if own.same_as(served) else evaluate_item_model(own, held.catalog, train, test, k=k, cases=cases)
        return result, raw, fit_seconds

    def _rolling_origin(
        self,
        kind: str,
        champion: str,
        reference: str | None,
        results: dict[str, EvaluationResult],
        latest: _Held,
        earlier: list[_Held],
        *,
        k: int,
    ) -> tuple[list[dict], list[float] | None, int]:
        """Rolling origin: the champion and the kind's plain reference refitted on the orders
        before each earlier window and scored on it. Per window its span, cases and figures
        (a window with fewer than MIN_EVALUATION_CASES cases is too thin to judge and left
        out), the champion's difference from the reference pooled over every judged window with
        the latest ([difference, low, high]; None when there is nothing to compare) and how many
        windows that pools."""
        metric = registry.METRICS[kind]
        compared = reference is not None and reference != champion and reference in results
        pairs = [(results[champion], results[reference])] if compared else []
        names = (champion, reference) if compared else None
        entries = [_window_entry(latest.span(), results[champion].cases, pairs[0] if pairs else None, metric, names)]
        # In the registry's order, so that a blend finds the plain model it reuses.
        finalists = [c for c in dict(registry.KINDS)[kind] if compared and c.name in (reference, champion)]
        for held in earlier:
            cases = held.cases(kind)
            pair = None
            if finalists and cases >= MIN_EVALUATION_CASES:
                self.progress(f"evaluate {kind}: the window from {held.span()['from'][:10]}")
                scored = {c.name: self._candidate_result(kind, c, held, k=k)[0] for c in finalists}
                held.forget_models()
                pair = (scored[champion], scored[reference])
                pairs.append(pair)
            entries.append(_window_entry(held.span(), cases, pair, metric, names))
        if not pairs:
            return entries, None, 0
        # Item cases are grouped by test order, numbered per window; personal cases by customer,
        # the same customer in every window.
        pooled = paired_interval_pooled(pairs, metric, same_groups=kind == ListKind.PERSONAL)
        return entries, [round(number, 5) for number in pooled], len(pairs)

    def _refit(self, data: TrainingData, evaluation: dict, readiness: dict, *, now: float) -> dict:
        catalog, orders = data.catalog, data.orders
        by_name = {candidate.name: candidate for _, group in registry.KINDS for candidate in group}
        # Evidence for explanations, whatever model was chosen; shared with the scorers.
        self.co = cooccurrence_build(orders, catalog.n_items)
        fitted: dict[str, object] = {registry.COOCCURRENCE: self.co}
        models = {}
        for kind, _ in registry.KINDS:
            name = evaluation[kind]["champion"]
            if name not in fitted:
                fitted[name] = by_name[name].build(fitted).fit(catalog, orders, now=now)
            models[kind] = fitted[name]
        models["popular"] = RecentPopularityModel(window_days=POPULAR_WINDOW_DAYS).fit(catalog, orders, now=now)
        models["trending"] = TrendingModel().fit(catalog, orders, now=now)
        customers = user_item_matrix(orders, catalog.n_items)
        customers.data[:] = 1.0
        self.history = customers.tocsr()
        self.co_customers = (customers.T @ customers).tocsr()
        self.co_customers.sort_indices()
        # Dense when small (4k products: 64 MB each): per-pair and per-customer lookups are then cheap.
        small = catalog.n_items <= DENSE_ITEM_LIMIT
        self.co_customers_dense = self.co_customers.toarray().astype(np.float32) if small else None
        if small:
            self.co_customers = None  # every lookup reads the dense copy
        self.co_counts_dense = self.co.counts.toarray().astype(np.float32) if small else None
        self.shared_terms_cache: dict[tuple[int, int], object] = {}
        self.content = ContentModel().fit(catalog, orders, now=now)
        recent = models["popular"]
        self.recent_counts = np.zeros(catalog.n_items)
        self.recent_counts[recent.ranking_] = recent.ranking_scores_
        return models

    # -- lists -----------------------------------------------------------------------------

    def _explain_item(self, anchor: int, item: int, source: str) -> explain.Explanation:
        catalog = self.data.catalog
        if source in ("bought_together", "") and anchor >= 0:
            co_count = (
                int(self.co_counts_dense[anchor, item])
                if self.co_counts_dense is not None
                else explain.pair_count(self.co.counts, anchor, item)
            )
            if co_count:
                n_anchor, n_item = self.co.item_orders[anchor], self.co.item_orders[item]
                return explain.bought_together(
                    co_count, confidence=co_count / n_anchor, lift=co_count * self.co.n_orders / (n_anchor * n_item)
                )
        if source == "co_customer" and anchor >= 0:
            shared = (
                int(self.co_customers_dense[anchor, item])
                if self.co_customers_dense is not None
                else explain.pair_count(self.co_customers, anchor, item)
            )
            if shared:
                return explain.same_customers(shared)
        if source == "category_popular":
            return explain.category_popular(catalog.categories[item], int(self.recent_counts[item]))
        if source in ("popular", "trending") or anchor < 0:
            return explain.popular(int(self.recent_counts[item]), POPULAR_WINDOW_DAYS)
        # Related lists are often mutual (a lists b, b lists a): the pair's terms are computed once.
        key = (anchor, item) if anchor < item else (item, anchor)
        shared_terms = self.shared_terms_cache.get(key)
        if shared_terms is None:
            shared_terms = self.shared_terms_cache[key] = self.content.shared_terms(anchor, item)
        if not shared_terms.is_empty:
            return explain.similar_content(shared_terms)
        if not self.recent_counts[item]:
            # A model's pick with no evidence to quote: say what kind of evidence it is.
            return explain.similar_taste()
        return explain.popular(int(self.recent_counts[item]), POPULAR_WINDOW_DAYS)

    def _entry(self, item: int, score: float, explanation: explain.Explanation) -> dict:
        return {
            "product_id": int(self.data.product_pks[item]),
            "score": round(float(score), 6) if np.isfinite(score) else None,
            "reason": explanation.reason,
            "explanation": explanation.sentence,
            "evidence": explanation.evidence,
        }

    def _diversified(self, indices: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One ranked row re-ranked by the shop's diversity setting (unchanged with "none")."""
        setting, catalog = self.diversity, self.data.catalog
        if setting["strategy"] == "cap":
            groups = catalog.categories if setting["group"] == "category" else catalog.vendors
            return cap_per_group(indices, scores, groups, setting["max_per_group"], len(indices))
        if setting["strategy"] == "mmr":
            categories = np.asarray(catalog.categories, dtype=object)
            vendors = np.asarray(catalog.vendors, dtype=object)

            def similarity(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
                same_category = (categories[rows] == categories[cols]) & (categories[rows] != "")
                same_vendor = (vendors[rows] == vendors[cols]) & (vendors[rows] != "")
                return np.maximum(same_category * 1.0, same_vendor * 0.5)

            return mmr_rerank(indices, scores, similarity, setting["lambda"], len(indices))
        return indices, scores

    def _diversified_entries(self, chosen: list[tuple[int, float, str]]) -> list[tuple[int, float, str]]:
        """The whole list (model items and fallbacks) re-ranked by the diversity setting."""
        if self.diversity["strategy"] == "none" or not chosen:
            return chosen
        items = np.array([item for item, _, _ in chosen], dtype=np.int64)
        # Rank-based relevance: fallbacks carry no comparable score, their position is what counts.
        order, _ = self._diversified(items, -np.arange(len(chosen), dtype=np.float64))
        position = {item: index for index, item in enumerate(items.tolist())}
        return [chosen[position[int(item)]] for item in order if item >= 0]

    def _ranked_with_sources(self, model, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A model's LIST_LENGTH best per anchor, with each entry's source ("" when it says none)."""
        if hasattr(model, "similar_with_sources"):
            return model.similar_with_sources(anchors, LIST_LENGTH)
        indices, scores = model.similar(anchors, LIST_LENGTH)
        sources = np.full(indices.shape, "popular" if model.name in registry.POPULARITY_NAMES else "", dtype=object)
        return indices, scores, sources

    def _served_row(
        self, kind: str, anchor: int, ranked: tuple, *, popular, co: CoOccurrence
    ) -> list[tuple[int, float, str]]:
        """(item, score, source) of one anchor's list as it is published, from the model's ranking
        (`ranked`: its items, scores and sources): the evaluation scores exactly this, and the
        precompute explains and stores it.

        Bought together lists only the companions bought with the anchor in at least
        BOUGHT_TOGETHER_MIN_ORDERS orders (`co`), whatever the model ranked: a product without
        such evidence gets no list, never best sellers under a "bought together" title. A related
        list is filled from the anchor's category's best sellers, then the shop's (`popular`).
        Then the shop's diversity setting re-ranks the whole list."""
        indices, scores, sources = ranked
        default_source = "bought_together" if kind == ListKind.BOUGHT_TOGETHER else "content"
        chosen = [
            (int(item), float(score), source or default_source)
            for item, score, source in zip(indices, scores, sources, strict=True)
            if item >= 0
        ]
        if kind == ListKind.BOUGHT_TOGETHER:
            evidenced = bt_evidenced(co, anchor, np.fromiter((item for item, _, _ in chosen), dtype=np.int64))
            companions = [(item, score) for (item, score, _), kept in zip(chosen, evidenced, strict=True) if kept]
            return self._diversified_entries([(item, score, "bought_together") for item, score in companions])
        catalog = self.data.catalog
        taken = {int(anchor), *(item for item, _, _ in chosen)}
        if len(chosen) < LIST_LENGTH and catalog.categories[anchor]:
            fill, _ = popular.category_popular(
                catalog.categories[anchor], LIST_LENGTH, exclude=np.fromiter(taken, dtype=np.int64)
            )
            for item in fill[fill >= 0][: LIST_LENGTH - len(chosen)]:
                chosen.append((int(item), 0.0, "category_popular"))
                taken.add(int(item))
        if len(chosen) < LIST_LENGTH:
            fill, _ = popular.similar(np.array([anchor]), LIST_LENGTH + len(taken))
            for item in fill[0]:
                if item >= 0 and int(item) not in taken and len(chosen) < LIST_LENGTH:
                    chosen.append((int(item), 0.0, "popular"))
                    taken.add(int(item))
        return self._diversified_entries(chosen)

    def _item_lists(self, kind: str, model, anchors: np.ndarray) -> dict[str, list[dict]]:
        indices, scores, sources = self._ranked_with_sources(model, anchors)
        popular = self.models["popular"]
        lists = {}
        for row, anchor in enumerate(anchors):
            chosen = self._served_row(
                kind, int(anchor), (indices[row], scores[row], sources[row]), popular=popular, co=self.co
            )
            lists[str(int(self.data.product_pks[anchor]))] = [
                self._entry(item, score, self._explain_item(int(anchor) if source != "popular" else -1, item, source))
                for item, score, source in chosen
            ]
        return lists

    def _served_lists(self, kind: str, model, anchors: np.ndarray, *, popular, co: CoOccurrence, k: int):
        """The model's own top k per anchor and the top k of the lists as published (`_served_row`)."""
        indices, scores, sources = self._ranked_with_sources(model, anchors)
        served = np.full((len(anchors), k), -1, dtype=np.int32)
        for row, anchor in enumerate(anchors):
            published = self._served_row(
                kind, int(anchor), (indices[row], scores[row], sources[row]), popular=popular, co=co
            )
            served[row, : min(k, len(published))] = [item for item, _, _ in published[:k]]
        return ListsOf(anchors, indices[:, :k]), ListsOf(anchors, served)

    def _bundle_lists(self, model, anchors: np.ndarray) -> dict[str, list[dict]]:
        """Per product, the complements of its best "add all to cart" bundle: three items bought
        together when such orders exist, else two; none without co-purchase evidence."""
        source = model if isinstance(model, PairScoreModel) and model.ranks_pairs else self.co
        sellable = self.data.catalog.sellable
        # Triples among the top 6 companions only: 15 pairs to check per product instead of 45.
        triples = bundles_build(source, anchors, size=3, n_bundles=1, n_candidates=6, sellable=sellable)
        pairs = bundles_build(source, anchors, size=2, n_bundles=1, n_candidates=6, sellable=sellable)
        titles = self.data.catalog.titles
        lists = {}
        for anchor, (three, two) in zip(anchors, zip(triples, pairs, strict=True), strict=True):
            best = (three or two or [None])[0]
            entries = []
            if best is not None:
                noun = "order" if best.together_count == 1 else "orders"
                sentence = f"Bought together with {titles[anchor]} in {best.together_count} {noun}"
                evidence = {"together_count": best.together_count, "bundle_size": len(best.items)}
                explanation = explain.Explanation(explain.Reason.BOUGHT_TOGETHER, sentence, evidence)
                entries = [self._entry(int(item), best.score, explanation) for item in best.items[1:]]
            lists[str(int(self.data.product_pks[anchor]))] = entries
        return lists

    def _because_you_bought(self, user: int, items: np.ndarray) -> np.ndarray:
        """Per recommended item, the customer's past purchase most often bought by the same
        customers (-1 when none shares a customer): the evidence behind "Because you bought X"."""
        history = self.history.indices[self.history.indptr[user] : self.history.indptr[user + 1]]
        if history.size == 0 or items.size == 0:
            return np.full(items.shape, -1)
        if self.co_customers_dense is not None:
            shared = self.co_customers_dense[np.ix_(history, items)]
        else:
            shared = self.co_customers[history][:, items].toarray()
        best = shared.argmax(axis=0)
        return np.where(shared[best, np.arange(items.size)] > 0, history[best], -1)

    def _personal_lists(self, model) -> dict[str, list[dict]]:
        users = np.arange(self.data.orders.n_users)
        if users.size == 0:
            return {}
        indices, scores = model.recommend(users, LIST_LENGTH)
        titles = self.data.catalog.titles
        lists = {}
        for user in users:
            row_indices, row_scores = self._diversified(indices[user], scores[user])
            filled = row_indices[row_indices >= 0]
            because = self._because_you_bought(int(user), filled)
            entries = []
            for item, score, source in zip(filled, row_scores, because, strict=False):
                explanation = (
                    explain.because_you_bought(titles[source])
                    if source >= 0
                    else explain.popular(int(self.recent_counts[item]), POPULAR_WINDOW_DAYS)
                )
                entries.append(self._entry(int(item), score, explanation))
            lists[self.data.customer_refs[user]] = entries
        return lists

    def _shop_lists(self) -> dict[str, dict[str, list[dict]]]:
        catalog = self.data.catalog
        popular, trending = self.models["popular"], self.models["trending"]
        result = {ListKind.POPULAR: {}, ListKind.TRENDING: {}, ListKind.CATEGORY_POPULAR: {}}
        for kind, model in ((ListKind.POPULAR, popular), (ListKind.TRENDING, trending)):
            indices, scores = model.recommend(np.array([-1]), LIST_LENGTH)
            result[kind][""] = [
                self._entry(int(item), score, explain.popular(int(self.recent_counts[item]), POPULAR_WINDOW_DAYS))
                for item, score in zip(indices[0], scores[0], strict=True)
                if item >= 0
            ]
        for category in sorted({c for c in catalog.categories if c}):
            indices, scores = popular.category_popular(category, LIST_LENGTH)
            result[ListKind.CATEGORY_POPULAR][category] = [
                self._entry(int(item), score, explain.category_popular(category, int(self.recent_counts[item])))
                for item, score in zip(indices, scores, strict=True)
                if item >= 0
            ]
        return result

    def _precompute(self, data: TrainingData, models: dict, readiness: dict) -> dict[str, dict[str, list[dict]]]:
        self.models = models
        catalog = data.catalog
        anchors = np.arange(catalog.n_items, dtype=np.int64)
        lists: dict[str, dict[str, list[dict]]] = {}
        for kind in (ListKind.BOUGHT_TOGETHER, ListKind.RELATED):
            self.progress(f"precompute {kind}")
            lists[kind] = self._item_lists(kind, models[kind], anchors)
        self.progress("precompute bundles")
        lists[ListKind.BUNDLE] = self._bundle_lists(models[ListKind.BOUGHT_TOGETHER], anchors)
        self.progress("precompute personal")
        lists[ListKind.PERSONAL] = self._personal_lists(models[ListKind.PERSONAL])
        lists.update(self._shop_lists())
        return self._with_rules(lists)

    def _with_rules(self, lists: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, list[dict]]]:
        """Bundles drop any bundle a rule blocks an item of. Every other list is stored as the
        model ranked it: the read path applies the merchant's current rules, so switching a rule
        off or deleting it takes effect at once instead of at the next training."""
        filters_only = [rule for rule in self.rules if rule.kind in ("exclude", "never_pair")]
        if not filters_only or ListKind.BUNDLE not in lists:
            return lists
        facts = self.data.facts(self.recent_counts)
        bundles = {}
        for anchor, items in lists[ListKind.BUNDLE].items():
            # A bundle is all or nothing: a blocked item drops it, and nothing is pinned into it.
            kept = rules_apply(
                items=items,
                list_kind=ListKind.BUNDLE,
                anchor=facts.get(int(anchor)),
                rules=filters_only,
                facts=facts,
                now=self.now_datetime,
                limit=LIST_LENGTH,
            )
            bundles[anchor] = kept if len(kept) == len(items) else []
        return {**lists, ListKind.BUNDLE: bundles}

    # -- publishing ------------------------------------------------------------------------

    def _decide(self, evaluation: dict, live: ModelVersion | None, orders_seen: int) -> tuple[bool, str]:
        if live is None:
            return True, "first version"
        reused = self.report.get("evaluation_reused")
        if reused is not None:
            return True, (
                f"replaces version {live.number}, refitted on {reused['new_orders']} new orders with the "
                f"champions of version {reused['version']}'s evaluation (a nightly retraining with under "
                f"{REUSE_NEW_ORDERS:.0%} new orders does not evaluate again)"
            )
        live_orders = live.training_run.orders_seen
        if live_orders and orders_seen < live_orders * (1 - MAX_ORDER_SHRINK):
            return False, (
                f"kept version {live.number}: the shop has {orders_seen} paid orders, far fewer than the "
                f"{live_orders} the live version learned from (lost data?)"
            )
        live_evaluation = (live.training_run.report or {}).get("evaluation") or {}
        for kind, entry in evaluation.items():
            if not entry["evaluated"]:
                if (live_evaluation.get(kind) or {}).get("evaluated"):
                    cases = entry["windows"][0]["cases"] if entry.get("windows") else 0
                    return False, (
                        f"kept version {live.number}: this training's held-out orders are too thin to judge its "
                        f"{kind} lists ({cases} cases, needs {MIN_EVALUATION_CASES}); the live version's were judged"
                    )
                continue
            live_champion = live.champions.get(kind)
            if kind != ListKind.PERSONAL and live_champion in registry.POPULARITY_NAMES:
                continue  # the same list for every product: nothing a product list must keep up with
            metric = entry["metric"]
            new_value = entry["candidates"][entry["champion"]][metric]
            live_value = entry["candidates"].get(live_champion, {}).get(metric)
            if live_value is not None and new_value < live_value * (1 - PROMOTION_TOLERANCE):
                return False, (
                    f"kept version {live.number}: its {kind} model {live_champion} scores {live_value:.4f} "
                    f"on the same held-out orders, the new {entry['champion']} only {new_value:.4f}"
                )
        return True, f"replaces version {live.number}"

    def _publish(self, lists: dict[str, dict[str, list[dict]]], evaluation: dict, *, orders_seen: int) -> TrainingRun:
        run = self.run_row
        with transaction.atomic():
            # The run row stays locked until the version is out: a reaper that judged this run dead
            # (a stalled worker) has either failed it already, and nothing is published, or waits.
            still_ours = TrainingRun.objects.select_for_update().filter(pk=run.pk, status=TrainingRun.Status.RUNNING)
            if not still_ours.exists():
                raise TrainingLost("the run was failed while it trained (its heartbeat was late): nothing published")
            live = ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.LIVE).first()
            last_number = ModelVersion.objects.order_by("-number").values_list("number", flat=True).first() or 0
            promote, decision = self._decide(evaluation, live, orders_seen)
            version = ModelVersion.objects.create(
                shop=self.shop,
                number=last_number + 1,
                status=ModelVersion.Status.REJECTED,
                training_run=run,
                champions={kind: entry["champion"] for kind, entry in evaluation.items()},
                quality={
                    kind: {
                        "metric": entry["metric"],
                        "k": entry["k"],
                        "value": entry["candidates"][entry["champion"]][entry["metric"]],
                    }
                    for kind, entry in evaluation.items()
                },
            )
            if promote:
                ModelVersion.objects.filter(status=ModelVersion.Status.PREVIOUS).update(
                    status=ModelVersion.Status.RETIRED
                )
                if live is not None:
                    live.status = ModelVersion.Status.PREVIOUS
                    live.save(update_fields=["status"])
                version.status = ModelVersion.Status.LIVE
                version.published_at = timezone.now()
                version.save(update_fields=["status", "published_at"])
                rows = [
                    (self.shop.pk, version.pk, kind, anchor, items)
                    for kind, by_anchor in lists.items()
                    for anchor, items in by_anchor.items()
                ]
                rows_insert(
                    model=RecommendationList, fields=("shop_id", "version_id", "kind", "anchor", "items"), rows=rows
                )
                # Only the live and the previous version keep their lists (rollback needs one).
                RecommendationList.objects.filter(version__status=ModelVersion.Status.RETIRED).delete()
                ServingPack.objects.filter(version__status=ModelVersion.Status.RETIRED).delete()
                # Every product list of the version in one blob, for the storefront's processes.
                _pack_write(self.shop, version, lists)
                domain = self.shop.domain
                transaction.on_commit(lambda: storefront_invalidate(domain=domain))
            elif live is not None and not ServingPack.objects.filter(version=live).exists():
                # A live version published before serving packs existed gets one from its lists.
                _pack_write(self.shop, live, _stored_product_lists(live))
            return training_run_finish(
                run=run,
                status=TrainingRun.Status.SUCCEEDED,
                promoted=promote,
                decision=decision,
                orders_seen=orders_seen,
            )


def training_evaluate(
    data: TrainingData, *, holdout_from: dt.datetime, diversity: dict | None = None
) -> tuple[dict, dict]:
    """(evaluation, split) of a training on `data` held out from `holdout_from`, exactly as
    `train` evaluates before it publishes (lists as published, paired intervals, the champion
    rule), without a shop or a database: for benchmarks on other time windows."""
    trainer = _Trainer(shop=None, run=None, holdout_from=holdout_from, progress=lambda step: None)
    trainer.data = data
    trainer.diversity = diversity or {"strategy": "none"}
    evaluation = trainer._evaluate(data, trainer._readiness(data))
    return evaluation, trainer.report["split"]


def _pack_write(shop: Shop, version: ModelVersion, lists: dict[str, dict[str, list[dict]]]) -> None:
    external = dict(Product.objects.values_list("pk", "external_id"))
    pack = pack_build(lists=lists, external=external, items_kept=LIST_ITEMS)
    ServingPack.objects.create(shop=shop, version=version, data=pack)


def _stored_product_lists(version: ModelVersion) -> dict[str, dict[str, list[dict]]]:
    """A version's stored lists of the kinds a serving pack holds, as training publishes them."""
    kinds = (*PACKED_KINDS, ListKind.POPULAR)
    lists: dict[str, dict[str, list[dict]]] = {kind: {} for kind in kinds}
    stored = RecommendationList.objects.filter(version=version, kind__in=kinds)
    for kind, anchor, items in stored.values_list("kind", "anchor", "items").iterator(2000):
        lists[kind][anchor] = items
    return lists


def training_data_changed_since(*, run: TrainingRun) -> bool:
    """Whether the shop in scope has orders or products written after that run started."""
    return (
        Order.objects.filter(synced_at__gt=run.started_at).exists()
        or Product.objects.filter(synced_at__gt=run.started_at).exists()
    )


def training_nightly_fan_out() -> int:
    """Queue a training for every installed shop whose orders or products changed since its last
    successful training (or that never trained but has orders). Returns how many were queued.

    Runs whose worker died are reaped first (which queues their shops again), so that a lost
    run never keeps a shop out of the retraining; a shop whose trainings keep killing their
    worker is left out until an operator looks."""
    training_runs_reap()
    queued = 0
    for shop in Shop.objects.filter(status=Shop.Status.INSTALLED).order_by("pk"):
        with shop_scope(shop):
            last = TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-started_at").first()
            if last is not None and not training_data_changed_since(run=last):
                continue
            if last is None and not Order.objects.exists():
                continue
            if TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists():
                continue
            if training_retries_exhausted():
                continue
            training_run_start(shop=shop, trigger=TrainingRun.Trigger.NIGHTLY)
            queued += 1
    return queued


# Orders added by one sync that make retraining worth it at once rather than at night.
LARGE_SYNC_ORDERS = 200


def training_after_sync(*, shop: Shop, new_orders: int, known_orders: int) -> TrainingRun | None:
    """Retrain now after a large sync (many new orders, or a big share of the shop's history)."""
    large = new_orders >= LARGE_SYNC_ORDERS or (known_orders and new_orders >= 0.2 * known_orders)
    if not large or training_retries_exhausted():
        return None
    return training_run_start(shop=shop, trigger=TrainingRun.Trigger.SYNC)
