"""warroom's own alert JSON, for senders that are not Alertmanager, Grafana or PagerDuty.

The body is one alert object, or `{"alerts": [<alert>, ...]}`. An alert object:

- `title` (string, required, not blank)
- `severity`: sev1..sev4, or a word such as critical, error, warning, info, P1..P4;
  default: from the `severity` or `priority` label, else none (the playbook's default);
  it wins over the playbook's `severity`, not over its `severity_override`
- `labels`, `annotations`: objects of strings; default `{}`
- `fingerprint`: identity of the alert; default: a stable hash of title and sorted labels
- `starts_at`, `ends_at`: ISO 8601 times with a UTC offset; default unset
- `status`: `firing` (default) or `resolved`
- `group`: alerts with the same group share an incident; default: the playbook's
  `group_by` labels
- `url`: a link back to whatever raised the alert

Label and annotation values that are numbers or booleans become their JSON text. Unknown
fields are rejected, so a typo such as `severty` is a 422 instead of a silently ignored
field. The same fingerprint means the same alert: send it again with
`"status": "resolved"` to resolve it. GENERIC.md beside this file is the user-facing copy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.alerts.fields import TextMap, Timestamp, label_fingerprint
from bot.alerts.severity import normalize_severity, severity_from_labels
from bot.incidents.alerts import NormalizedAlert

SOURCE = "generic"


class GenericAlert(BaseModel):
    """One alert in warroom's generic format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    severity: str | None = None
    labels: TextMap = Field(default_factory=dict)
    annotations: TextMap = Field(default_factory=dict)
    fingerprint: str | None = Field(default=None, min_length=1)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    status: Literal["firing", "resolved"] = "firing"
    group: str | None = Field(default=None, min_length=1)
    url: str | None = None

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str | None) -> str | None:
        if value is None:
            return None
        severity = normalize_severity(value)
        if severity is None:
            raise ValueError(
                f"unknown severity {value!r}: use sev1..sev4 or critical, error, warning, info"
            )
        return severity

    @model_validator(mode="after")
    def _ends_after_start(self) -> GenericAlert:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        return self


class GenericBatch(BaseModel):
    """Several generic alerts in one body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts: list[GenericAlert]


def to_alert(alert: GenericAlert) -> NormalizedAlert:
    """Turn a validated generic alert into a normalized alert."""
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=alert.fingerprint or label_fingerprint(alert.labels, alert.title),
        title=alert.title,
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        group_key=alert.group,
        severity=alert.severity or severity_from_labels(alert.labels),
        url=alert.url or None,
    )


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded generic body (one alert or {"alerts": [...]}) and normalize it."""
    if isinstance(payload, dict) and "alerts" in payload:
        return [to_alert(alert) for alert in GenericBatch.model_validate(payload).alerts]
    return [to_alert(GenericAlert.model_validate(payload))]
