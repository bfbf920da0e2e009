"""A server error leaves a log line with its traceback, whatever DEBUG says."""

from __future__ import annotations

import io
import logging

import pytest


@pytest.mark.django_db
def test_a_500_is_logged_with_its_traceback(client, settings, monkeypatch):
    settings.DEBUG = False
    settings.SHOPIFY_API_SECRET = "a-secret-of-thirty-two-bytes-or-more"

    def broken(request, body):
        raise RuntimeError("boom in the verifier")

    monkeypatch.setattr("integrations.shopify.webhooks._verified", broken)
    [handler] = [h for h in logging.getLogger("django.request").handlers if type(h) is logging.StreamHandler]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    client.raise_request_exception = False
    try:
        response = client.post(
            "/webhooks/shopify", data=b"{}", content_type="application/json", headers={"X-Shopify-Hmac-Sha256": "x"}
        )
    finally:
        handler.setStream(previous)

    assert response.status_code == 500
    logged = stream.getvalue()
    assert "Internal Server Error: /webhooks/shopify" in logged
    assert "RuntimeError: boom in the verifier" in logged
