"""FastAPI's own OpenTelemetry: off unless the process has set OpenTelemetry up."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from bot.observability import telemetry
from bot.observability.telemetry import OFF, fastapi_telemetry


def test_off_where_nothing_set_opentelemetry_up() -> None:
    assert fastapi_telemetry({}) == OFF


def test_fastapis_defaults_when_it_is_asked_to_set_opentelemetry_up() -> None:
    assert fastapi_telemetry({"FASTAPI_OTEL_AUTO_CONFIGURE": "True"}) is None
    assert fastapi_telemetry({"FASTAPI_OTEL_AUTO_CONFIGURE": "false"}) == OFF


def test_fastapis_defaults_when_a_tracer_provider_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As `opentelemetry-instrument` leaves the process: a real provider, not the proxy.
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", trace.NoOpTracerProvider)
    assert fastapi_telemetry({}) is None
