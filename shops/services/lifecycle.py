"""A shop's end of life and its customers' privacy rights: uninstall, purge, redact, export."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from shops.models import Order, Shop
from shops.tenancy import ShopOwnedModel

# Credentials that stop being valid when the app is uninstalled; settings such as the Admin API
# base URL stay so that a reinstall finds them.
_TOKEN_KEYS = ("access_token", "expires_at", "refresh_token", "refresh_expires_at", "scope")


def shop_uninstall(*, shop: Shop, at=None) -> bool:
    """Forget the revoked tokens and stop serving at once; the data stays until the purge
    (`shop/redact`, or SHOP_PURGE_AFTER_UNINSTALL_HOURS later). Returns False if already done."""
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        if locked.status == Shop.Status.UNINSTALLED:
            return False
        locked.status = Shop.Status.UNINSTALLED
        locked.uninstalled_at = at or timezone.now()
        locked.credentials = {k: v for k, v in (locked.credentials or {}).items() if k not in _TOKEN_KEYS}
        # Shopify cancels an app's subscriptions on uninstall; a reinstall starts on Free.
        locked.plan = "free"
        locked.save(update_fields=["status", "uninstalled_at", "credentials", "plan", "updated_at"])
        from recommendations.storefront.cache import storefront_invalidate

        domain = locked.domain
        transaction.on_commit(lambda: storefront_invalidate(domain=domain))
    return True


def _shop_owned_models_in_delete_order() -> list[type[ShopOwnedModel]]:
    """Every shop-owned model, referencing models before the models they reference."""
    models = [model for model in apps.get_models() if issubclass(model, ShopOwnedModel)]
    ordered: list[type[ShopOwnedModel]] = []
    remaining = list(models)
    while remaining:
        for model in remaining:
            referenced_by_remaining = any(
                field.related_model is model
                for other in remaining
                if other is not model
                for field in other._meta.concrete_fields
                if field.is_relation
            )
            if not referenced_by_remaining:
                ordered.append(model)
                remaining.remove(model)
                break
        else:
            raise RuntimeError("shop-owned models reference each other in a cycle")
    return ordered


@transaction.atomic
def shop_purge(*, shop: Shop) -> dict[str, int]:
    """Delete every row of the shop, then the shop. Returns rows deleted per model.

    Set-based deletes per table (no per-row cascade in Python), children first.
    """
    deleted: dict[str, int] = {}
    for model in _shop_owned_models_in_delete_order():
        count, _ = model.all_shops.filter(shop_id=shop.pk).delete()
        deleted[model._meta.label] = count
    domain = shop.domain
    Shop.objects.filter(pk=shop.pk).delete()
    from recommendations.storefront.cache import storefront_invalidate

    transaction.on_commit(lambda: storefront_invalidate(domain=domain))
    return deleted


def shops_purge_due(*, older_than) -> list[int]:
    """Shops uninstalled before `older_than` whose redact request never came: purged anyway."""
    purged = []
    for shop in Shop.objects.filter(status=Shop.Status.UNINSTALLED, uninstalled_at__lt=older_than):
        shop_purge(shop=shop)
        purged.append(shop.pk)
    return purged


def customer_redact(*, shop: Shop, customer_ref: str) -> int:
    """The customer's orders stay only as anonymous baskets. Must run in the shop's scope.

    Shopper events never carry a customer, so there is nothing else to delete. Returns how many
    orders lost their customer reference.
    """
    return Order.objects.filter(customer_ref=customer_ref).update(customer_ref=None)


def customer_data_export(*, shop: Shop, customer_ref: str) -> dict:
    """What Basketry holds under the customer's pseudonym, for the merchant to hand over."""
    orders = list(
        Order.objects.filter(customer_ref=customer_ref)
        .order_by("created_at")
        .values("external_id", "created_at", "status", "currency", "total")
    )
    from shops.models import OrderLine

    lines = {}
    for order_external_id, product_external_id, title, quantity in OrderLine.objects.filter(
        order__customer_ref=customer_ref
    ).values_list("order__external_id", "product__external_id", "product__title", "quantity"):
        lines.setdefault(order_external_id, []).append(
            {"product_id": product_external_id, "title": title, "quantity": quantity}
        )
    return {
        "shop": shop.domain,
        "generated_at": timezone.now().isoformat(),
        "held": "Orders (products, quantities, dates, totals) linked to a keyed hash of the customer id. "
        "No name, email, phone, address or browsing history is stored.",
        "orders": [
            {
                "order_id": order["external_id"],
                "created_at": order["created_at"].isoformat(),
                "status": order["status"],
                "currency": order["currency"],
                "total": f"{order['total']:.2f}",
                "lines": lines.get(order["external_id"], []),
            }
            for order in orders
        ],
    }
