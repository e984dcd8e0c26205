"""Whether FastAPI's own OpenTelemetry runs: only where the process has set it up."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def fastapi_telemetry(environ: Mapping[str, str]) -> TelemetryConfig | None:
    """FastAPI's defaults (None) when an OpenTelemetry SDK is set up (a tracer provider
    installed, as `opentelemetry-instrument` does, or FastAPI asked to set one up); else
    off. Left on, it looks up the global providers on every request for nothing, and an
    alert storm is many requests; warroom's own metrics and logs do not depend on it."""
    if environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").strip().lower() == "true":
        return None
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    return OFF
