"""The Overview's live progress: GET /dashboard/progress and the region that polls it, for one
shop only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shops.dashboard.access import dashboard_link_create
from shops.tenancy import shop_scope
from tests.factories import make_sync_run, make_training_run

pytestmark = pytest.mark.django_db


def sign_in(client, shop) -> None:
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])


def test_a_running_sync_reports_its_phase_and_counts(client, shop):
    with shop_scope(shop):
        run = make_sync_run(
            shop, status="running", checkpoint={"phase": "orders", "page": 4}, products_synced=1200, orders_synced=340
        )
    sign_in(client, shop)

    response = client.get("/dashboard/progress")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    state = response.json()
    assert state["active"] is True and state["training"] is None
    sync = state["sync"]
    assert (sync["id"], sync["status"], sync["phase"]) == (run.pk, "running", "orders")
    assert (sync["products_synced"], sync["orders_synced"]) == (1200, 340)
    assert state["message"] == "Sync running (full): reading orders, 1,200 products and 340 orders so far."


def test_a_queued_training_keeps_the_overview_polling_and_a_finished_one_stops_it(client, shop):
    with shop_scope(shop):
        make_sync_run(shop, status="succeeded", products_synced=40, orders_synced=600, finished_at=timezone.now())
        training = make_training_run(shop, status="queued")
    sign_in(client, shop)

    queued = client.get("/dashboard/progress").json()
    assert queued["active"] is True
    assert queued["training"]["status"] == "queued" and queued["training"]["trigger"] == "command"
    assert queued["message"] == "Training queued: it starts when a worker is free."  # only what runs

    with shop_scope(shop):
        training.status, training.decision = "succeeded", "first version"
        training.save()
    done = client.get("/dashboard/progress").json()
    assert done["active"] is False
    assert done["message"] == "Sync finished: 40 products and 600 orders. Training finished: first version."


def test_a_failed_sync_says_why(client, shop):
    with shop_scope(shop):
        make_sync_run(shop, status="failed", error="Shopify answered 403: access denied")
    sign_in(client, shop)
    state = client.get("/dashboard/progress").json()
    assert state["active"] is False and "Shopify answered 403: access denied" in state["message"]


def test_nothing_run_yet(client, shop):
    sign_in(client, shop)
    assert client.get("/dashboard/progress").json() == {
        "active": False,
        "sync": None,
        "training": None,
        "message": "No sync or training yet.",
    }


def test_the_endpoint_needs_a_session_and_only_answers_get(client, shop):
    assert Client().get("/dashboard/progress").status_code == 403
    sign_in(client, shop)
    refused = client.post("/dashboard/progress")
    assert refused.status_code == 405 and refused["Allow"] == "GET"


def test_the_overview_polls_only_while_something_runs(client, shop):
    sign_in(client, shop)
    idle = client.get("/dashboard/").content.decode()
    assert "dashboard-progress.js" not in idle and "aria-live" not in idle

    with shop_scope(shop):
        make_sync_run(shop, status="running", checkpoint={"phase": "products"}, products_synced=5)
    running = client.get("/dashboard/").content.decode()

    assert 'aria-live="polite"' in running and 'data-progress-url="/dashboard/progress"' in running
    assert "/static/basketry/dashboard-progress.js" in running
    assert "Sync running (full): reading products, 5 products and 0 orders so far." in running
    for section in ("overview-connection", "overview-readiness", "overview-models"):
        assert f'id="{section}" data-progress-refresh' in running


def test_the_progress_script_is_served_and_names_no_other_origin(client):
    from django.contrib.staticfiles import finders

    path = finders.find("basketry/dashboard-progress.js")
    assert path is not None
    script = open(path, encoding="utf-8").read()
    assert "http://" not in script and "https://" not in script  # no CDN, no other origin
    assert 'searchParams.delete("id_token")' in script and "Bearer" in script


# -- one shop only ----------------------------------------------------------------------------------


def test_a_session_never_sees_another_shops_runs(client, shop, other_shop):
    with shop_scope(other_shop):
        theirs = make_sync_run(other_shop, status="running", products_synced=777, orders_synced=888)
        make_training_run(other_shop, status="running", started_at=timezone.now())
    with shop_scope(shop):
        mine = make_sync_run(shop, status="succeeded", products_synced=3, orders_synced=4)
    sign_in(client, shop)

    state = client.get("/dashboard/progress", {"shop": other_shop.domain, "shop_id": other_shop.pk}).json()

    assert state["sync"]["id"] == mine.pk and state["sync"]["products_synced"] == 3
    assert state["training"] is None and state["active"] is False
    # Their counts appear nowhere as numbers (timestamps may hold the same digits).
    values = [value for run in (state["sync"], state["training"] or {}) for value in run.values()]
    assert theirs.pk != mine.pk and 777 not in values and 888 not in values
    overview = client.get("/dashboard/").content.decode()
    assert "777 products" not in overview and "dashboard-progress.js" not in overview


def test_another_shops_session_sees_its_own_run(client, shop, other_shop):
    with shop_scope(other_shop):
        make_sync_run(other_shop, status="running", products_synced=777)
    sign_in(client, other_shop)
    state = client.get("/dashboard/progress").json()
    assert state["active"] is True and state["sync"]["products_synced"] == 777


def test_polling_counts_no_rows(client, shop):
    """It is asked every few seconds: two small reads, never a count over products or orders."""
    with shop_scope(shop):
        make_sync_run(shop, status="running")
    sign_in(client, shop)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/progress").json()["active"] is True
    statements = " ".join(query["sql"] for query in queries.captured_queries)
    assert "COUNT(" not in statements.upper()
    assert '"shops_order"' not in statements and '"shops_product"' not in statements


def test_the_overview_shows_attributed_revenue_of_the_period_from_the_rollups(client, shop, other_shop):
    import datetime as dt
    from decimal import Decimal

    from tests.factories import make_order_rollup

    today = timezone.now().date()
    with shop_scope(shop):
        make_order_rollup(
            shop, day=today - dt.timedelta(days=2), orders=10, widget_orders=3, attributed_revenue=Decimal("41.50")
        )
        make_order_rollup(
            shop, day=today - dt.timedelta(days=3), orders=5, widget_orders=1, attributed_revenue=Decimal("8.50")
        )
        make_order_rollup(
            shop, day=today - dt.timedelta(days=45), orders=9, widget_orders=9, attributed_revenue=Decimal("900")
        )
    with shop_scope(other_shop):
        make_order_rollup(
            other_shop, day=today - dt.timedelta(days=2), orders=7, widget_orders=7, attributed_revenue=Decimal("77")
        )
    sign_in(client, shop)
    html = client.get("/dashboard/").content.decode()
    assert f"50.00 {shop.currency}" in html and "4 of 15 paid orders had a block item" in html
