"""Prometheus Alertmanager webhook (version 4) payloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.alerts.fields import GoTimestamp, TextMap, label_fingerprint, sender_group_key
from bot.alerts.severity import severity_from_labels
from bot.alerts.titles import name_first
from bot.incidents.alerts import NormalizedAlert

SOURCE = "alertmanager"


class _Model(BaseModel):
    # Alertmanager adds fields over time; an unknown one must not reject the webhook.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class AlertmanagerAlert(_Model):
    """One alert of an Alertmanager notification."""

    status: Literal["firing", "resolved"]
    labels: TextMap
    annotations: TextMap = Field(default_factory=dict)
    starts_at: GoTimestamp = Field(default=None, alias="startsAt")
    ends_at: GoTimestamp = Field(default=None, alias="endsAt")
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = None


class AlertmanagerWebhook(_Model):
    """The body Alertmanager POSTs to a webhook receiver."""

    version: str = "4"
    group_key: str | None = Field(default=None, alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"] = "firing"
    receiver: str = ""
    group_labels: TextMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: TextMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: TextMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str | None = Field(default=None, alias="externalURL")
    alerts: list[AlertmanagerAlert]


def alert_title(labels: dict[str, str], annotations: dict[str, str], fallback: str) -> str:
    """Return the alertname label, then the summary annotation when it adds something
    ("High memory usage: This alert was triggered for zone us-1"), else `fallback`."""
    return name_first(labels.get("alertname"), annotations.get("summary")) or fallback


def to_alerts(webhook: AlertmanagerWebhook) -> list[NormalizedAlert]:
    """Turn a validated notification into one normalized alert per alert."""
    alerts = []
    for alert in webhook.alerts:
        labels = {**webhook.common_labels, **alert.labels}
        annotations = {**webhook.common_annotations, **alert.annotations}
        fingerprint = alert.fingerprint or label_fingerprint(labels)
        alerts.append(
            NormalizedAlert(
                source=SOURCE,
                fingerprint=fingerprint,
                title=alert_title(labels, annotations, f"Alert {fingerprint}"),
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


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded Alertmanager body and normalize it (raises ValidationError)."""
    return to_alerts(AlertmanagerWebhook.model_validate(payload))


def normalize_json(body: bytes) -> list[NormalizedAlert]:
    """Validate the raw JSON body and normalize it (raises ValidationError, bad JSON too)."""
    # pydantic's own JSON parser: no Python dicts and lists built first just to be read.
    return to_alerts(AlertmanagerWebhook.model_validate_json(body))
