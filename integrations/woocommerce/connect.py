"""Connecting a WooCommerce store: the key-provisioning flow, the manual path, webhook
registration. Credentials live encrypted in `Shop.credentials`:

    {"store_url", "consumer_key", "consumer_secret", "key_id", "key_permissions", "webhook_secret",
     "query_string_auth", "storefront_token_key" (the plugin's key)}
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse

from integrations.woocommerce.client import WooCommerceClient, WooCommerceError
from integrations.woocommerce.lifecycle import PAUSED_KEY, woocommerce_paused
from recommendations.storefront.identity import CREDENTIALS_KEY as TOKEN_KEY
from shops.crypto import decrypt_text, encrypt_text
from shops.errors import ValidationFailed
from shops.models import Product, Shop
from shops.services.shops import shop_create
from shops.tenancy import shop_scope

WEBHOOK_TOPICS = (
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
    "order.deleted",
)
# How long a merchant has between clicking Connect and approving in WooCommerce.
CONNECT_SECONDS = 3600
_PLUGIN_KEY = re.compile(r"^[0-9a-f]{64}$")
_KEY = re.compile(r"^ck_[0-9a-f]{40}$")
_SECRET = re.compile(r"^cs_[0-9a-f]{40}$")


def store_url_normalize(url: str) -> tuple[str, str]:
    """(base URL without a trailing slash, shop domain host[:port]); plain http only with
    WOOCOMMERCE_ALLOW_INSECURE_HTTP."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed(f"{url!r} is not a store URL such as https://shop.example.com.")
    if parts.scheme == "http" and not settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP:
        raise ValidationFailed(
            f"{url} is plain http: WooCommerce keys must travel over https (WOOCOMMERCE_ALLOW_INSECURE_HTTP "
            "allows http for local stores)."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationFailed(f"{url!r}: give the store's address only, without credentials, query or fragment.")
    default_port = {"https": 443, "http": 80}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    domain = f"{parts.hostname.lower()}{port}"
    base = f"{parts.scheme}://{domain}{parts.path.rstrip('/')}"
    return base, domain


def _verify() -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=settings.WOOCOMMERCE_CA_BUNDLE) if settings.WOOCOMMERCE_CA_BUNDLE else True


def client_for(shop: Shop) -> WooCommerceClient:
    credentials = shop.credentials or {}
    if not credentials.get("consumer_key"):
        raise ValidationFailed(f"{shop.domain} has no WooCommerce keys: connect it first.")
    if woocommerce_paused(shop):
        # The single way to the store: while the plugin is deactivated nothing calls it.
        raise ValidationFailed(
            f"{shop.domain} is paused: the Basketry plugin is deactivated in WordPress; activate it to resume."
        )

    def remember_query_string_auth() -> None:
        with transaction.atomic():
            locked = Shop.objects.select_for_update().get(pk=shop.pk)
            locked.credentials = {**locked.credentials, "query_string_auth": True}
            locked.save(update_fields=["credentials", "updated_at"])

    return WooCommerceClient(
        store_url=credentials["store_url"],
        consumer_key=credentials["consumer_key"],
        consumer_secret=credentials["consumer_secret"],
        query_string_auth=bool(credentials.get("query_string_auth")),
        verify=_verify(),
        on_query_string_auth=remember_query_string_auth,
    )


def webhook_delivery_url(shop: Shop) -> str:
    # Exact, final URL: WooCommerce does not follow redirects and counts a 3xx as delivered.
    return f"{settings.APP_URL}{reverse('woocommerce-webhooks', args=[shop.pk])}"


# --- the /wc-auth/v1/authorize flow ---------------------------------------------------------------


def woocommerce_connect_start(*, store_url: str, return_url: str, plugin_key: str) -> str:
    """The URL that sends the merchant to their store to approve Basketry's key.

    The one-time `user_id` round-trips through WooCommerce and comes back with the keys: it is a
    signed reference to what the plugin asked for, kept in the cache for an hour.
    """
    base, domain = store_url_normalize(store_url)
    if not _PLUGIN_KEY.match(plugin_key or ""):
        raise ValidationFailed("plugin_key: 64 lowercase hex characters.")
    return_parts = urlsplit(return_url or "")
    if return_parts.scheme not in ("https", "http") or (return_parts.netloc or "").lower() != urlsplit(base).netloc:
        raise ValidationFailed("return_url: a page of the same store.")
    callback_url = f"{settings.APP_URL}{reverse('woocommerce-auth-callback')}"
    if not callback_url.startswith("https://") and not settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP:
        # WooCommerce refuses it ("The callback_url needs to be over SSL") after the merchant has
        # already left for the approval screen: say so here instead.
        raise ValidationFailed(
            f"Connect needs Basketry to be served over https: WooCommerce only sends the keys to an https "
            f"callback URL, and this server's APP_URL is {settings.APP_URL}. Serve Basketry over https (and set "
            "APP_URL to that address), or create a Read/Write key under WooCommerce > Settings > Advanced > "
            "REST API and paste it into the plugin's manual connection form."
        )
    nonce = secrets.token_urlsafe(18)
    cache.set(
        f"woocommerce-connect:{nonce}",
        # The plugin's key is a secret: encrypted like credentials, even for an hour in the cache.
        {"store_url": base, "domain": domain, "plugin_key": encrypt_text(plugin_key)},
        timeout=CONNECT_SECONDS,
    )
    user_id = signing.dumps(nonce, salt="woocommerce-connect")
    query = urlencode(
        {
            "app_name": "Basketry",
            "scope": "read_write",
            "user_id": user_id,
            "return_url": return_url,
            "callback_url": callback_url,
        }
    )
    return f"{base}/wc-auth/v1/authorize?{query}"


