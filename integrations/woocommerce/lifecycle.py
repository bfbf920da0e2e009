"""What the WordPress plugin's own lifecycle means for its shop, told by the plugin (signed):

- deactivated: the shop is paused. The plugin pauses its webhooks in WooCommerce; Basketry calls
  the store no more (no sync, no webhook repair), ignores any delivery that still arrives, and keeps
  the keys and the data, so activating the plugin again resumes where it stopped;
- activated again: the pause ends, the webhooks are switched back on and a reconciliation fetches
  what changed meanwhile;
- deleted (uninstall.php): the shop is disconnected. The plugin deletes its webhooks and revokes
  the key in WooCommerce; Basketry forgets every credential at once, so deliveries signed with the
  old secret are refused, and purges the shop's data by the same retention as a Shopify uninstall
  (`shop_uninstall`, then `shops_purge_due` SHOP_PURGE_AFTER_UNINSTALL_HOURS later).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recommendations.storefront.identity import CREDENTIALS_KEY as TOKEN_KEY
from shops.models import Shop
from shops.services.lifecycle import shop_uninstall

PAUSED_KEY = "woocommerce_paused_at"
# Everything the connection put in `Shop.credentials`; the store URL stays so that a reinstall of
# the plugin finds the same shop.
CONNECTION_KEYS = (
    "consumer_key",
    "consumer_secret",
    "key_id",
    "key_permissions",
    "webhook_secret",
    "query_string_auth",
    TOKEN_KEY,
)


def woocommerce_paused(shop: Shop) -> bool:
    return bool((shop.settings or {}).get(PAUSED_KEY))


def key_ending(shop: Shop) -> str:
    """The last 7 characters of the consumer key Basketry uses: what WooCommerce keeps in clear
    (`truncated_key`) and shows as "...abc1234", so the plugin can tell this key from older ones."""
    return str((shop.credentials or {}).get("consumer_key") or "")[-7:]


def woocommerce_pause(*, shop: Shop) -> bool:
    """The plugin was deactivated. Returns False when the shop was paused already."""
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        if woocommerce_paused(locked):
            return False
        locked.settings = {**(locked.settings or {}), PAUSED_KEY: timezone.now().isoformat()}
        locked.save(update_fields=["settings", "updated_at"])
    shop.settings = locked.settings
    return True


def woocommerce_resume(*, shop: Shop) -> bool:
    """The plugin was activated again: webhooks back on, then a catch-up reconciliation. Returns
    False when the shop was not paused."""
    from integrations.tasks import woocommerce_connected

    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        if not woocommerce_paused(locked):
            return False
        locked.settings = {k: v for k, v in (locked.settings or {}).items() if k != PAUSED_KEY}
        locked.save(update_fields=["settings", "updated_at"])
        shop_id = shop.pk
        transaction.on_commit(lambda: woocommerce_connected.delay(shop_id, True, "reconcile"))
    shop.settings = locked.settings
    return True


def woocommerce_disconnect(*, shop: Shop) -> dict:
    """The plugin was deleted: forget the keys, the webhook secret and the plugin's key at once and
    uninstall the shop (its data is purged after the retention period). Idempotent."""
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        ending = key_ending(locked)
        locked.credentials = {k: v for k, v in (locked.credentials or {}).items() if k not in CONNECTION_KEYS}
        locked.settings = {k: v for k, v in (locked.settings or {}).items() if k != PAUSED_KEY}
        locked.save(update_fields=["credentials", "settings", "updated_at"])
        shop_uninstall(shop=locked)
    return {
        "uninstalled": True,
        "key_ending": ending,
        "purge_after_hours": settings.SHOP_PURGE_AFTER_UNINSTALL_HOURS,
    }
