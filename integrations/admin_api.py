"""The merchant's admin API: what the embedded dashboard reads. Every view is scoped to the shop
the request authenticated as; another shop's object answers exactly like a missing one."""

from __future__ import annotations

from django.http import Http404
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.models import PrivacyRequest
from integrations.shopify.authentication import ShopifyIdTokenAuthentication
from shops.tenancy import shop_scope

ADMIN_AUTHENTICATION = [ShopifyIdTokenAuthentication]


def _summary(request: PrivacyRequest) -> dict:
    return {
        "id": request.pk,
        "kind": request.kind,
        "platform_request_id": request.platform_request_id,
        "received_at": request.received_at.isoformat(),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
    }


@api_view(["GET"])
@authentication_classes(ADMIN_AUTHENTICATION)
@permission_classes([IsAuthenticated])
def privacy_requests(request: Request) -> Response:
    """GET /api/admin/v1/privacy-requests: the log of the platform's privacy requests."""
    with shop_scope(request.user.shop):
        rows = [_summary(row) for row in PrivacyRequest.objects.order_by("-received_at")[:500]]
    return Response({"privacy_requests": rows})


@api_view(["GET"])
@authentication_classes(ADMIN_AUTHENTICATION)
@permission_classes([IsAuthenticated])
def privacy_request_detail(request: Request, request_id: int) -> Response:
    """GET /api/admin/v1/privacy-requests/ID: one request with its export, for the merchant to
    hand to the customer (a data request) or keep as proof (a redaction)."""
    with shop_scope(request.user.shop):
        row = PrivacyRequest.objects.filter(pk=request_id).first()
    if row is None:
        raise Http404("No such privacy request.")
    return Response({**_summary(row), "export": row.export})
