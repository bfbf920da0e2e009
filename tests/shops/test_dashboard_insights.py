"""Insights: the SVG chart builder, the model-quality selector, the page (period, charts, quality
table, rollups only) and that one shop's session never sees another's figures or runs."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ElementTree
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shops.dashboard.access import dashboard_link_create
from shops.dashboard.charts import Series, line_chart_svg, nice_step, tick_label, value_scale
from shops.dashboard.selectors import training_run_quality_list
from shops.tenancy import shop_scope
from tests.factories import make_event_rollup, make_order_rollup, make_shop, make_training_run

SVG = "{http://www.w3.org/2000/svg}"


def sign_in(client, shop) -> None:
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def points(polyline: ElementTree.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in polyline.get("points").split()]


# -- the chart builder ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,step", [(0.3, 0.5), (1, 1), (1.2, 2), (2.2, 2.5), (7, 10), (9.25, 10), (1234, 2000), (0, 1.0)]
)
def test_nice_step_rounds_up_to_a_round_number(raw, step):
    assert nice_step(raw) == pytest.approx(step)


def test_the_value_scale_starts_at_zero_and_ends_on_a_round_number():
    scale = value_scale([3, 37, 12])
    assert (scale.low, scale.high, scale.step) == (0, 40, 10)
    assert scale.ticks == [0, 10, 20, 30, 40]
    assert value_scale([0, 1], whole_numbers=True).ticks == [0, 1]  # no "0.25 clicks"
    assert value_scale([]).high == 1  # nothing to show still draws an axis
    assert value_scale([-5, 10]).low < 0
    assert [tick_label(value) for value in (0, 2.5, 1250, 0.25)] == ["0", "2.5", "1,250", "0.25"]


def test_a_chart_is_an_accessible_image_with_its_own_title_and_summary():
    svg = line_chart_svg(
        chart_id="chart-x",
        title='Clicks <script>alert("x")</script> & adds',
        summary="12 clicks over 3 days.",
        labels=["1 May", "2 May", "3 May"],
        series=[Series("Clicks", [2, 4, 6]), Series("Adds", [1, 0, 1])],
        whole_numbers=True,
    )
    root = parse(svg)  # well-formed XML: everything was escaped

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-x-title chart-x-desc"
    assert root.find(f"{SVG}title").get("id") == "chart-x-title"
    assert root.find(f"{SVG}title").text == 'Clicks <script>alert("x")</script> & adds'
    assert root.find(f"{SVG}desc").text == "12 clicks over 3 days."
    assert "<script" not in svg
    assert len(root.findall(f"{SVG}polyline")) == 2
    legend = [text.text for text in root.findall(f"{SVG}text")]
    assert "Clicks" in legend and "Adds" in legend and "1 May" in legend and "3 May" in legend


def test_values_map_onto_the_plot_from_the_bottom_up():
    root = parse(
        line_chart_svg(
            chart_id="c", title="t", summary="s", labels=["a", "b", "c"], series=[Series("n", [0, 5, 10])], height=220
        )
    )
    (line,) = root.findall(f"{SVG}polyline")
    (x0, y0), (x1, y1), (x2, y2) = points(line)
    assert x0 < x1 < x2 and x1 == pytest.approx((x0 + x2) / 2)
    assert y0 == pytest.approx(220 - 26)  # zero sits on the bottom of the plot
    assert y2 == pytest.approx(30)  # 10 is the top of a 0-10 scale
    assert y1 == pytest.approx((y0 + y2) / 2)
    tips = [circle.find(f"{SVG}title").text for circle in root.findall(f"{SVG}circle")]
    assert tips == ["a: n 0", "b: n 5", "c: n 10"]


def test_missing_values_leave_gaps_not_zeros():
    labels = [str(day) for day in range(40)]  # beyond the dotted limit: only lines, and lone points
    values = [1.0] * 10 + [None] * 5 + [2.0] * 10 + [None] + [3.0] + [None] + [4.0] * 12
    root = parse(line_chart_svg(chart_id="g", title="t", summary="s", labels=labels, series=[Series("v", values)]))

    lines = root.findall(f"{SVG}polyline")
    assert [len(points(line)) for line in lines] == [10, 10, 12]
    (lone,) = root.findall(f"{SVG}circle")  # the single day between two gaps still shows
    assert lone.find(f"{SVG}title").text == "26: v 3"


def test_a_series_must_match_the_labels():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart_svg(chart_id="c", title="t", summary="s", labels=["a", "b", "c"], series=[Series("n", [1, 2])])


# -- the model-quality selector ------------------------------------------------------------------


def candidate(value: float, *, baseline: bool, metric: str = "hit_rate", cases: int = 120) -> dict:
    return {metric: value, "cases": cases, "coverage": 0.5, "baseline": baseline}


REPORT = {
    "evaluation": {
        "personal": {
            "metric": "ndcg",
            "k": 10,
            "champion": "popular",
            "reason": "no model beat the popular baseline on ndcg",
            "evaluated": True,
            "candidates": {
                "popular": candidate(0.2, baseline=True, metric="ndcg"),
                "ease": candidate(0.15, baseline=False, metric="ndcg"),
            },
        },
        "bought_together": {
            "metric": "hit_rate",
            "k": 5,
            "champion": "bt_blend",
            "reason": "highest hit_rate",
            "evaluated": True,
            "candidates": {
                "popular": candidate(0.61, baseline=True),
                "recent_popular": candidate(0.72, baseline=True),
                "bt_blend": candidate(0.79, baseline=False),
            },
        },
        "related": {
            "metric": "hit_rate",
            "k": 5,
            "champion": "content",
            "reason": "only 4 held-out cases (needs 30): using the default content",
            "evaluated": False,
            "candidates": {
                "popular": candidate(0.5, baseline=True, cases=4),
                "content": candidate(0.25, baseline=False),
            },
        },
    }
}


@pytest.mark.django_db
def test_each_list_kind_compares_its_champion_with_the_best_baseline(shop):
    with shop_scope(shop):
        make_training_run(shop, report=REPORT, decision="first version")
        (entry,) = training_run_quality_list()

    by_kind = {item.kind: item for item in entry.lists}
    assert [item.kind for item in entry.lists] == ["bought_together", "related", "personal"]
    bought = by_kind["bought_together"]
    assert (bought.champion, bought.champion_value) == ("bt_blend", 0.79)
    assert (bought.baseline, bought.baseline_value) == ("recent_popular", 0.72)  # the better of the two
    assert bought.margin == pytest.approx(0.07) and bought.metric_label == "hit rate@5"
    assert bought.label == "Frequently bought together"
    personal = by_kind["personal"]
    assert personal.champion_is_baseline and personal.margin == 0 and personal.metric_label == "NDCG@10"
    related = by_kind["related"]
    assert not related.evaluated and related.cases == 120 and "only 4 held-out cases" in related.reason


@pytest.mark.django_db
def test_a_sampled_evaluation_says_so_in_the_quality_table(client, shop):
    from recommendations.engine.evaluate import MAX_EVALUATION_ANCHORS

    sampled = {
        **REPORT["evaluation"]["bought_together"],
        "candidates": {
            name: {**value, "population": 41_234}
            for name, value in REPORT["evaluation"]["bought_together"]["candidates"].items()
        },
    }
    report = {"evaluation": {**REPORT["evaluation"], "bought_together": sampled}}
    with shop_scope(shop):
        make_training_run(shop, report=report, decision="first version")
        (entry,) = training_run_quality_list()
    by_kind = {item.kind: item for item in entry.lists}
    assert (by_kind["bought_together"].sampled_from, by_kind["bought_together"].sample_size) == (
        41_234,
        MAX_EVALUATION_ANCHORS,
    )
    # A shop small enough to be scored whole says nothing about samples.
    assert by_kind["personal"].sampled_from == 0

    sign_in(client, shop)
    page = client.get("/dashboard/insights").content.decode()
    assert f"a sample: {MAX_EVALUATION_ANCHORS} of 41234 products" in page
    assert "customers</small>" not in page


@pytest.mark.django_db
def test_runs_come_newest_first_and_runs_without_a_report_have_no_lists(shop):
    with shop_scope(shop):
        make_training_run(shop, report=REPORT)
        failed = make_training_run(shop, status="failed", error="MemoryError", report={})
        odd = make_training_run(shop, report={"evaluation": {"related": "not a dict", "personal": {"metric": 3}}})
        runs = training_run_quality_list()
        assert [entry.run.pk for entry in training_run_quality_list(limit=2)] == [odd.pk, failed.pk]

    assert [entry.run.pk for entry in runs][:2] == [odd.pk, failed.pk]
    assert runs[0].lists == [] and runs[1].lists == [] and len(runs[2].lists) == 3


@pytest.fixture
def trained_shop(db):
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load

    shop = make_shop(domain="insights.example")
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo_shop_generate(seed=6, product_count=40, order_count=600))
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop


def test_a_real_training_report_reads_as_champion_against_the_best_baseline(trained_shop):
    from recommendations.models import TrainingRun

    with shop_scope(trained_shop):
        run = TrainingRun.objects.get()
        (entry,) = training_run_quality_list()

    evaluation = run.report["evaluation"]
    assert {item.kind for item in entry.lists} == set(evaluation)
    for item in entry.lists:
        candidates = evaluation[item.kind]["candidates"]
        assert item.champion == evaluation[item.kind]["champion"]
        assert item.champion_value == candidates[item.champion][item.metric]
        baseline_scores = [value[item.metric] for value in candidates.values() if value["baseline"]]
        assert item.baseline_value == max(baseline_scores)
        assert item.cases > 0
        if not item.champion_is_baseline:
            difference, low, high = candidates[item.champion]["intervals"][item.baseline]
            assert item.margin_interval == (low, high) and low <= difference <= high
            assert difference == pytest.approx(item.margin, abs=1e-4)


# -- the page -------------------------------------------------------------------------------------


def yesterday() -> dt.date:
    return timezone.now().date() - dt.timedelta(days=1)


def test_the_page_draws_the_charts_and_the_quality_table(client, trained_shop):
    with shop_scope(trained_shop):
        make_event_rollup(trained_shop, day=yesterday(), kind="impression", count=400)
        make_order_rollup(
            trained_shop,
            day=yesterday(),
            orders=4,
            revenue=Decimal("200.00"),
            widget_orders=1,
            widget_orders_revenue=Decimal("80.00"),
            attributed_revenue=Decimal("20.00"),
        )
    sign_in(client, trained_shop)

    response = client.get("/dashboard/insights")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('role="img"') == 4
    for chart in ("impressions", "engagement", "revenue", "order-value"):
        assert f'<title id="chart-{chart}-title">' in html and f'id="chart-{chart}-desc"' in html
    assert "impressions of Basketry blocks over the last 30 days" in html
    assert "orders with an item added from a block averaged 80.00 EUR, orders without one 40.00 EUR" in html
    assert "200.00 EUR from paid orders over the last 30 days, 20.00 EUR of it attributed" in html
    quality = html.split('id="model-quality"', 1)[1].split("</table>", 1)[0]
    assert "Frequently bought together" in quality and "hit rate@5" in quality and "NDCG@10" in quality
    assert "first version" in quality and "command line" in quality
    with shop_scope(trained_shop):
        (entry,) = training_run_quality_list()
    bought = next(item for item in entry.lists if item.kind == "bought_together")
    difference = "the baseline itself" if bought.champion_is_baseline else f"{bought.margin:+.3f}"
    assert f"<td>{bought.champion}</td>" in quality and f"<td>{bought.baseline}</td>" in quality
    assert f'<td style="text-align:right">{bought.champion_value:.3f}</td>' in quality
    if bought.champion_is_baseline:
        assert f"<td>{difference}</td>" in quality
    else:
        # The difference with its 95% interval, as the training measured it.
        low, high = bought.margin_interval
        assert f"<td>{difference}<br><small>95% interval {low:.3f} to {high:.3f}</small></td>" in quality
    # Each time window the training judged it on, latest first, with its difference from the
    # plain reference or why it was not judged.
    reported = run_report_windows(trained_shop, "bought_together")
    assert len(bought.windows) == len(reported) >= 1
    shown = quality.split(f"<td>{bought.champion}</td>", 1)[1].split("</tr>", 1)[0]
    for window, row in zip(bought.windows, reported, strict=True):
        assert window.start == row["from"][:10] and window.cases == row["cases"]
        if not row["judged"]:
            assert f"{window.start} to {window.end or 'the end'}: too thin to judge ({row['cases']} cases)" in shown
        elif "interval" in row:
            mean, low, high = row["interval"]
            challenger, reference = row["compared"]
            assert f"{challenger} {mean:+.3f} over {reference} (95% interval {low:.3f} to {high:.3f})" in shown


def run_report_windows(shop, kind: str) -> list[dict]:
    from recommendations.models import TrainingRun

    with shop_scope(shop):
        return TrainingRun.objects.get().report["evaluation"][kind]["windows"]


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_period_selector_chooses_the_days(client, shop, days):
    sign_in(client, shop)
    html = client.get("/dashboard/insights", {"days": days}).content.decode()
    daily = html.split('id="daily-figures"', 1)[1].split("</table>", 1)[0]
    assert daily.count("<tr>") == days + 1
    assert f'<option value="{days}" selected>' in html
    assert f"over the last {days} days" in html


@pytest.mark.parametrize("days", ["14", "abc", "-7", "30.0", "9999999999999"])
def test_a_period_it_does_not_offer_is_a_400_with_the_reason(client, shop, days):
    sign_in(client, shop)
    response = client.get("/dashboard/insights", {"days": days})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="error-days"' in html and "Choose a period of 7, 30 or 90 days." in html
    assert 'aria-invalid="true"' in html
    assert 'role="img"' not in html and "daily-figures" not in html


@pytest.mark.django_db
def test_the_page_reads_rollups_never_raw_events_or_orders(client, shop):
    from tests.factories import make_order, make_shopper_event

    with shop_scope(shop):
        make_shopper_event(shop, kind="impression", product_external_id="P1", occurred_at=timezone.now())
        make_order(shop)
    sign_in(client, shop)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/insights", {"days": 90}).status_code == 200

    tables = " ".join(query["sql"] for query in queries.captured_queries)
    for raw in ("recommendations_shopperevent", "shops_order", "shops_orderline"):
        assert f'"{raw}"' not in tables, f"the insights page read {raw}"
    assert '"recommendations_eventdailyrollup"' in tables and '"recommendations_orderdailyrollup"' in tables


# -- one shop only ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_session_sees_only_its_own_shops_figures_and_runs(client, shop, other_shop):
    secret_report = {
        "evaluation": {
            "related": {
                "metric": "hit_rate",
                "k": 5,
                "champion": "theirs_secret_model",
                "reason": "r",
                "evaluated": True,
                "candidates": {"theirs_secret_model": candidate(0.9, baseline=False)},
            }
        }
    }
    with shop_scope(other_shop):
        make_event_rollup(other_shop, day=yesterday(), kind="impression", count=987654)
        make_order_rollup(other_shop, day=yesterday(), orders=3, revenue=Decimal("55555.00"))
        make_training_run(other_shop, report=secret_report, decision="their decision")
    with shop_scope(shop):
        make_event_rollup(shop, day=yesterday(), kind="impression", count=12)
        make_training_run(shop, report=REPORT, decision="our decision")
    sign_in(client, shop)

    html = client.get("/dashboard/insights", {"shop": other_shop.domain, "shop_id": other_shop.pk}).content.decode()

    assert "12 impressions of Basketry blocks" in html and "our decision" in html
    assert "987654" not in html and "987,654" not in html and "55555" not in html and "55,555" not in html
    assert "theirs_secret_model" not in html and "their decision" not in html
