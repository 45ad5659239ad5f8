"""/health reports the release the process runs: RAGSTACK_RELEASE, read with the other
settings when the app is created, or null when unset or empty."""

from __future__ import annotations

import pytest

RELEASE = "r-3f9a2c1d7e4b"


def test_health_reports_the_release(make_client, monkeypatch):
    monkeypatch.setenv("RAGSTACK_RELEASE", RELEASE)
    resp = make_client(ready=False).get("/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "release": RELEASE}


def test_release_is_read_when_the_app_is_created(make_client, monkeypatch):
    monkeypatch.setenv("RAGSTACK_RELEASE", RELEASE)
    client = make_client(ready=False)
    monkeypatch.setenv("RAGSTACK_RELEASE", "r-000000000000")
    assert client.get("/health").json()["release"] == RELEASE


def test_release_surrounding_whitespace_is_dropped(make_client, monkeypatch):
    monkeypatch.setenv("RAGSTACK_RELEASE", f"  {RELEASE}\n")
    assert make_client(ready=False).get("/health").json()["release"] == RELEASE


def test_health_release_is_null_when_unset(make_client, monkeypatch):
    monkeypatch.delenv("RAGSTACK_RELEASE", raising=False)
    resp = make_client(ready=False).get("/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "release": None}


@pytest.mark.parametrize("value", ["", "   "])
def test_health_release_is_null_when_empty(make_client, monkeypatch, value):
    # Compose passes `${RAGSTACK_RELEASE:-}`: an unset release arrives as an empty string.
    monkeypatch.setenv("RAGSTACK_RELEASE", value)
    assert make_client(ready=False).get("/health").json() == {"status": "ok", "release": None}
