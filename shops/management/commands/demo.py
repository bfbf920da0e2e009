from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser

from integrations.csv.services import orders_import_online_retail
from recommendations.models import ListKind, RecommendationList, TrainingRun
from recommendations.selectors import data_readiness_summary, model_version_live
from recommendations.services.data_profile import data_profile_refresh
from recommendations.services.training import (
    training_data_changed_since,
    training_run_create,
    training_run_execute,
)
from shops.dashboard.access import DEMO_LINK_SECONDS, dashboard_link_create
from shops.demo import DEMO_DOMAIN, demo_orders_end
from shops.demo.generator import demo_shop_generate
from shops.management.base import BasketryCommand
from shops.models import Order, Product, Shop
from shops.services.demo import demo_experiments_simulate, demo_shop_load, demo_traffic_simulate
from shops.services.shops import shop_create
from shops.tenancy import shop_scope

ONLINE_RETAIL_DOMAIN = "online-retail.localhost"
DEV_SUPERUSER = "admin"
# The real UCI Online Retail file, when this checkout sits next to the shared data sets.
DEFAULT_ONLINE_RETAIL_PATH = settings.BASE_DIR.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"


class Command(BasketryCommand):
    help = (
        "Set up the demo: the generated demo shop, the UCI Online Retail shop when its file is present, "
        "and a development superuser. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--online-retail",
            type=Path,
            default=DEFAULT_ONLINE_RETAIL_PATH,
            help="Path of the UCI Online Retail CSV (default: the shared data set next to this checkout).",
        )
        parser.add_argument("--skip-online-retail", action="store_true", help="Load only the generated shop.")

    def handle(self, *args: Any, **options: Any) -> None:
        shop, _ = shop_create(
            platform=Shop.Platform.CSV,
            domain=DEMO_DOMAIN,
            currency="EUR",
            name="Basketry demo store",
            timezone_name="UTC",
        )
        with shop_scope(shop):
            demo = demo_shop_generate(currency=shop.currency, end=demo_orders_end())
            result = demo_shop_load(shop=shop, demo=demo)
            profile = data_profile_refresh(shop=shop)
        self.stdout.write(
            f"Demo shop {shop.domain}: {result.products} products, {result.orders_created} new orders "
            f"({result.orders_already_present} already loaded)."
        )
        self.stdout.write(f"  {data_readiness_summary(profile=profile)}")
        self._train_and_show(shop)
        with shop_scope(shop):
            demo_traffic_simulate(shop=shop)
            demo_experiments_simulate(shop=shop)
        self.stdout.write(
            "  Simulated 30 days of widget traffic and attributed orders for the dashboard's insights, "
            "and two A/B tests (one finished, one running)."
        )

        path: Path = options["online_retail"]
        if options["skip_online_retail"]:
            pass
        elif path.is_file():
            self._load_online_retail(path)
        else:
            self.stdout.write(f"No UCI Online Retail file at {path}: only the generated shop is loaded.")

        password = self._reset_dev_superuser()
        with shop_scope(shop):
            # A product with a "bought together" list, so the demo page shows both blocks.
            live = model_version_live()
            anchor = (
                RecommendationList.objects.filter(version=live, kind=ListKind.BOUGHT_TOGETHER)
                .exclude(items=[])
                .order_by("anchor")
                .values_list("anchor", flat=True)
                .first()
                if live
                else None
            )
            storefront_product = (
                Product.objects.filter(pk=int(anchor), status=Product.Status.PUBLISHED)
                .values_list("external_id", flat=True)
                .first()
                if anchor
                else None
            )
        base = settings.APP_URL
        self.stdout.write("")
        self.stdout.write("Open:")
        self.stdout.write(f"  {base}/admin/   user {DEV_SUPERUSER}, password {password}  (development only)")
        dashboard = dashboard_link_create(shop_id=shop.pk, lifetime=DEMO_LINK_SECONDS)
        self.stdout.write(f"  {dashboard}   merchant dashboard of the demo shop (dev login, valid 12 hours)")
        if storefront_product:
            self.stdout.write(
                f"  {base}/demo/{DEMO_DOMAIN}/products/{storefront_product}   demo storefront with the widget"
            )
        self.stdout.write(f"  {base}/         what is running")
        self.stdout.write(f"  {base}/readyz   health")

    def _load_online_retail(self, path: Path) -> None:
        shop, _ = shop_create(
            platform=Shop.Platform.CSV,
            domain=ONLINE_RETAIL_DOMAIN,
            currency="GBP",
            name="UCI Online Retail",
            timezone_name="Europe/London",
        )
        with shop_scope(shop):
            if Order.objects.exists():
                self.stdout.write(f"UCI Online Retail shop {shop.domain}: already loaded.")
            else:
                self.stdout.write(f"Importing {path} into {shop.domain} (about a minute, then training)...")
                # Trained below, with the demo's own messages, rather than by the import's trigger.
                report = orders_import_online_retail(shop=shop, path=path, retrain=False)
                self.stdout.write(
                    f"UCI Online Retail shop {shop.domain}: {report.orders_created} orders, "
                    f"{report.products_created} products."
                )
            profile = data_profile_refresh(shop=shop)
        self.stdout.write(f"  {data_readiness_summary(profile=profile)}")
        self._train_and_show(shop)

    def _train_and_show(self, shop: Shop) -> None:
        """Train if the data changed since the last training, then print a sample list."""
        with shop_scope(shop):
            live = model_version_live()
            if live is None or training_data_changed_since(run=live.training_run):
                self.stdout.write(f"  Training {shop.domain}...")
                run = training_run_execute(
                    shop=shop, run=training_run_create(shop=shop, trigger=TrainingRun.Trigger.COMMAND)
                )
                if run.status != TrainingRun.Status.SUCCEEDED:
                    self.stdout.write(f"  Training {run.status}: {run.error}")
                    return
                live = model_version_live()
            champions = ", ".join(f"{kind} {name}" for kind, name in sorted(live.champions.items()))
            self.stdout.write(f"  Live version {live.number}: {champions}.")
            sample = (
                RecommendationList.objects.filter(version=live, kind=ListKind.BOUGHT_TOGETHER)
                .exclude(items=[])
                .order_by("anchor")
                .first()
            )
            if sample is None:
                return
            titles = dict(Product.objects.values_list("pk", "title"))
            self.stdout.write(f"  Frequently bought together with '{titles[int(sample.anchor)]}':")
            for item in sample.items[:3]:
                self.stdout.write(f"    - {titles[item['product_id']]}: {item['explanation']}")

    @staticmethod
    def _reset_dev_superuser() -> str:
        """A fresh random password on every run: nothing guessable is left behind by a demo."""
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEV_SUPERUSER, defaults={"email": ""})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
