"""Datadog webhook integration payloads: the default payload and our documented one.

Datadog's webhook body is a template the user writes with `$VARIABLES`; every value
arrives as text. Two shapes are understood:

- the integration's default payload (`body`, `last_updated`, `event_type`, `title`,
  `date`, `org`, `id`): the transition and priority are read from the event title's
  brackets ("[P1] [Triggered on {host:web-1}] Disk full");
- the payload the README documents, which adds `alert_transition`, `aggreg_key`,
  `alert_id`, `alert_priority`, `alert_type`, `link`, `tags` and a few more.

Unknown keys are ignored: users add their own fields to the template.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.alerts.fields import Timestamp, label_fingerprint, parse_timestamp
from bot.alerts.severity import normalize_severity, severity_from_labels
from bot.incidents.alerts import AlertStatus, NormalizedAlert

SOURCE = "datadog"

# $ALERT_TRANSITION values (docs.datadoghq.com/integrations/webhooks): only a recovery
# resolves; Triggered, Warn, No Data, their Re- forms and Renotify all say "still wrong".
RESOLVING = frozenset({"recovered"})
TRANSITIONS = (
    "re-triggered",
    "triggered",
    "recovered",
    "re-warn",
    "warn",
    "re-no data",
    "no data",
    "renotify",
)
# A variable Datadog had no value for can reach us verbatim ("$ALERT_PRIORITY").
_UNFILLED = re.compile(r"\$[A-Z][A-Z0-9_]*(\[[^\]]*\])?")
_BRACKET = re.compile(r"\s*\[([^\]]*)\]")
_PRIORITY = re.compile(r"p[1-5]", re.IGNORECASE)


def _filled(value: Any) -> Any:
    """None for a blank value or a template variable left unfilled; text otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or _UNFILLED.fullmatch(text):
            return None
        return text
    return value  # pydantic reports the wrong type


def _epoch_or_iso(value: Any) -> Any:
    # $DATE is epoch milliseconds ("1406662672000"); an ISO 8601 time is taken too.
    value = _filled(value)
    if isinstance(value, str):
        if value.isdigit():
            try:
                return datetime.fromtimestamp(int(value) / 1000, UTC)
            except (OverflowError, ValueError, OSError):
                raise ValueError(f"epoch milliseconds out of range: {value}") from None
        return parse_timestamp(value)
    return value


