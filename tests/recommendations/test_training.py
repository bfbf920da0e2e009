"""Training end to end on real tables: readiness, evaluation, publishing, rules, failure and guards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from recommendations.engine import candidates as registry
from recommendations.engine.bought_together import BOUGHT_TOGETHER_MIN_ORDERS
from recommendations.models import ModelVersion, RecommendationList, TrainingRun
from recommendations.services.rules import merchant_rule_create
from recommendations.services.training import (
    _lock_key,
    training_nightly_fan_out,
    training_run_create,
    training_run_execute,
)
from shops.demo.generator import demo_shop_generate
from shops.models import Order, Product
from shops.records import OrderLineRecord, OrderRecord, ProductRecord
from shops.services.catalog import product_bulk_upsert
from shops.services.demo import demo_shop_load
from shops.services.orders import order_bulk_import
from shops.tenancy import shop_scope

pytestmark = pytest.mark.django_db


def train(shop, **kwargs) -> TrainingRun:
    with shop_scope(shop):
        run = training_run_create(shop=shop, trigger=TrainingRun.Trigger.COMMAND)
        return training_run_execute(shop=shop, run=run, **kwargs)


@pytest.fixture
def demo_shop(shop):
    demo = demo_shop_generate(seed=11, product_count=80, order_count=1500)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    return shop, demo


def lists_of(shop, kind) -> dict[str, list[dict]]:
    with shop_scope(shop):
        version = ModelVersion.objects.get(status=ModelVersion.Status.LIVE)
        return dict(RecommendationList.objects.filter(version=version, kind=kind).values_list("anchor", "items"))


def test_demo_shop_trains_publishes_and_explains(demo_shop):
    shop, demo = demo_shop
    run = train(shop)

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.promoted and run.decision == "first version"
    with shop_scope(shop):
        products = dict(Product.objects.values_list("external_id", "pk"))
        sellable = set(Product.objects.filter(status="published", in_stock=True).values_list("pk", flat=True))
    bought_together = lists_of(shop, "bought_together")
    related = lists_of(shop, "related")
    personal = lists_of(shop, "personal")
    assert set(bought_together) == set(related) == {str(pk) for pk in products.values()}
    assert len(personal) == len({o.customer_id for o in demo.orders if o.customer_id and o.status == "paid"})
    for lists in (bought_together, related, personal):
        for anchor, items in lists.items():
            ids = [item["product_id"] for item in items]
            assert len(ids) == len(set(ids)) and str(anchor) not in map(str, ids)
            assert set(ids) <= sellable
            assert all(item["explanation"] and item["reason"] for item in items)

    # A planted complementary pair is found and explained with its evidence.
    first, second = next(
        (a, b) for a, b in demo.complementary_pairs if products[b] in sellable and products[a] in sellable
    )
    items = bought_together[str(products[first])]
    match = next(item for item in items if item["product_id"] == products[second])
    assert match["reason"] == "bought_together"
    assert match["explanation"] == f"Bought together in {match['evidence']['co_count']} orders"
    assert match["evidence"]["co_count"] >= 2

    # Bought together lists only what was bought with the product: every item with co-purchase
    # evidence, no best sellers to fill the list.
    co_counts = {}
    for o in demo.orders:
        if o.status != "paid":
            continue
        basket = {products[line.product_external_id] for line in o.lines}
        for a in basket:
            for b in basket - {a}:
                co_counts[a, b] = co_counts.get((a, b), 0) + 1
    for anchor, items in bought_together.items():
        assert all(co_counts.get((int(anchor), item["product_id"]), 0) >= BOUGHT_TOGETHER_MIN_ORDERS for item in items)
        assert all(item["reason"] == "bought_together" for item in items)

    report = run.report
    for kind in ("bought_together", "related", "personal"):
        table = report["evaluation"][kind]["candidates"]
        assert {"popular", "recent_popular"} <= set(table)
        # Item lists are judged as published, with the model's own ranking beside.
        assert all(("raw" in row) == (kind != "personal") for row in table.values())
        # Every model against the kind's plain reference, with a 95% interval.
        reference = registry.REFERENCES[kind]
        for name, row in table.items():
            if name != reference:
                difference, low, high = row["intervals"][reference]
                metric = report["evaluation"][kind]["metric"]
                assert low <= difference <= high
                assert difference == pytest.approx(row[metric] - table[reference][metric], abs=1e-4)
        assert table["popular"]["baseline"] is True
        assert report["evaluation"][kind]["champion"] in table
        assert 0 <= table[report["evaluation"][kind]["champion"]]["hit_rate"] <= 1
    assert report["data"]["paid_orders"] == sum(1 for o in demo.orders if o.status == "paid")
    assert set(report["timings"]) >= {"load", "evaluate", "refit", "precompute", "publish", "total"}


def test_personal_lists_leave_out_what_the_customer_bought(demo_shop):
    shop, demo = demo_shop
    train(shop)
    personal = lists_of(shop, "personal")
    with shop_scope(shop):
        products = dict(Product.objects.values_list("external_id", "pk"))
        for order in demo.orders[:200]:
            if order.customer_id is None or order.status != "paid":
                continue
            bought = {products[line.product_external_id] for line in order.lines}
            listed = {item["product_id"] for item in personal[shop.customer_ref(order.customer_id)]}
            assert not bought & listed


def load(shop, products: list[ProductRecord], orders: list[OrderRecord]) -> None:
    with shop_scope(shop):
        ids = product_bulk_upsert(shop=shop, records=products)
        order_bulk_import(shop=shop, records=orders, product_ids=ids)


def product(n: int, **fields) -> ProductRecord:
    return ProductRecord(external_id=f"P{n}", title=fields.pop("title", f"Product {n}"), price=Decimal("5"), **fields)


def order(n: int, *items: int, customer: str | None = None, days_ago: int = 10) -> OrderRecord:
    return OrderRecord(
        external_id=f"O{n}",
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC) - dt.timedelta(days=days_ago),
        customer_id=customer,
        lines=tuple(OrderLineRecord(product_external_id=f"P{i}", quantity=1, unit_price=Decimal("5")) for i in items),
    )


EDGE_CASES = {
    "no_orders_case": ([product(1), product(2), product(3)], []),
    "one_order_case": ([product(1), product(2)], [order(1, 1, 2, customer="c1")]),
    "one_product_case": ([product(1)], [order(1, 1, customer="c1"), order(2, 1)]),
    "single_item_baskets_case": (
        [product(n) for n in range(1, 6)],
        [order(n, n % 5 + 1, customer=f"c{n % 3}", days_ago=n) for n in range(1, 40)],
    ),
    "no_text_case": (
        [ProductRecord(external_id=f"P{n}", title="", price=Decimal("1")) for n in range(1, 5)],
        [order(1, 1, 2), order(2, 2, 3)],
    ),
    "duplicate_lines_case": ([product(1), product(2)], [order(1, 1, 1, 2, 2, customer="c1"), order(2, 2, 2, 1)]),
    # Every order on the same day: nothing before the hold-out to train on, no window to judge.
    "one_day_case": (
        [product(n) for n in range(1, 7)],
        [order(n, n % 6 + 1, (n + 1) % 6 + 1, customer=f"c{n % 9}", days_ago=1) for n in range(1, 80)],
    ),
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_tiny_or_odd_shops_train_and_publish_fallbacks_with_reasons(shop, case):
    products, orders = EDGE_CASES[case]
    load(shop, products, orders)

    run = train(shop)

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.promoted
    for kind in ("bought_together", "related", "personal"):
        assert run.report["evaluation"][kind]["reason"]
    if case in ("no_orders_case", "single_item_baskets_case", "one_product_case"):
        assert "orders with 2+ items" in run.report["evaluation"]["bought_together"]["reason"]
    if case == "one_day_case":
        for kind, entry in run.report["evaluation"].items():
            assert not entry["evaluated"]
            assert "too thin to judge" in entry["reason"] or not run.report["readiness"][kind]["ready"]
            assert [window["judged"] for window in entry["windows"]] == [False]
            assert "too thin to judge: 0 held-out cases" in entry["windows"][0]["note"]
    with shop_scope(shop):
        assert RecommendationList.objects.filter(kind="popular", anchor="").exists()
        assert RecommendationList.objects.filter(kind="related").count() == len(products)
        stored = RecommendationList.objects.filter(kind="bought_together")
        bought_together = dict(stored.values_list("anchor", "items"))
        external = dict(Product.objects.values_list("pk", "external_id"))
    # A "bought together" list holds exactly the products bought in an order with it (whatever
    # model was the fallback), and nothing for a product never bought with another.
    together: dict[tuple[str, str], int] = {}
    for record in orders:
        basket = {line.product_external_id for line in record.lines}
        for item in basket:
            for other in basket - {item}:
                together[item, other] = together.get((item, other), 0) + 1
    assert set(bought_together) == {str(pk) for pk in external}
    for anchor, items in bought_together.items():
        mine = {other: count for (item, other), count in together.items() if item == external[int(anchor)]}
        assert {external[item["product_id"]] for item in items} == set(mine)
        for item in items:
            count = mine[external[item["product_id"]]]
            assert item["explanation"] == f"Bought together in {count} order{'s' if count > 1 else ''}"


def test_a_failing_training_keeps_the_live_version_and_records_the_error(demo_shop, monkeypatch):
    shop, _ = demo_shop
    first = train(shop)
    assert first.status == TrainingRun.Status.SUCCEEDED

    def explode(fitted):
        raise RuntimeError("the model diverged")

    broken = registry.Candidate("ease", explode)
    kinds = [(kind, (*group[:2], broken) if kind == "personal" else group) for kind, group in registry.KINDS]
    monkeypatch.setattr(registry, "KINDS", tuple(kinds))
    second = train(shop)

    assert second.status == TrainingRun.Status.FAILED
    assert "RuntimeError: the model diverged" in second.error
    with shop_scope(shop):
        live = ModelVersion.objects.get(status=ModelVersion.Status.LIVE)
        assert live.training_run_id == first.pk
        assert ModelVersion.objects.count() == 1
    assert cache.get(_lock_key(shop.pk)) is None


def test_one_training_per_shop_at_a_time_and_a_run_executes_once(demo_shop):
    shop, _ = demo_shop
    with shop_scope(shop):
        run = training_run_create(shop=shop, trigger=TrainingRun.Trigger.COMMAND)
        cache.add(_lock_key(shop.pk), "someone-else", timeout=60)
        try:
            skipped = training_run_execute(shop=shop, run=run)
        finally:
            cache.delete(_lock_key(shop.pk))
        assert skipped.status == TrainingRun.Status.SKIPPED
        assert "Another training" in skipped.error
        # Executing the same (finished) run again changes nothing.
        again = training_run_execute(shop=shop, run=run)
        assert again.status == TrainingRun.Status.SKIPPED
        assert not ModelVersion.objects.exists()


def test_lost_data_keeps_the_live_version(demo_shop):
    shop, _ = demo_shop
    first = train(shop)
    with shop_scope(shop):
        keep = list(Order.objects.order_by("created_at").values_list("pk", flat=True)[:300])
        Order.objects.exclude(pk__in=keep).delete()
    second = train(shop)

    assert second.status == TrainingRun.Status.SUCCEEDED
    assert not second.promoted
    assert "far fewer than" in second.decision
    with shop_scope(shop):
        assert ModelVersion.objects.get(status=ModelVersion.Status.LIVE).training_run_id == first.pk
        assert not RecommendationList.objects.filter(version__training_run=second).exists()


def test_only_live_and_previous_versions_keep_their_lists(demo_shop):
    shop, _ = demo_shop
    runs = [train(shop) for _ in range(3)]
    assert all(run.promoted for run in runs)
    with shop_scope(shop):
        statuses = dict(ModelVersion.objects.values_list("training_run_id", "status"))
        assert statuses == {runs[0].pk: "retired", runs[1].pk: "previous", runs[2].pk: "live"}
        assert not RecommendationList.objects.filter(version__training_run=runs[0]).exists()
        assert RecommendationList.objects.filter(version__training_run=runs[1]).exists()


def test_merchant_rules_apply_when_read_so_switching_one_off_is_immediate(demo_shop):
    from recommendations.selectors import merchant_rules_active, model_version_live, product_facts_all
    from recommendations.services.rules import merchant_rule_update
    from recommendations.services.serving import recommendations_for_product

    shop, _ = demo_shop
    with shop_scope(shop):
        banned, pinned = Product.objects.filter(status="published", in_stock=True).order_by("pk")[:2]
        exclude = merchant_rule_create(shop=shop, kind="exclude", params={"product_ids": [banned.pk]})
        merchant_rule_create(shop=shop, kind="pin", params={"product_ids": [pinned.pk]}, list_kinds=["related"])
    train(shop)
    stored = lists_of(shop, "related")
    # Stored lists are the model's own: no pins baked in, so a rule switched off leaves no trace.
    assert all(item["explanation"] != "Pinned by the shop" for items in stored.values() for item in items)
    anchor = next(
        a for a, items in stored.items() if banned.pk in {i["product_id"] for i in items} and a != str(pinned.pk)
    )

    def served() -> list[int]:
        with shop_scope(shop):
            items = recommendations_for_product(
                version=model_version_live(),
                product_pk=int(anchor),
                kind="related",
                limit=24,
                facts=product_facts_all(),
                rules=merchant_rules_active(),
            )
        return [item["product_id"] for item in items]

    assert served()[0] == pinned.pk and banned.pk not in served()
    with shop_scope(shop):
        merchant_rule_update(shop=shop, rule_id=exclude.pk, enabled=False)
    assert banned.pk in served()
    for items in lists_of(shop, "bundle").values():
        assert banned.pk not in {item["product_id"] for item in items}  # bundles are filtered when published


def test_nightly_fan_out_queues_only_shops_whose_data_changed(demo_shop, other_shop):
    shop, _ = demo_shop
    train(shop)
    assert training_nightly_fan_out() == 0  # trained, nothing changed; other_shop has no orders

    load(other_shop, [product(1), product(2)], [order(1, 1, 2, customer="c")])
    assert training_nightly_fan_out() == 1
    with shop_scope(other_shop):
        assert TrainingRun.objects.get().trigger == TrainingRun.Trigger.NIGHTLY


@pytest.mark.parametrize("diversity", [None, {"strategy": "cap", "group": "category", "max_per_group": 1}])
def test_the_evaluation_scores_the_lists_exactly_as_they_are_published(demo_shop, diversity):
    """For the same fitted model, the evaluation's top k of an anchor is the published list's
    first k: fills, the bought-together evidence rule and the diversity setting included."""
    import numpy as np
    from django.utils import timezone

    from recommendations.selectors import merchant_rules_active
    from recommendations.services.training import _Trainer
    from recommendations.services.training_data import training_data_load

    shop, _ = demo_shop
    with shop_scope(shop):
        run = training_run_create(shop=shop, trigger=TrainingRun.Trigger.COMMAND)
        data = training_data_load()
        trainer = _Trainer(shop=shop, run=run, holdout_from=None, progress=lambda step: None)
        rules = merchant_rules_active()
        lists, evaluation = trainer.compute(data, rules=rules, now=timezone.now(), diversity=diversity)
    anchors = np.arange(data.catalog.n_items, dtype=np.int64)
    for kind in ("bought_together", "related"):
        _, served = trainer._served_lists(
            kind, trainer.models[kind], anchors, popular=trainer.models["popular"], co=trainer.co, k=5
        )
        evaluated, _ = served.similar(anchors, 5)
        for anchor, row in zip(anchors, evaluated, strict=True):
            published = [item["product_id"] for item in lists[kind][str(int(data.product_pks[anchor]))][:5]]
            assert [int(data.product_pks[item]) for item in row if item >= 0] == published, (kind, anchor)
        assert evaluation[kind]["champion"] in evaluation[kind]["candidates"]


def _result(values, *, groups=None, coverage=0.5):
    import numpy as np

    from recommendations.engine.evaluate import EvaluationResult

    hits = np.asarray(values, dtype=float)
    return EvaluationResult(
        k=5, cases=hits.size, hit_rate=float(hits.mean()), ndcg=0.0, precision=0.0, recall=0.0, coverage=coverage,
        popularity_bias=1.0, case_hits=hits, case_ndcg=hits,
        case_groups=np.arange(hits.size) if groups is None else np.asarray(groups),
    )  # fmt: skip


def test_an_elaborate_model_is_chosen_over_the_plain_one_only_beyond_the_noise():
    import numpy as np

    from recommendations.services.training import _beyond_the_noise, _intervals

    rng = np.random.default_rng(5)
    plain = rng.random(4000) < 0.6
    clearly = plain | (rng.random(4000) < 0.1)  # hits all the plain one does, and more
    barely = plain.copy()
    barely[:6] = True  # a handful of cases more: within the noise
    results = {
        "popular": _result(rng.random(4000) < 0.4),
        "bt_confidence": _result(plain),
        "clear_winner": _result(clearly),
        "coin_flip": _result(barely),
    }
    intervals = _intervals(results, metric="hit_rate", baselines={"popular"}, reference="bt_confidence")
    assert set(intervals["clear_winner"]) == {"bt_confidence", "popular"}
    assert "popular" in intervals["bt_confidence"] and "bt_confidence" not in intervals["bt_confidence"]

    chosen, reason = _beyond_the_noise("clear_winner", "highest hit_rate", intervals, "bt_confidence")
    assert chosen == "clear_winner" and "95% interval" in reason and "over bt_confidence" in reason
    chosen, reason = _beyond_the_noise("coin_flip", "highest hit_rate", intervals, "bt_confidence")
    assert chosen == "bt_confidence" and "within the noise" in reason and "coin_flip" in reason
    # The reference itself, or a kind without one, stays as chosen.
    assert _beyond_the_noise("bt_confidence", "r", intervals, "bt_confidence") == ("bt_confidence", "r")
    assert _beyond_the_noise("coin_flip", "r", intervals, None) == ("coin_flip", "r")


def test_a_draw_on_hit_rate_goes_to_the_list_that_shows_more_of_the_catalogue():
    import numpy as np

    from recommendations.services.training import BREADTH_RATIO, _beyond_the_noise, _broadest_of_equals, _intervals

    rng = np.random.default_rng(7)
    plain = rng.random(4000) < 0.6
    barely_less = plain.copy()
    barely_less[np.flatnonzero(plain)[:30]] = False  # thirty cases lost, twenty-five won: a draw
    barely_less[np.flatnonzero(~plain)[:25]] = True
    clearly_less = plain & (rng.random(4000) < 0.9)
    results = {
        "popular": _result(rng.random(4000) < 0.4, coverage=0.01),
        "bt_confidence": _result(plain, coverage=0.5),
        "broad": _result(barely_less, coverage=0.9),
        "broad_but_worse": _result(clearly_less, coverage=0.95),
        "narrow": _result(barely_less, coverage=0.55),
    }
    never = frozenset({"popular"})
    # The best on hit rate is the reference; the broad list is within its noise, the broader
    # one is not, and a popularity list is never considered.
    chosen, reason = _broadest_of_equals("bt_confidence", "highest", results, metric="hit_rate", never=never)
    assert chosen == "broad" and "a draw with the best" in reason and "90% of the catalogue against 50%" in reason
    results["popular"] = _result(plain, coverage=0.99)
    assert _broadest_of_equals("bt_confidence", "r", results, metric="hit_rate", never=never)[0] == "broad"

    intervals = _intervals(results, metric="hit_rate", baselines={"popular"}, reference="bt_confidence")
    chosen, reason = _beyond_the_noise("broad", "r", intervals, "bt_confidence", results=results)
    assert chosen == "broad" and "a draw with bt_confidence, showing 90% of the catalogue against 50%" in reason
    # Not broad enough to settle a draw, beaten beyond the noise, or for personal lists (no results):
    assert 0.55 < BREADTH_RATIO * 0.5
    assert _beyond_the_noise("narrow", "r", intervals, "bt_confidence", results=results)[0] == "bt_confidence"
    assert _beyond_the_noise("broad_but_worse", "r", intervals, "bt_confidence", results=results)[0] == "bt_confidence"
    assert _beyond_the_noise("broad", "r", intervals, "bt_confidence")[0] == "bt_confidence"


def test_an_evaluation_on_another_window_needs_no_shop_and_matches_train(demo_shop):
    """`training_evaluate` (what the rolling-window benchmark runs) gives what `train` reports for
    the same data and hold-out."""
    from recommendations.services.training import training_evaluate
    from recommendations.services.training_data import training_data_load

    shop, demo = demo_shop
    holdout = max(o.created_at for o in demo.orders) - dt.timedelta(days=20)
    run = train(shop, holdout_from=holdout)
    with shop_scope(shop):
        data = training_data_load()
    evaluation, split = training_evaluate(data, holdout_from=holdout)

    assert split == run.report["split"]
    for kind, entry in evaluation.items():
        reported = run.report["evaluation"][kind]
        assert (entry["champion"], entry["reason"]) == (reported["champion"], reported["reason"])
        for name, row in entry["candidates"].items():
            assert row[entry["metric"]] == reported["candidates"][name][entry["metric"]]


def test_a_challenger_is_judged_on_earlier_windows_too(demo_shop):
    """Rolling origin: besides the latest hold-out, the chosen model and the plain reference are
    refitted before each earlier window of as many orders and scored on it; the choice rests on
    their difference pooled over every window with enough cases, and the report shows each."""
    from recommendations.engine.candidates import REFERENCES

    shop, demo = demo_shop
    run = train(shop)

    split = run.report["split"]
    spans = split["windows"]
    assert len(spans) == 3 and spans[0]["from"] == split["holdout_from"] and spans[0]["to"] is None
    for later, earlier in zip(spans, spans[1:], strict=False):
        assert earlier["to"] == later["from"]  # back to back, latest first
        assert earlier["test_orders"] == spans[0]["test_orders"] == split["test_orders"]
        assert earlier["train_orders"] == later["train_orders"] - earlier["test_orders"]
    for kind, entry in run.report["evaluation"].items():
        windows = entry["windows"]
        assert [{key: w[key] for key in spans[0]} for w in windows] == spans
        compared = [w for w in windows if "values" in w]
        assert all(w["judged"] for w in compared)
        if compared:
            challenger, reference = compared[0]["compared"]
            assert reference == REFERENCES[kind] and entry["champion"] in (challenger, reference)
            # The latest window's figures are the candidates' own rows.
            rows = entry["candidates"]
            assert compared[0]["values"] == [rows[name][entry["metric"]] for name in (challenger, reference)]
            if len(compared) > 1:
                assert f"95% interval, {len(compared)} windows" in entry["reason"]


def test_a_hold_out_too_thin_to_judge_keeps_the_live_version(demo_shop):
    shop, demo = demo_shop
    first = train(shop)
    assert all(entry["evaluated"] for entry in first.report["evaluation"].values())
    # A hold-out after the last order: nothing to judge a new version on.
    second = train(shop, holdout_from=max(o.created_at for o in demo.orders) + dt.timedelta(days=1))

    assert second.status == TrainingRun.Status.SUCCEEDED and not second.promoted
    assert "too thin to judge" in second.decision and "the live version's were judged" in second.decision
    for entry in second.report["evaluation"].values():
        assert not entry["evaluated"] and "too thin to judge" in entry["reason"]
        assert entry["windows"][0]["cases"] == 0 and "too thin to judge" in entry["windows"][0]["note"]
    with shop_scope(shop):
        assert ModelVersion.objects.get(status=ModelVersion.Status.LIVE).training_run_id == first.pk


def nightly(shop) -> TrainingRun:
    with shop_scope(shop):
        run = training_run_create(shop=shop, trigger=TrainingRun.Trigger.NIGHTLY)
        return training_run_execute(shop=shop, run=run)


def add_orders(shop, demo, count: int, first: str, second: str) -> None:
    """`count` new orders, after every other, each of the products `first` and `second`."""
    latest = max(o.created_at for o in demo.orders)
    records = [
        OrderRecord(
            external_id=f"NEW-{first}-{n}",
            created_at=latest + dt.timedelta(hours=n + 1),
            customer_id=None,
            lines=tuple(
                OrderLineRecord(product_external_id=pid, quantity=1, unit_price=Decimal("5")) for pid in (first, second)
            ),
        )
        for n in range(count)
    ]
    with shop_scope(shop):
        ids = dict(Product.objects.values_list("external_id", "pk"))
        order_bulk_import(shop=shop, records=records, product_ids=ids)


def never_bought_together(demo) -> tuple[str, str]:
    """The product bought with the fewest others, and one never bought with it."""
    companions: dict[str, set[str]] = {p.external_id: set() for p in demo.products}
    for o in demo.orders:
        for a, b in _pairs(o):
            companions[a].add(b)
            companions[b].add(a)
    rare = min(companions, key=lambda pid: (len(companions[pid]), pid))
    return rare, next(pid for pid in sorted(companions) if pid != rare and pid not in companions[rare])


def _pairs(order) -> list[tuple[str, str]]:
    items = sorted({line.product_external_id for line in order.lines})
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1 :]]


def test_a_nightly_retraining_with_few_new_orders_refits_without_evaluating_again(demo_shop):
    shop, demo = demo_shop
    first = train(shop)
    a, b = never_bought_together(demo)
    add_orders(shop, demo, 3, a, b)  # 3 of 1,500 orders: far under REUSE_NEW_ORDERS

    second = nightly(shop)

    assert second.status == TrainingRun.Status.SUCCEEDED and second.promoted
    assert "does not evaluate again" in second.decision
    assert second.report["evaluation_reused"] == {"version": 1, "new_orders": 3, "orders_seen": first.orders_seen}
    assert second.report["evaluation"] == first.report["evaluation"]
    assert second.report["evaluated_at"] == first.report["evaluated_at"]
    assert "evaluate" not in second.report["timings"] and "refit" in second.report["timings"]
    # Refitted on every order: the new pair is now bought together, with its evidence.
    with shop_scope(shop):
        pk = dict(Product.objects.values_list("external_id", "pk"))
    shown = {item["product_id"]: item["explanation"] for item in lists_of(shop, "bought_together")[str(pk[a])]}
    assert shown[pk[b]] == "Bought together in 3 orders"


@pytest.mark.parametrize("change", ["many_new_orders", "diversity", "command", "stale"])
def test_a_retraining_evaluates_again_when_reuse_would_not_hold(demo_shop, change):
    from recommendations.services.settings import DIVERSITY_KEY
    from recommendations.services.training import REUSE_MAX_DAYS, REUSE_NEW_ORDERS

    shop, demo = demo_shop
    first = train(shop)
    a, b = never_bought_together(demo)
    add_orders(shop, demo, int(REUSE_NEW_ORDERS * first.orders_seen) + 1 if change == "many_new_orders" else 2, a, b)
    if change == "diversity":
        shop.settings = {**shop.settings, DIVERSITY_KEY: {"strategy": "cap", "group": "category", "max_per_group": 2}}
        shop.save(update_fields=["settings"])
    if change == "stale":
        old = dt.datetime.fromisoformat(first.report["evaluated_at"]) - dt.timedelta(days=REUSE_MAX_DAYS + 1)
        first.report = {**first.report, "evaluated_at": old.isoformat()}
        first.save(update_fields=["report"])

    second = train(shop) if change == "command" else nightly(shop)

    assert second.status == TrainingRun.Status.SUCCEEDED, second.error
    assert "evaluation_reused" not in second.report and "evaluate" in second.report["timings"]
    assert second.report["evaluated_at"] != first.report["evaluated_at"]
