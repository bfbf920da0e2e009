from __future__ import annotations

from django.db import models
from django.db.models import Q

from shops.tenancy import ShopOwnedModel


class DataProfile(ShopOwnedModel):
    """What a shop's data can support: the counts behind "enough for bought-together?".

    Refreshed after imports and syncs by the `data_profile_refresh` task; read by the demo and
    the dashboard without scanning orders.
    """

    paid_orders = models.PositiveIntegerField(default=0)
    multi_item_orders = models.PositiveIntegerField(default=0, help_text="Paid orders with 2+ distinct products.")
    order_lines = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0, help_text="Distinct pseudonymous customers with a paid order.")
    guest_orders = models.PositiveIntegerField(default=0)
    products = models.PositiveIntegerField(default=0)
    sellable_products = models.PositiveIntegerField(default=0, help_text="Published and in stock.")
    products_with_sales = models.PositiveIntegerField(default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="dataprofile_one_per_shop")]

    def __str__(self) -> str:
        return f"Data profile of shop {self.shop_id}"

    @property
    def multi_item_share(self) -> float:
        return self.multi_item_orders / self.paid_orders if self.paid_orders else 0.0


class ListKind(models.TextChoices):
    RELATED = "related", "Related products"
    BOUGHT_TOGETHER = "bought_together", "Frequently bought together"
    BUNDLE = "bundle", "Bundle (add all to cart)"
    PERSONAL = "personal", "You may also like"
    POPULAR = "popular", "Popular"
    TRENDING = "trending", "Trending"
    CATEGORY_POPULAR = "category_popular", "Popular in category"


class TrainingRun(ShopOwnedModel):
    """One attempt to train a shop's models; its report is what the merchant sees."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        COMMAND = "command", "Command line"
        MERCHANT = "merchant", "Merchant"
        NIGHTLY = "nightly", "Nightly retrain"
        SYNC = "sync", "After a sync or import"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why the run failed or was skipped, in words a merchant can read.
    error = models.TextField(blank=True)
    # Quality report: data counts, readiness, metrics per candidate and baseline, champions, timings.
    report = models.JSONField(default=dict, blank=True)
    # Whether the version it built went live, and why (or why not).
    promoted = models.BooleanField(default=False)
    decision = models.TextField(blank=True)
    # Paid orders the run trained on: a sudden drop in a later run points at lost data.
    orders_seen = models.PositiveIntegerField(default=0)
    # Renewed by the running training every few seconds: a `running` run whose heartbeat is old
    # lost its worker (killed, out of memory, machine gone) and is failed by the reaper.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The run failed because its worker stopped: several in a row stop the automatic retries.
    worker_lost = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="trainingrun_shop_recent_idx")]

    def __str__(self) -> str:
        return f"Training run {self.pk} ({self.status})"


class ModelVersion(ShopOwnedModel):
    """A published set of precomputed lists. One version per shop is live; the previous one is kept."""

    class Status(models.TextChoices):
        LIVE = "live", "Live"
        PREVIOUS = "previous", "Previous (kept for rollback)"
        REJECTED = "rejected", "Rejected (worse than live)"
        RETIRED = "retired", "Retired"

    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    training_run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # {list kind: engine model name} chosen by the evaluation.
    champions = models.JSONField(default=dict)
    # {list kind: {"metric": name, "value": float}}: the champions' held-out scores, for the guard.
    quality = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "number"], name="modelversion_shop_number_unique"),
            models.UniqueConstraint(fields=["shop"], condition=Q(status="live"), name="modelversion_one_live_per_shop"),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} ({self.status})"


class RecommendationList(ShopOwnedModel):
    """A precomputed, explained list: for one product, customer, category or the whole shop."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="lists")
    kind = models.CharField(max_length=24, choices=ListKind.choices)
    # Product pk (related, bought_together, bundle), customer ref (personal), category (category
    # popular) or "" (popular, trending).
    anchor = models.CharField(max_length=255, blank=True)
    # [{"product_id": pk, "score": float, "reason": code, "explanation": str, "evidence": {...}}, ...]
    items = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "kind", "anchor"], name="recommendationlist_unique_anchor"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} list for {self.anchor or 'the shop'}"