Text = Annotated[str | None, BeforeValidator(_filled)]
EventTime = Annotated[Timestamp | None, BeforeValidator(_epoch_or_iso)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Org(_Model):
    """`org` of the default payload."""

    id: Text = None
    name: Text = None


class DatadogWebhook(_Model):
    """A Datadog webhook body: the default payload plus the variables the README adds."""

    title: str = Field(min_length=1)  # $EVENT_TITLE
    body: Text = None  # $EVENT_MSG
    text_only_msg: Text = None  # $TEXT_ONLY_MSG
    event_type: Text = None  # $EVENT_TYPE
    date: EventTime = None  # $DATE
    last_updated: Text = None  # $LAST_UPDATED
    org: Org | None = None
    id: Text = None  # $ID: the event, new on every notification
    aggreg_key: Text = None  # $AGGREG_KEY: the monitor and its group
    alert_id: Text = None  # $ALERT_ID: the monitor
    alert_cycle_key: Text = None  # $ALERT_CYCLE_KEY
    alert_transition: Text = None  # $ALERT_TRANSITION
    alert_priority: Text = None  # $ALERT_PRIORITY: P1..P5
    alert_type: Text = None  # $ALERT_TYPE: error, warning, success, info
    alert_title: Text = None  # $ALERT_TITLE
    alert_status: Text = None  # $ALERT_STATUS
    alert_metric: Text = None  # $ALERT_METRIC
    alert_query: Text = None  # $ALERT_QUERY
    alert_scope: Text = None  # $ALERT_SCOPE: "availability-zone:us-east-1a, role:web"
    hostname: Text = None  # $HOSTNAME
    link: Text = None  # $LINK
    tags: Text = None  # $TAGS: "monitor, name:myService, role:computing-node"

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip() or _UNFILLED.fullmatch(value.strip()):
            raise ValueError("title must not be blank")
        return value.strip()


def parse_tags(text: str | None) -> dict[str, str]:
    """Turn Datadog's "key:value, bare, k:v" tag list into labels (a bare tag maps to "")."""
    labels: dict[str, str] = {}
    for tag in (text or "").split(","):
        tag = tag.strip()
        if not tag:
            continue
        key, _, value = tag.partition(":")
        labels[key.strip()] = value.strip()
    return labels


def split_title(title: str) -> tuple[str, str | None, str | None, str | None]:
    """Split "[P1] [Triggered on {host:a}] Disk full" into (name, transition, priority, scope).

    Brackets that are neither a transition nor a priority stay in the name.
    """
    transition = priority = scope = None
    rest = title
    kept: list[str] = []
    while match := _BRACKET.match(rest):
        inner = match.group(1).strip()
        lowered = inner.lower()
        word = next((t for t in TRANSITIONS if lowered.startswith(t)), None)
        if word is not None and transition is None:
            transition = inner[: len(word)]
            remainder = inner[len(word) :].strip()
            if remainder.lower().startswith("on "):
                scope = remainder[3:].strip() or None
        elif _PRIORITY.fullmatch(inner) and priority is None:
            priority = inner.upper()
        else:
            kept.append(f"[{inner}]")
        rest = rest[match.end() :]
    if len(kept) == 1 and not rest.strip():
        kept = [kept[0][1:-1]]  # "[Triggered] [Memory Alert]": the monitor is "Memory Alert"
    name = " ".join([*kept, rest.strip()]).strip() or title
    return name, transition, priority, scope


def status_of(transition: str | None, alert_type: str | None) -> AlertStatus:
    """Recovered (or an alert type of success) resolves; every other transition fires."""
    if transition is not None:
        return "resolved" if transition.strip().lower() in RESOLVING else "firing"
    return "resolved" if (alert_type or "").lower() == "success" else "firing"


def to_alert(webhook: DatadogWebhook) -> NormalizedAlert:
    """Turn a validated Datadog body into one normalized alert."""
    name, title_transition, title_priority, scope = split_title(
        webhook.alert_title or webhook.title
    )
    transition = webhook.alert_transition or title_transition
    labels = {**parse_tags(webhook.tags), **parse_tags(webhook.alert_scope)}
    if webhook.hostname:
        labels.setdefault("host", webhook.hostname)
    annotations: dict[str, str] = {}
    description = webhook.text_only_msg or webhook.body
    for key, value in (
        ("description", description),
        ("datadog_transition", transition),
        ("datadog_scope", scope),
        ("datadog_event_id", webhook.id),
        ("datadog_event_type", webhook.event_type),
        ("datadog_monitor_id", webhook.alert_id),
        ("datadog_alert_status", webhook.alert_status),
        ("datadog_metric", webhook.alert_metric),
        ("datadog_query", webhook.alert_query),
        ("datadog_org", webhook.org.name if webhook.org else None),
    ):
        if value:
            annotations[key] = value
    status = status_of(transition, webhook.alert_type)
    # The priority is the monitor's own statement; a severity tag is the user's; the
    # alert type (error, warning) is what kind of threshold was crossed.
    alert_type = None if (webhook.alert_type or "").lower() == "success" else webhook.alert_type
    severity = (
        normalize_severity(webhook.alert_priority or title_priority)
        or severity_from_labels(labels)
        or normalize_severity(alert_type)
    )
    # Without $AGGREG_KEY (the default payload), the monitor and the scope it fired for
    # ("on {host:web-1}") are recognised by the title, transition and priority taken out.
    fingerprint = webhook.aggreg_key or label_fingerprint(labels, f"{name} {scope or ''}")
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=fingerprint,
        title=name,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=webhook.date if status == "firing" else None,
        ends_at=webhook.date if status == "resolved" else None,
        group_key=webhook.alert_id,
        severity=severity,
        url=webhook.link,
    )


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded Datadog body and normalize it (raises ValidationError)."""
    return [to_alert(DatadogWebhook.model_validate(payload))]
