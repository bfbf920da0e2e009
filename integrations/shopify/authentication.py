"""DRF authentication for the embedded admin: the App Bridge ID token names the shop."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from integrations.principals import ShopPrincipal
from integrations.shopify.auth import app_home_request_verify
from shops.models import Shop


class InvalidSession(exceptions.AuthenticationFailed):
    """401 that App Bridge answers by fetching a fresh ID token and retrying."""


class ShopifyIdTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        verification = app_home_request_verify(
            method=request.method, url=request.build_absolute_uri(), headers={"Authorization": header}
        )
        if verification.id_token is None:
            raise InvalidSession(f"invalid session: {verification.reason}")
        shop = Shop.objects.filter(
            platform=Shop.Platform.SHOPIFY, domain=verification.id_token.domain, status=Shop.Status.INSTALLED
        ).first()
        if shop is None:
            raise InvalidSession("the app is not installed on this shop")
        return ShopPrincipal(shop=shop, user_id=verification.id_token.user_id), verification.id_token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="shopify"'
