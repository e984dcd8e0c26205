"""Alert sources: turn each webhook body into normalized alerts.

`parse(source, body)` is the one entry point the HTTP route needs; the per-source
modules hold the payload models and, for Grafana and PagerDuty, signature checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from bot.alerts import alertmanager, generic, grafana, pagerduty
from bot.alerts.errors import AlertPayloadError, UnknownSource, describe_validation_error
from bot.alerts.grafana import verify_grafana_signature
from bot.alerts.pagerduty import verify_pagerduty_signature
from bot.alerts.severity import severity_from_labels
from bot.incidents.alerts import NormalizedAlert

__all__ = [
    "SOURCES",
    "AlertPayloadError",
    "UnknownSource",
    "decode_json",
    "parse",
    "severity_from_labels",
    "verify_grafana_signature",
    "verify_pagerduty_signature",
]

Normalizer = Callable[[Any], list[NormalizedAlert]]

SOURCES: Mapping[str, Normalizer] = MappingProxyType(
    {
        alertmanager.SOURCE: alertmanager.normalize,
        grafana.SOURCE: grafana.normalize,
        pagerduty.SOURCE: pagerduty.normalize,
        generic.SOURCE: generic.normalize,
    }
)
"""Source name (the `{source}` of `/alerts/{source}`) -> normalizer of the decoded body."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes) -> Any:
    """Decode a UTF-8 JSON body, or raise AlertPayloadError(400) saying where it breaks."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AlertPayloadError(
            400, f"body is not UTF-8: invalid byte at offset {exc.start}"
        ) from None
    try:
        # NaN and Infinity are Python's extension, not JSON: refuse them like any parser.
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise AlertPayloadError(
            400, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise AlertPayloadError(400, f"body is not JSON: {exc}") from None
    except RecursionError:
        raise AlertPayloadError(400, "body is not JSON we accept: nested too deeply") from None


def parse(source: str, body: bytes) -> list[NormalizedAlert]:
    """Turn the raw webhook body of `source` into normalized alerts.

    Raises:
        UnknownSource: (404) `source` is not in SOURCES.
        AlertPayloadError: 400 if the body is not JSON, 422 if it does not fit the
            source's payload (details: one "field.path: problem" per mistake).
    """
    normalize = SOURCES.get(source)
    if normalize is None:
        raise UnknownSource(source, sorted(SOURCES))
    payload = decode_json(body)
    try:
        return normalize(payload)
    except ValidationError as exc:
        raise AlertPayloadError(
            422,
            f"body does not fit the {source} payload",
            describe_validation_error(exc),
        ) from None
