"""Opsgenie's outgoing Webhook integration: alert action data.

`Create` fires an alert and `Close` resolves it, both keyed by Opsgenie's `alertId`;
every other action (Acknowledge, AddNote, Delete...) is acknowledged and gives no alert,
since warroom keeps its own acknowledgement and notes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.alerts.fields import TextMap, Timestamp, to_text
from bot.alerts.severity import normalize_severity, severity_from_labels
from bot.incidents.alerts import NormalizedAlert

SOURCE = "opsgenie"

FIRING_ACTIONS = frozenset({"Create"})
RESOLVING_ACTIONS = frozenset({"Close"})


# Opsgenie sends createdAt in milliseconds and updatedAt in nanoseconds: the size says which.
_UNITS_PER_SECOND = ((10**17, 10**9), (10**14, 10**6), (10**11, 10**3))


def _epoch(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return value  # an ISO 8601 text is parsed by Timestamp; anything else is refused there
    per_second = next((unit for bound, unit in _UNITS_PER_SECOND if abs(value) >= bound), 1)
    seconds, rest = divmod(value, per_second)
    try:
        return datetime.fromtimestamp(seconds, UTC) + timedelta(
            microseconds=rest * 1_000_000 // per_second
        )
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"epoch time out of range: {value}") from None


Epoch = Annotated[Timestamp | None, BeforeValidator(_epoch)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class OpsgenieAlert(_Model):
    """The `alert` object of the action data."""

    alert_id: str = Field(alias="alertId", min_length=1)
    message: str = Field(min_length=1)
    alias: str | None = None
    tiny_id: str | None = Field(default=None, alias="tinyId")
    entity: str | None = None
    source: str | None = None
    priority: str | None = None
    tags: list[Any] = Field(default_factory=list)
    description: str | None = None
    details: TextMap = Field(default_factory=dict)
    created_at: Epoch = Field(default=None, alias="createdAt")
    updated_at: Epoch = Field(default=None, alias="updatedAt")
    username: str | None = None


class OpsgenieWebhook(_Model):
    """The body the Webhook integration POSTs for an alert action."""

    action: str = Field(min_length=1)
    alert: OpsgenieAlert
    integration_name: str | None = Field(default=None, alias="integrationName")


def tag_labels(tags: list[Any]) -> dict[str, str]:
    """`["service:api", "prod"]` -> `{"service": "api", "prod": ""}`."""
    labels: dict[str, str] = {}
    for tag in tags:
        key, _, value = to_text(tag).partition(":")
        if key.strip():
            labels[key.strip()] = value.strip()
    return labels


def to_alert(webhook: OpsgenieWebhook) -> NormalizedAlert:
    """Turn a Create or Close action into the alert it fires or resolves."""
    alert = webhook.alert
    labels = {**tag_labels(alert.tags), **alert.details}
    if alert.entity:
        labels.setdefault("entity", alert.entity)
    annotations = {"opsgenie_action": webhook.action, "opsgenie_alert_id": alert.alert_id}
    for key, value in (
        ("description", alert.description),
        ("opsgenie_alias", alert.alias),
        ("opsgenie_tiny_id", alert.tiny_id),
        ("opsgenie_source", alert.source),
        ("opsgenie_user", alert.username),
    ):
        if value:
            annotations[key] = value
    resolved = webhook.action in RESOLVING_ACTIONS
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=alert.alert_id,
        title=alert.message.strip() or alert.message,
        status="resolved" if resolved else "firing",
        labels=labels,
        annotations=annotations,
        starts_at=alert.created_at,
        ends_at=(alert.updated_at or alert.created_at) if resolved else None,
        group_key=alert.alert_id,
        severity=normalize_severity(alert.priority) or severity_from_labels(labels),
        url=None,
    )


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded Opsgenie body; Create and Close give one alert, others none."""
    webhook = OpsgenieWebhook.model_validate(payload)
    if webhook.action not in FIRING_ACTIONS | RESOLVING_ACTIONS:
        return []
    return [to_alert(webhook)]
