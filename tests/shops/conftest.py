"""Fixtures of the dashboard page tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """A form POST whose on-commit work (storefront invalidation) runs, as after a real commit."""

    def send(url: str, data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return send
