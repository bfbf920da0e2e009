"""/livez and /readyz as DESIGN.md fixes them."""

from __future__ import annotations

import pytest
from django.db import connection


def test_livez_touches_neither_database_nor_cache(client, monkeypatch):
    # No django_db mark: pytest-django makes any database access in this test an error.
    from django.core.cache import cache

    def refuse(*args, **kwargs):
        raise AssertionError("livez must not touch the cache")

    monkeypatch.setattr(cache, "get", refuse)
    monkeypatch.setattr(cache, "set", refuse)
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_down(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "down", "cache": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_redis_does_not_answer(client, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    unreachable = RedisCache("redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})
    monkeypatch.setattr("config.health.cache", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "down"}


def test_livez_and_readyz_refuse_post(client):
    assert client.post("/livez").status_code == 405
