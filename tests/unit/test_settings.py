""".env.example lists every setting, with its default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from server.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def example_settings() -> dict[str, str]:
    settings = {}
    for line in EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


def test_every_setting_is_listed() -> None:
    assert set(example_settings()) == {name.upper() for name in Settings.model_fields}


def test_listed_values_are_the_defaults() -> None:
    assert Settings(_env_file=str(EXAMPLE)) == Settings(_env_file=None)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLD_TTL_SECONDS", "30")
    monkeypatch.setenv("DATABASE_URL", "file:./dev.db")
    settings = Settings(_env_file=None)
    assert (settings.hold_ttl_seconds, settings.database_url) == (30, "file:./dev.db")


@pytest.mark.parametrize(("listed", "demo_data"), [("", None), ("true", True), ("false", False)])
def test_demo_data_left_empty_is_derived_from_the_database(
    monkeypatch: pytest.MonkeyPatch, listed: str, demo_data: bool | None
) -> None:
    monkeypatch.setenv("DEMO_DATA", listed)
    assert Settings(_env_file=None).database.demo_data is demo_data


def test_webhooks_need_a_secret_to_sign_with() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        Settings(_env_file=None, webhook_url="http://shop.example/hooks")
    settings = Settings(_env_file=None, webhook_url=" http://a.example/h, http://b.example/h,", webhook_secret="s")
    assert settings.webhooks.urls == ("http://a.example/h", "http://b.example/h")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"webhook_url": "shop.example/hooks"}, "http:// or https://"),
        ({"webhook_url": "http://a.example/h,ftp://b.example/h"}, "'ftp://b.example/h'"),
        ({"webhook_lease_seconds": 2, "webhook_poll_interval_seconds": 1}, "WEBHOOK_LEASE_SECONDS"),
    ],
)
def test_webhook_settings_that_cannot_work_stop_the_start(overrides: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Settings(_env_file=None, **{"webhook_url": "http://a.example/h", "webhook_secret": "s"} | overrides)


def test_a_hold_cap_shorter_than_one_hold_is_refused_by_name() -> None:
    assert Settings(_env_file=None, hold_ttl_seconds=60, max_hold_seconds=60).seats.max_hold_seconds == 60
    with pytest.raises(ValidationError, match=r"MAX_HOLD_SECONDS \(59\) must be at least HOLD_TTL_SECONDS \(60\)"):
        Settings(_env_file=None, hold_ttl_seconds=60, max_hold_seconds=59)
