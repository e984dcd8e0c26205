"""Alert sources: turn each webhook body into normalized alerts.

`parse(source, body)` is the one entry point the HTTP route needs; the per-source
modules hold the payload models and, for Grafana and PagerDuty, signature checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from bot.alerts import (
    alertmanager,
    cloudwatch,
    datadog,
    generic,
    grafana,
    opsgenie,
    pagerduty,
)
from bot.alerts.errors import AlertPayloadError, UnknownSource, describe_validation_error
from bot.alerts.grafana import verify_grafana_signature
from bot.alerts.pagerduty import verify_pagerduty_signature
from bot.alerts.severity import severity_from_labels
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.paging import PagingUpdate
from bot.incidents.untrusted import bounded_key, clean_json

__all__ = [
    "SOURCES",
    "AlertPayloadError",
    "Parsed",
    "UnknownSource",
    "decode_json",
    "parse",
    "parse_notification",
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
        datadog.SOURCE: datadog.normalize,
        cloudwatch.SOURCE: cloudwatch.normalize,
        opsgenie.SOURCE: opsgenie.normalize,
        generic.SOURCE: generic.normalize,
    }
)
"""Source name (the `{source}` of `/alerts/{source}`) -> normalizer of the decoded body."""

DELIVERY_IDS: Mapping[str, Callable[[Any], str | None]] = MappingProxyType(
    {pagerduty.SOURCE: pagerduty.delivery_id, cloudwatch.SOURCE: cloudwatch.delivery_id}
)
"""Sources whose body names the event it delivers (read after the body validated)."""

UPDATES: Mapping[str, Callable[[Any], list[PagingUpdate]]] = MappingProxyType(
    {pagerduty.SOURCE: pagerduty.updates}
)
"""Paging tools whose body may update an incident rather than (or besides) alert."""

JSON_NORMALIZERS: Mapping[str, Callable[[bytes], list[NormalizedAlert]]] = MappingProxyType(
    {alertmanager.SOURCE: alertmanager.normalize_json}
)
"""Sources whose raw body can be validated without decoding it to Python first (a storm's
source): tried first, and on any error the body goes the decoder's way, which words it."""

# Only a JSON escape can put a NUL or a lone surrogate into a decoded string (raw bytes
# of either are refused by the decoder), so bodies without one skip the cleaning walk.
_ESCAPED_UNSAFE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


# What only the decoder's way handles: the escapes above, and NaN and Infinity, which
# pydantic's parser takes for numbers and `decode_json` refuses.
_DECODER_ONLY = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity")


@dataclass(frozen=True)
class Parsed:
    """A notification's alerts, the id of the event it delivers when the source signs one,
    and the updates it carries about incidents a paging tool tracks."""

    alerts: list[NormalizedAlert]
    delivery_id: str | None = None
    updates: list[PagingUpdate] = field(default_factory=list)


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
        payload = json.loads(text, parse_constant=_reject_constant)
        return clean_json(payload) if _ESCAPED_UNSAFE.search(body) else payload
    except json.JSONDecodeError as exc:
        raise AlertPayloadError(
            400, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise AlertPayloadError(400, f"body is not JSON: {exc}") from None
    except RecursionError:
        raise AlertPayloadError(400, "body is not JSON we accept: nested too deeply") from None


def parse(source: str, body: bytes) -> list[NormalizedAlert]:
    """Turn the raw webhook body of `source` into normalized alerts (see `parse_notification`)."""
    return parse_notification(source, body).alerts


def _bounded(alert: NormalizedAlert) -> NormalizedAlert:
    # Identity keys go into unique indexes: a sender's 10 KB key must not break them.
    fingerprint = bounded_key(alert.fingerprint)
    group_key = None if alert.group_key is None else bounded_key(alert.group_key)
    former = alert.former_group_key
    former = None if former is None or former == alert.group_key else bounded_key(former)
    if (fingerprint, group_key, former) == (
        alert.fingerprint,
        alert.group_key,
        alert.former_group_key,
    ):
        return alert
    return replace(alert, fingerprint=fingerprint, group_key=group_key, former_group_key=former)


def parse_notification(source: str, body: bytes) -> Parsed:
    """Turn the raw webhook body of `source` into normalized alerts, its delivery id, and
    the updates it carries (PagerDuty's acknowledgements, notes, priorities...).

    Every string is made storable (see `bot.incidents.untrusted`), and over-long
    fingerprints, group keys and delivery ids are hashed to a bounded length.

    Raises:
        UnknownSource: (404) `source` is not in SOURCES.
        AlertPayloadError: 400 if the body is not JSON, 422 if it does not fit the
            source's payload (details: one "field.path: problem" per mistake).
    """
    normalize = SOURCES.get(source)
    if normalize is None:
        raise UnknownSource(source, sorted(SOURCES))
    validate_json = JSON_NORMALIZERS.get(source)
    if validate_json is not None and not _DECODER_ONLY.search(body):
        try:
            return Parsed([_bounded(alert) for alert in validate_json(body)])
        except ValidationError:
            pass  # bad JSON or a misfit: decoded and validated again below, for the words
    payload = decode_json(body)
    read_updates = UPDATES.get(source)
    try:
        alerts = [_bounded(alert) for alert in normalize(payload)]
        updates = [
            replace(update, external_id=bounded_key(update.external_id))
            for update in (read_updates(payload) if read_updates is not None else [])
        ]
    except ValidationError as exc:
        raise AlertPayloadError(
            422,
            f"body does not fit the {source} payload",
            describe_validation_error(exc),
        ) from None
    delivered = DELIVERY_IDS.get(source)
    delivery_id = delivered(payload) if delivered is not None else None
    return Parsed(alerts, None if delivery_id is None else bounded_key(delivery_id), updates)