@dataclass(frozen=True)
class KeyDelivery:
    user_id: str
    consumer_key: str
    consumer_secret: str
    key_id: int
    key_permissions: str


def key_delivery_parse(body: bytes) -> KeyDelivery:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("the body is not JSON") from error
    if not isinstance(data, dict):
        raise ValidationFailed("the body is not a JSON object")
    try:
        delivery = KeyDelivery(
            user_id=str(data["user_id"]),  # WooCommerce echoes it as a string; accept a number too
            consumer_key=str(data["consumer_key"]),
            consumer_secret=str(data["consumer_secret"]),
            key_id=int(data.get("key_id") or 0),
            key_permissions=str(data.get("key_permissions") or ""),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationFailed(f"missing or malformed field: {error}") from error
    if not _KEY.match(delivery.consumer_key) or not _SECRET.match(delivery.consumer_secret):
        raise ValidationFailed("consumer_key / consumer_secret are not WooCommerce keys")
    if delivery.key_permissions != "read_write":
        raise ValidationFailed("the key must be read_write (webhooks need write)")
    return delivery


def woocommerce_connect_callback(*, body: bytes) -> Shop:
    """Store the keys WooCommerce posts after the merchant approved. The one-time reference is
    used up here; a replay or a forged reference raises ValidationFailed and stores nothing."""
    delivery = key_delivery_parse(body)
    try:
        nonce = signing.loads(delivery.user_id, salt="woocommerce-connect", max_age=CONNECT_SECONDS)
    except signing.BadSignature as error:
        raise ValidationFailed("unknown or expired connection request") from error
    pending = cache.get(f"woocommerce-connect:{nonce}")
    if pending is None or not cache.delete(f"woocommerce-connect:{nonce}"):
        raise ValidationFailed("connection request already used or expired")
    shop = _shop_store_keys(
        store_url=pending["store_url"],
        consumer_key=delivery.consumer_key,
        consumer_secret=delivery.consumer_secret,
        key_id=delivery.key_id,
        plugin_key=decrypt_text(pending["plugin_key"]),
    )
    _after_connect(shop)
    return shop


def woocommerce_connect_manual(
    *, store_url: str, consumer_key: str, consumer_secret: str, plugin_key: str | None = None
) -> Shop:
    """Keys pasted by hand (the plugin's manual form, or `connect_woocommerce`): checked with a
    test call, then stored and the webhooks registered before this returns."""
    base, _ = store_url_normalize(store_url)
    if plugin_key is not None and not _PLUGIN_KEY.match(plugin_key):
        raise ValidationFailed("plugin_key: 64 lowercase hex characters.")
    if not _KEY.match(consumer_key or "") or not _SECRET.match(consumer_secret or ""):
        raise ValidationFailed("Expected a WooCommerce key pair: ck_ and cs_ followed by 40 hex characters.")
    probe = WooCommerceClient(
        store_url=base,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        verify=_verify(),
    )
    with probe:
        try:
            probe.get("products", per_page=1, _fields="id")
            query_string_auth = probe.query_string_auth
        except WooCommerceError as error:
            raise ValidationFailed(f"The store refused the keys: {error}") from error
        try:
            currency = store_currency_read(probe)
        except WooCommerceError as error:
            raise ValidationFailed(str(error)) from error
    # One transaction: keys that cannot create webhooks (read-only) leave nothing stored.
    with transaction.atomic():
        shop = _shop_store_keys(
            store_url=base,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            key_id=0,
            plugin_key=plugin_key,
            query_string_auth=query_string_auth,
            currency=currency,
        )
        try:
            woocommerce_webhooks_ensure(shop=shop)
        except WooCommerceError as error:
            if error.status in (401, 403):
                raise ValidationFailed(
                    f"The keys cannot create webhooks ({error}): use a read_write key of a user who can manage "
                    "WooCommerce."
                ) from error
            raise ValidationFailed(f"Registering the webhooks failed: {error}") from error
        _after_connect(shop, register_webhooks=False)
    return shop


def _shop_store_keys(
    *,
    store_url: str,
    consumer_key: str,
    consumer_secret: str,
    key_id: int,
    plugin_key: str | None,
    query_string_auth: bool = False,
    currency: str | None = None,
) -> Shop:
    _, domain = store_url_normalize(store_url)
    with transaction.atomic():
        shop, _ = shop_create(platform=Shop.Platform.WOOCOMMERCE, domain=domain, currency=currency)
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        credentials = dict(locked.credentials or {})
        credentials.update(
            store_url=store_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            key_id=key_id,
            key_permissions="read_write",
            query_string_auth=query_string_auth,
        )
        credentials.setdefault("webhook_secret", secrets.token_hex(24))
        if plugin_key:
            credentials[TOKEN_KEY] = plugin_key
        locked.credentials = credentials
        # Connecting is done from the active plugin: whatever pause a deactivation left ends here.
        locked.settings = {k: v for k, v in (locked.settings or {}).items() if k != PAUSED_KEY}
        if locked.status != Shop.Status.INSTALLED:
            from django.utils import timezone

            locked.status = Shop.Status.INSTALLED
            locked.uninstalled_at = None
            locked.installed_at = timezone.now()
        locked.save()
    return locked


def _after_connect(shop: Shop, *, register_webhooks: bool = True) -> None:
    from integrations.tasks import woocommerce_connected

    shop_id = shop.pk
    transaction.on_commit(lambda: woocommerce_connected.delay(shop_id, register_webhooks))


# --- the store's currency ------------------------------------------------------------------------

CURRENCY_SETTING = "settings/general/woocommerce_currency"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def store_currency_read(client: WooCommerceClient) -> str:
    """The store's currency (WooCommerce > Settings > General > Currency), e.g. "EUR".

    Raises WooCommerceError with a reason the merchant can act on; `retryable` stays as the client
    decided (a timeout or a 5xx is worth another try, a refusal is not)."""
    try:
        setting = client.get(CURRENCY_SETTING, _fields="id,value")
    except WooCommerceError as error:
        hint = (
            " The key's user needs the manage_woocommerce capability (a shop manager or administrator)."
            if error.status in (401, 403)
            else ""
        )
        raise WooCommerceError(
            f"Reading the store's currency ({CURRENCY_SETTING}) failed: {error}.{hint}",
            status=error.status,
            code=error.code,
            retryable=error.retryable,
        ) from error
    value = setting.get("value") if isinstance(setting, dict) else None
    currency = value.strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.match(currency):
        raise WooCommerceError(
            f"The store's currency setting ({CURRENCY_SETTING}) is {value!r}, not a three-letter ISO 4217 code."
        )
    return currency


def shop_currency_refresh(*, shop: Shop, client: WooCommerceClient) -> str:
    """Read the store's currency and make it the shop's: the dashboard's figures, and the price of
    every product (the widget shows it), follow a change at once. Orders keep their own currency.
    Nothing is written when the read fails."""
    currency = store_currency_read(client)
    if currency == shop.currency:
        return currency
    with transaction.atomic():
        shop_create(platform=shop.platform, domain=shop.domain, currency=currency)
        with shop_scope(shop):
            changed = list(Product.objects.exclude(currency=currency).values_list("pk", flat=True))
            Product.objects.filter(pk__in=changed).update(currency=currency)
        from recommendations.storefront.cache import storefront_invalidate
        from recommendations.storefront.service import storefront_products_changed

        shop_id, domain = shop.pk, shop.domain
        transaction.on_commit(lambda: storefront_invalidate(domain=domain))
        # Every product's card names the currency: each is announced changed (a rare event).
        transaction.on_commit(lambda: storefront_products_changed(shop_id=shop_id, domain=domain, pks=changed))
    shop.currency = currency
    return currency


# --- webhooks ------------------------------------------------------------------------------------


def woocommerce_webhooks_ensure(*, shop: Shop) -> dict[str, str]:
    """Every topic Basketry needs has an active webhook to this shop's delivery URL with its
    secret. Missing ones are created; ones WooCommerce disabled after failed deliveries (or that
    were paused) are switched back on. Returns {topic: "created"|"reactivated"|"ok"}."""
    url = webhook_delivery_url(shop)
    secret = shop.credentials["webhook_secret"]
    outcome: dict[str, str] = {}
    with client_for(shop) as client:
        existing: dict[str, dict] = {}
        for _, _, hooks in client.pages("webhooks"):
            for hook in hooks:
                if hook.get("delivery_url") == url and hook.get("topic") in WEBHOOK_TOPICS:
                    existing.setdefault(hook["topic"], hook)
        for topic in WEBHOOK_TOPICS:
            hook = existing.get(topic)
            if hook is None:
                client.request(
                    "POST",
                    "webhooks",
                    json={"name": f"Basketry {topic}", "topic": topic, "delivery_url": url, "secret": secret},
                )
                outcome[topic] = "created"
            elif hook.get("status") != "active":
                client.request("PUT", f"webhooks/{hook['id']}", json={"status": "active"})
                outcome[topic] = "reactivated"
            else:
                outcome[topic] = "ok"
    return outcome
