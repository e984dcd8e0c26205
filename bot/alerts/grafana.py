"""Grafana unified alerting webhook contact point payloads, and their HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.alerts.alertmanager import alert_title
from bot.alerts.errors import AlertPayloadError
from bot.alerts.fields import GoTimestamp, TextMap, label_fingerprint, sender_group_key
from bot.alerts.severity import severity_from_labels
from bot.incidents.alerts import NormalizedAlert

SOURCE = "grafana"

SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana has no default timestamp header: it is whatever the contact point names.
# This is the name we tell users to configure.
TIMESTAMP_HEADER = "X-Grafana-Alerting-Signature-Timestamp"

# Links Grafana sends per alert that NormalizedAlert has no field for; they travel as
# annotations under keys Grafana itself cannot produce (annotation names have no dots).
_LINK_ANNOTATIONS = {
    "dashboard_url": "grafana.dashboard_url",
    "panel_url": "grafana.panel_url",
    "silence_url": "grafana.silence_url",
    "value_string": "grafana.values",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class GrafanaAlert(_Model):
    """One alert instance of a Grafana notification."""

    status: Literal["firing", "resolved"]
    labels: TextMap
    annotations: TextMap = Field(default_factory=dict)
    starts_at: GoTimestamp = Field(default=None, alias="startsAt")
    ends_at: GoTimestamp = Field(default=None, alias="endsAt")
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = None
    silence_url: str | None = Field(default=None, alias="silenceURL")
    dashboard_url: str | None = Field(default=None, alias="dashboardURL")
    panel_url: str | None = Field(default=None, alias="panelURL")
    image_url: str | None = Field(default=None, alias="imageURL")
    values: dict[str, Any] | None = None
    value_string: str | None = Field(default=None, alias="valueString")


class GrafanaWebhook(_Model):
    """The body a Grafana webhook contact point POSTs (payload version "1")."""

    version: str = "1"
    org_id: int | None = Field(default=None, alias="orgId")
    receiver: str = ""
    status: Literal["firing", "resolved"] = "firing"
    state: str | None = None  # "alerting" | "ok" | ...
    title: str | None = None
    message: str | None = None
    group_key: str | None = Field(default=None, alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    group_labels: TextMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: TextMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: TextMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str | None = Field(default=None, alias="externalURL")
    alerts: list[GrafanaAlert]


def to_alerts(webhook: GrafanaWebhook) -> list[NormalizedAlert]:
    """Turn a validated notification into one normalized alert per alert instance."""
    alerts = []
    for alert in webhook.alerts:
        labels = {**webhook.common_labels, **alert.labels}
        annotations = {**webhook.common_annotations, **alert.annotations}
        for attr, key in _LINK_ANNOTATIONS.items():
            value = getattr(alert, attr)
            if value:
                annotations.setdefault(key, value)
        fingerprint = alert.fingerprint or label_fingerprint(labels)
        alerts.append(
            NormalizedAlert(
                source=SOURCE,
                fingerprint=fingerprint,
                title=alert_title(labels, annotations, webhook.title or f"Alert {fingerprint}"),
                # Grafana puts the rule's title in the alertname label.
                name=labels.get("alertname", "").strip(),
                status=alert.status,
                labels=labels,
                annotations=annotations,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                group_key=sender_group_key(webhook.external_url, webhook.group_key),
                former_group_key=webhook.group_key,
                severity=severity_from_labels(labels),
                url=alert.generator_url or None,
            )
        )
    return alerts


# Keys only the legacy (pre-unified-alerting, Grafana 8 and older) webhook notifier sends.
_LEGACY_KEYS = ("evalMatches", "ruleName", "ruleId", "ruleUrl")

LEGACY_REFUSED = (
    "this is Grafana's legacy alerting webhook (evalMatches, ruleName, state), which warroom "
    "does not read: send from a Grafana unified alerting webhook contact point instead "
    "(see the README, Send alerts > Grafana)"
)


def is_legacy(payload: Any) -> bool:
    """Tell a legacy alerting notification: legacy keys and no `alerts` list."""
    return (
        isinstance(payload, dict)
        and "alerts" not in payload
        and any(key in payload for key in _LEGACY_KEYS)
    )


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded Grafana body and normalize it (raises ValidationError).

    Raises:
        AlertPayloadError: (422) a legacy alerting body, naming the supported format.
    """
    if is_legacy(payload):
        raise AlertPayloadError(422, LEGACY_REFUSED)
    return to_alerts(GrafanaWebhook.model_validate(payload))


def verify_grafana_signature(
    secret: str,
    body: bytes,
    header: str | None,
    timestamp: str | None,
    *,
    now: float | None = None,
    max_age: float = 300.0,
) -> bool:
    """Check Grafana's `X-Grafana-Alerting-Signature` over the raw body.

    Grafana sends hex(HMAC-SHA256(secret, body)); when the contact point names a
    timestamp header, the signed message is `timestamp + ":" + body` instead and the
    header carries the Unix time in seconds.

    Args:
        timestamp: the timestamp header's value, or None when none is configured.
        now: current Unix time; when given, a timestamp is required and must lie within
            `max_age` seconds of it, so a captured request cannot be replayed later.
    """
    if not secret or not header:
        return False
    message = body
    if timestamp is not None:
        timestamp = timestamp.strip()
        message = timestamp.encode("utf-8", "replace") + b":" + body
    if now is not None:
        try:
            sent = int(timestamp) if timestamp is not None else None
        except ValueError:
            return False
        if sent is None or abs(now - sent) > max_age:
            return False
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    # Compare bytes: compare_digest refuses non-ASCII str, and headers are untrusted.
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace"))
