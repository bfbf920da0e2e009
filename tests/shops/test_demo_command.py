"""`manage.py demo`: loads the generated shop through the real services, idempotently."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from recommendations.models import DataProfile
from shops.demo import demo_orders_end
from shops.demo.generator import demo_shop_generate
from shops.models import Order, OrderLine, Product, Shop
from shops.tenancy import shop_scope


def run_demo() -> str:
    out = io.StringIO()
    call_command("demo", "--skip-online-retail", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_loads_the_generated_shop_and_prints_a_working_login():
    output = run_demo()

    demo = demo_shop_generate(end=demo_orders_end())
    shop = Shop.objects.get(domain="demo-store.localhost")
    with shop_scope(shop):
        assert Product.objects.count() == len(demo.products)
        assert Order.objects.count() == len(demo.orders)
        assert OrderLine.objects.count() == sum(len(order.lines) for order in demo.orders)
        profile = DataProfile.objects.get()
    paid = [order for order in demo.orders if order.status == "paid"]
    assert profile.paid_orders == len(paid)
    assert f"{len(paid)} orders" in output

    # Simulated traffic fills the insights, labelled as simulated.
    from recommendations.models import EventDailyRollup, OrderDailyRollup

    with shop_scope(shop):
        assert EventDailyRollup.objects.filter(kind="impression").exists()
        assert OrderDailyRollup.objects.filter(widget_orders__gt=0).exists()
        assert OrderLine.objects.filter(source_block="bought_together").exists()
    assert "Simulated 30 days of widget traffic" in output

    # And two A/B tests: the finished one has a verdict computed from its orders, the running one none.
    from django.utils import timezone

    from recommendations.models import Experiment
    from recommendations.selectors import experiment_results_get

    with shop_scope(shop):
        results = {e.state(timezone.now()): experiment_results_get(experiment=e) for e in Experiment.objects.all()}
    assert set(results) == {"finished", "running"}
    finished = results["finished"]
    assert all(arm.visitors > 1000 and arm.orders > 0 for arm in finished["arms"])
    assert finished["verdict"] and "verdict" not in results["running"]

    password = re.search(r"/admin/\s+user admin, password (\S+)", output).group(1)
    user = authenticate(username="admin", password=password)
    assert user is not None and user.is_superuser


@pytest.mark.django_db
def test_demo_twice_changes_nothing_but_the_password():
    first = run_demo()
    second = run_demo()

    shop = Shop.objects.get(domain="demo-store.localhost")
    with shop_scope(shop):
        assert Order.objects.count() == len(demo_shop_generate().orders)
    assert "0 new orders (4000 already loaded)" in second
    old_password = re.search(r"password (\S+)", first).group(1)
    assert authenticate(username="admin", password=old_password) is None
