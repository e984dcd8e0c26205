"""WARROOM_POSTMORTEM_DIR and WARROOM_ARCHIVE_AFTER: read as documented, refused when wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.composition.config import Settings


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_write_no_file_and_archive_after_a_week() -> None:
    default = settings()
    assert default.postmortem_dir is None
    assert default.archive_delay == timedelta(days=7)


@pytest.mark.parametrize(
    ("value", "delay"),
    [("off", None), ("OFF", None), ("12h", timedelta(hours=12)), ("1d12h", timedelta(hours=36))],
)
def test_archive_after_takes_a_duration_or_off(value: str, delay: timedelta | None) -> None:
    assert settings(WARROOM_ARCHIVE_AFTER=value).archive_delay == delay


@pytest.mark.parametrize("value", ["never", "7", "0d", "-1d"])
def test_a_bad_archive_after_is_refused_naming_the_forms(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(WARROOM_ARCHIVE_AFTER=value)
    assert "WARROOM_ARCHIVE_AFTER" in str(raised.value) or "archive_after" in str(raised.value)
    assert "30s, 15m, 2h, 3d" in str(raised.value) or "longer than zero" in str(raised.value)