class ServingPack(ShopOwnedModel):
    """A published version's product and popular lists in one compact blob
    (recommendations/storefront/packs.py): each web process reads it with one statement and then
    serves every list of the version from its own memory."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="serving_pack")
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Serving pack of version {self.version_id} ({len(self.data or b'')} bytes)"


class MerchantRule(ShopOwnedModel):
    """A merchant's steer on the lists, applied at publish time and again when serving."""

    class Kind(models.TextChoices):
        PIN = "pin", "Pin products first"
        EXCLUDE = "exclude", "Never recommend"
        NEVER_PAIR = "never_pair", "Never pair"
        IF_THEN = "if_then", "When viewing ..., recommend from ..."

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=120, blank=True)
    enabled = models.BooleanField(default=True)
    # Lower runs first; pins of an earlier rule come before pins of a later one.
    position = models.PositiveIntegerField(default=0)
    # Which lists the rule touches; empty means every list.
    list_kinds = models.JSONField(default=list, blank=True)
    # The kind's parameters, validated by `merchant_rule_create` / `merchant_rule_update`.
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} rule {self.pk}"


class ShopperEvent(ShopOwnedModel):
    """One widget interaction, kept raw only until rolled up and purged (EVENT_RETENTION_DAYS).

    Nothing about the shopper: no customer, IP, user agent or cookie; only what was shown or
    used, where, and when.
    """

    class Kind(models.TextChoices):
        IMPRESSION = "impression", "Impression"
        CLICK = "click", "Click"
        ADD_TO_CART = "add_to_cart", "Add to cart"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    block = models.CharField(max_length=24)
    product_external_id = models.CharField(max_length=255)
    anchor_external_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "occurred_at"], name="shopperevent_shop_time_idx")]


class EventDailyRollup(ShopOwnedModel):
    """Daily counts per block, kind and product: what insights read instead of raw events."""

    day = models.DateField()
    block = models.CharField(max_length=24)
    kind = models.CharField(max_length=16, choices=ShopperEvent.Kind.choices)
    product_external_id = models.CharField(max_length=255)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "block", "kind", "product_external_id"], name="eventrollup_unique_key"
            )
        ]


class OrderDailyRollup(ShopOwnedModel):
    """A day of paid orders, with and without lines added from a Basketry block: what the
    insights read instead of scanning orders. Days are the shop's local days."""

    day = models.DateField()
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    widget_orders = models.PositiveIntegerField(default=0, help_text="Orders with a line added from a block.")
    widget_orders_revenue = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    attributed_revenue = models.DecimalField(
        max_digits=16, decimal_places=4, default=0, help_text="The value of the lines added from a block."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="orderdailyrollup_shop_day_unique")]


class Experiment(ShopOwnedModel):
    """An A/B test of what one storefront block shows. Its duration is fixed when it is created:
    the results are read when it ends, not whenever they look good."""

    class Block(models.TextChoices):
        RELATED = "related", "Related products"
        BOUGHT_TOGETHER = "bought_together", "Frequently bought together"
        CART = "cart", "Cart recommendations"

    class Strategy(models.TextChoices):
        MODEL = "model", "Basketry's model"
        POPULAR = "popular", "Best sellers with your rules (no model)"
        NONE = "none", "No block"

    name = models.CharField(max_length=120)
    block = models.CharField(max_length=24, choices=Block.choices)
    # [{"key": "A", "strategy": "model", "weight": 50}, ...]; the first arm is the control.
    arms = models.JSONField()
    # Mixed into the assignment hash, so that two experiments split visitors independently.
    salt = models.CharField(max_length=32)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "block", "ends_at"], name="experiment_shop_block_idx")]

    def __str__(self) -> str:
        return self.name

    def state(self, now) -> str:
        if self.stopped_at is not None:
            return "stopped"
        if now < self.starts_at:
            return "scheduled"
        if now < self.ends_at:
            return "running"
        return "finished"


class ExperimentDailyCount(ShopOwnedModel):
    """Visitors who first saw an experiment's block on a day, per arm. The widget reports each
    visitor once per experiment, so these are visitors, not page views; nothing identifies them."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="daily_counts")
    day = models.DateField()
    arm = models.CharField(max_length=8)
    exposures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "day", "arm"], name="experimentcount_unique_day_arm")
        ]
