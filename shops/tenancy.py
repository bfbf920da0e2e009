"""Tenancy: every shop-owned row is reachable only inside the scope of its shop.

`ShopOwnedModel.objects` fails closed: without an active `shop_scope(...)` it raises
`ShopScopeError` instead of returning every shop's rows. The scope is entered only at entry points
(management commands, tasks, verified webhooks and requests), from a shop they have verified.
`ShopOwnedModel.all_shops` is the unscoped manager for the Django admin and migrations; it is also
the default manager so that Django's own machinery (admin, related lookups from an already-loaded
parent, unique checks) keeps working.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

from shops.errors import ShopScopeError

if TYPE_CHECKING:
    from shops.models import Shop

_current_shop_id: ContextVar[int | None] = ContextVar("basketry_current_shop_id", default=None)


def current_shop_id() -> int:
    """The id of the shop in scope; raises when there is none."""
    shop_id = _current_shop_id.get()
    if shop_id is None:
        raise ShopScopeError("This query needs a shop scope: wrap it in `shop_scope(shop)` at the entry point.")
    return shop_id


@contextlib.contextmanager
def shop_scope(shop: Shop | int) -> Iterator[int]:
    """Scope the shop-owned managers to one shop for the duration of the block.

    Nesting the same shop is allowed; entering another shop's scope inside one raises, since that
    is how one shop's data would leak into another's work.
    """
    shop_id = shop if isinstance(shop, int) else shop.pk
    if shop_id is None:
        raise ShopScopeError("Cannot scope to a shop that has not been saved.")
    active = _current_shop_id.get()
    if active is not None and active != shop_id:
        raise ShopScopeError(f"Already scoped to shop {active}; refusing to enter the scope of shop {shop_id}.")
    token = _current_shop_id.set(shop_id)
    try:
        yield shop_id
    finally:
        _current_shop_id.reset(token)


class ShopScopedQuerySet(models.QuerySet):
    """Writes through the scoped manager can only target the shop in scope.

    `get_or_create` and `update_or_create` need no override: their lookup is already filtered to the
    scope and their insert goes through `create`.
    """

    def _claim(self, obj: models.Model, shop_id: int) -> None:
        if obj.shop_id is None:
            obj.shop_id = shop_id
        elif obj.shop_id != shop_id:
            raise ShopScopeError(
                f"Refusing to write a {type(obj).__name__} of shop {obj.shop_id} inside the scope of shop {shop_id}."
            )

    def create(self, **kwargs: Any) -> models.Model:
        shop_id = current_shop_id()
        obj = self.model(**kwargs)
        self._claim(obj, shop_id)
        obj.save(force_insert=True, using=self.db)
        return obj

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[models.Model]:
        shop_id = current_shop_id()
        objs = list(objs)
        for obj in objs:
            self._claim(obj, shop_id)
        return super().bulk_create(objs, *args, **kwargs)


class ShopScopedManager(models.Manager.from_queryset(ShopScopedQuerySet)):
    """Fail-closed manager: every queryset is filtered to the shop in scope, or raises."""

    def get_queryset(self) -> ShopScopedQuerySet:
        return super().get_queryset().filter(shop_id=current_shop_id())


class ShopOwnedModel(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")

    all_shops = models.Manager()
    objects = ShopScopedManager()

    class Meta:
        abstract = True
        default_manager_name = "all_shops"


@contextlib.contextmanager
def shop_scope_by_id(shop_id: int) -> Iterator[Shop | None]:
    """Entry point for tasks, which receive a shop id: load the shop and scope to it.

    Yields None when the shop no longer exists (deleted after the task was queued), so that the
    task can end quietly: running it again later must be harmless.
    """
    from shops.models import Shop

    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        yield None
        return
    with shop_scope(shop):
        yield shop
