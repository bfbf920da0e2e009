"""What the platform integrations record: webhook deliveries, sync runs, privacy requests and
Shopify app subscriptions."""

from __future__ import annotations

from django.db import models

from shops.tenancy import ShopOwnedModel


class WebhookDelivery(ShopOwnedModel):
    """One verified delivery. The unique key makes a redelivery a no-op; only what processing
    needs is kept (`work`), never the shopper fields a platform payload carries."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"
        # Given up after WEBHOOK_MAX_ATTEMPTS processing attempts; the operator sees it and its
        # last error, and `webhooks_retry` puts it back in the queue.
        DEAD = "dead", "Dead letter"

    platform = models.CharField(max_length=16)
    delivery_id = models.CharField(max_length=255, help_text="The platform's id of this delivery (dedup key).")
    topic = models.CharField(max_length=64)
    triggered_at = models.DateTimeField(help_text="When the platform fired the event (stale-delivery checks).")
    received_at = models.DateTimeField(auto_now_add=True)
    work = models.JSONField(default=dict, help_text="The minimised payload processing needs.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    detail = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The delivery row is the outbox: queued work is sent to the broker after commit, and the
    # sweeper sends again what no worker finished (broker down, a task that failed or was lost).
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Processing attempts that did not finish.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the sweeper sends it again.")

    class Meta:
        constraints = [
            # Per shop: a delivery id one store sends must never block another store's delivery.
            models.UniqueConstraint(
                fields=["shop", "platform", "delivery_id"], name="webhookdelivery_shop_platform_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "received_at"], name="webhookdelivery_shop_time_idx"),
            # The sweeper's read, across shops: only undone deliveries are in it.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="queued"),
                name="webhookdelivery_undone_idx",
            ),
        ]


class SyncRun(ShopOwnedModel):
    """A catalogue and order sync with its checkpoint, so that a killed run resumes where it was."""

    class Kind(models.TextChoices):
        FULL = "full", "Full (bulk operations)"
        RECONCILE = "reconcile", "Reconciliation (changes since the last sync)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # Where the run is: {"phase": "products"|"orders"|"done", "bulk_id": gid, "cursor": ..., "lines_done": n}.
    checkpoint = models.JSONField(default=dict)
    # Changes after this instant are what the next reconciliation asks for.
    watermark = models.DateTimeField(null=True, blank=True)
    products_synced = models.PositiveIntegerField(default=0)
    orders_synced = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    throttled = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "started_at"], name="syncrun_shop_started_idx")]


class PrivacyRequest(ShopOwnedModel):
    """A platform's privacy request about one customer, and what was done about it.

    The customer appears only as the shop's keyed hash; the export lists what Basketry holds
    under that hash, for the merchant to pass on.
    """

    class Kind(models.TextChoices):
        DATA_REQUEST = "data_request", "Customer data request"
        CUSTOMER_REDACT = "customer_redact", "Customer redaction"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    platform_request_id = models.CharField(max_length=255, blank=True)
    customer_ref = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    export = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "received_at"], name="privacyrequest_shop_time_idx")]


class AppSubscription(ShopOwnedModel):
    """One Shopify app subscription (Billing API) of the shop, as Shopify last reported it.

    Created when the merchant asks for a plan (pending until they approve it on Shopify's
    confirmation page), then kept current from `app_subscriptions/update` and from
    `currentAppInstallation.activeSubscriptions`. Which plan the shop is on follows from these
    (`Shop.plan`); nothing here concerns shoppers.
    """

    class Status(models.TextChoices):
        # Shopify's AppSubscriptionStatus values (ACCEPTED is deprecated and treated as PENDING).
        PENDING = "PENDING", "Pending approval"
        ACTIVE = "ACTIVE", "Active"
        DECLINED = "DECLINED", "Declined"
        CANCELLED = "CANCELLED", "Cancelled"
        EXPIRED = "EXPIRED", "Expired"
        FROZEN = "FROZEN", "Frozen"

    platform_id = models.CharField(max_length=128, help_text="Shopify's gid://shopify/AppSubscription/… id.")
    name = models.CharField(max_length=255)
    plan = models.CharField(max_length=16, help_text="The Basketry plan this subscription pays for.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    test = models.BooleanField(default=False)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # Shopify's own time of the last change: an older webhook never overwrites a newer state.
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "platform_id"], name="appsubscription_shop_platform_id_unique")
        ]
