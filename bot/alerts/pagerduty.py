"""PagerDuty V3 webhook payloads, and their `X-PagerDuty-Signature`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.alerts.fields import Timestamp
from bot.alerts.severity import normalize_severity
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.paging import UPDATE_KINDS, PagingUpdate, UpdateKind, paged_incident

SOURCE = "pagerduty"

SIGNATURE_HEADER = "X-PagerDuty-Signature"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Reference(_Model):
    """A PagerDuty `*_reference` object (service, priority, agent...)."""

    id: str | None = None
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None


class Incident(_Model):
    """The incident object PagerDuty sends as `event.data` for incident events."""

    id: str
    type: str = "incident"
    title: str
    status: str | None = None  # triggered | acknowledged | resolved
    urgency: str | None = None  # high | low
    priority: Reference | None = None
    service: Reference | None = None
    html_url: str | None = None
    incident_key: str | None = None
    number: int | None = None
    created_at: Timestamp | None = None
    assignees: list[Reference] | None = None
    escalation_policy: Reference | None = None


class IncidentNote(_Model):
    """The note PagerDuty sends as `event.data` of `incident.annotated`."""

    incident: Reference
    content: str = ""
    type: str = "incident_note"


class Event(_Model):
    """The `event` envelope of a V3 webhook."""

    id: str
    event_type: str
    resource_type: str | None = None
    occurred_at: Timestamp
    agent: Reference | None = None
    data: dict[str, Any] | None = None


class PagerDutyWebhook(_Model):
    """The body PagerDuty POSTs to a V3 webhook subscription."""

    event: Event


def pagerduty_severity(urgency: str | None, priority: str | None) -> str | None:
    """Return warroom's severity for an incident's urgency and priority name.

    1. priority P1 -> sev1 (the most severe class PagerDuty has, whatever the urgency);
    2. urgency high -> sev2 (it pages someone);
    3. otherwise the priority read like a severity label: P2 -> sev2, P3 -> sev3,
       P4/P5 -> sev4 (names like "SEV-2" work too);
    4. otherwise urgency low -> sev4;
    5. nothing known -> None (the playbook's severity applies).
    """
    from_priority = normalize_severity(priority)
    if from_priority == "sev1":
        return "sev1"
    if (urgency or "").lower() == "high":
        return "sev2"
    if from_priority is not None:
        return from_priority
    if (urgency or "").lower() == "low":
        return "sev4"
    return None


def is_incident_event(event: Event) -> bool:
    """Return whether the event's `data` is an incident (what warroom turns into an alert).

    Service events, pings, and incident events about something attached to an incident
    (annotations, responders, status updates, workflows) carry other data and count not.
    """
    return (
        event.event_type.startswith("incident.")
        and isinstance(event.data, dict)
        and event.data.get("type", "incident") == "incident"
    )


def to_alert(event: Event, incident: Incident) -> NormalizedAlert:
    """Turn an incident event into a normalized alert keyed by the incident id."""
    labels: dict[str, str] = {}
    if incident.service and incident.service.summary:
        labels["service"] = incident.service.summary
    if incident.urgency:
        labels["urgency"] = incident.urgency
    priority = incident.priority.summary if incident.priority else None
    if priority:
        labels["priority"] = priority
    annotations = {"pagerduty_event": event.event_type, "pagerduty_event_id": event.id}
    if incident.status:
        annotations["pagerduty_status"] = incident.status
    if incident.incident_key:
        annotations["pagerduty_incident_key"] = incident.incident_key
    if event.agent and event.agent.summary:
        annotations["pagerduty_agent"] = event.agent.summary
    resolved = event.event_type == "incident.resolved"
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=incident.id,
        title=incident.title,
        status="resolved" if resolved else "firing",
        labels=labels,
        annotations=annotations,
        starts_at=incident.created_at or event.occurred_at,
        ends_at=event.occurred_at if resolved else None,
        group_key=incident.id,
        severity=pagerduty_severity(incident.urgency, priority),
        url=incident.html_url or None,
    )


class _IncidentEvent(_Model):
    data: Incident


class _IncidentWebhook(_Model):
    """The same body seen as an incident event, so errors name `event.data.<field>`."""

    event: _IncidentEvent


class _NoteEvent(_Model):
    data: IncidentNote


class _NoteWebhook(_Model):
    event: _NoteEvent


def normalize(payload: Any) -> list[NormalizedAlert]:
    """Validate a decoded PagerDuty body and normalize it (raises ValidationError).

    An incident event gives one alert, unless its incident is warroom's own page; every
    other event gives none.
    """
    return read(payload)[0]


def updates(payload: Any) -> list[PagingUpdate]:
    """The updates about an incident a validated body carries (see `read`)."""
    return read(payload)[1]


def read(payload: Any) -> tuple[list[NormalizedAlert], list[PagingUpdate]]:
    """Validate a decoded PagerDuty body: its alerts and its updates (raises ValidationError).

    - An incident of warroom's own page (`data.incident_key` is our page key, which the
      Events API `dedup_key` becomes) gives no alert, only an update of that incident.
    - Any other incident event gives its alert as before, and an update for what the
      alert does not say itself (ack, priority, escalation, reassignment...).
    - `incident.annotated` gives an update naming only PagerDuty's incident.
    """
    event = PagerDutyWebhook.model_validate(payload).event
    if is_incident_event(event):
        incident = _IncidentWebhook.model_validate(payload).event.data
        ours = paged_incident(incident.incident_key)
        kind = _kind(event)
        alerts = [] if ours is not None else [to_alert(event, incident)]
        if kind is None or (ours is None and kind in ("triggered", "resolved")):
            return alerts, []  # the alert says it all (opened, recovered)
        return alerts, [_incident_update(event, incident, kind, ours)]
    if event.event_type == "incident.annotated":
        note = _NoteWebhook.model_validate(payload).event.data
        if note.incident.id:
            return [], [_note_update(event, note)]
    return [], []


def _kind(event: Event) -> UpdateKind | None:
    name = event.event_type.removeprefix("incident.")
    return next((kind for kind in UPDATE_KINDS if kind == name), None)


def _agent(event: Event) -> str | None:
    return event.agent.summary if event.agent and event.agent.summary else None


def _incident_update(
    event: Event, incident: Incident, kind: UpdateKind, ours: int | None
) -> PagingUpdate:
    priority = incident.priority.summary if incident.priority else None
    text = None
    if kind == "delegated":
        policy = incident.escalation_policy
        text = policy.summary if policy and policy.summary else None
    elif kind in ("triggered", "escalated", "reassigned"):
        names = [a.summary for a in incident.assignees or () if a.summary]
        text = ", ".join(names) or None
    return PagingUpdate(
        source=SOURCE,
        kind=kind,
        at=event.occurred_at,
        external_id=incident.id,
        incident_id=ours,
        actor=_agent(event),
        text=text,
        severity=pagerduty_severity(incident.urgency, priority)
        if kind == "priority_updated"
        else None,
        priority=priority,
        number=incident.number,
        url=incident.html_url or None,
    )


def _note_update(event: Event, note: IncidentNote) -> PagingUpdate:
    assert note.incident.id is not None
    return PagingUpdate(
        source=SOURCE,
        kind="annotated",
        at=event.occurred_at,
        external_id=note.incident.id,
        actor=_agent(event),
        text=note.content.strip() or None,
        url=note.incident.html_url or None,
    )


def delivery_id(payload: Any) -> str:
    """The id of the event a validated body delivers: signed with the body, the same on
    PagerDuty's retries, so a replay under a new `X-Webhook-Id` header is still a repeat."""
    return str(payload["event"]["id"])


def verify_pagerduty_signature(secrets: list[str], body: bytes, header: str | None) -> bool:
    """Check `X-PagerDuty-Signature` ("v1=<hex>,v1=<hex>") against the raw body.

    PagerDuty lists one v1 signature per active secret while a secret rotates; the body
    is authentic if any v1 signature equals hex(HMAC-SHA256(secret, body)) for any of
    `secrets`. Empty secrets are ignored: anyone can compute an HMAC under "".
    """
    if not header:
        return False
    signatures = []
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1" and value:
            signatures.append(value.strip().lower().encode("utf-8", "replace"))
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().encode()
        for signature in signatures:
            # No early exit: the time taken does not depend on which signature matched.
            matched |= hmac.compare_digest(expected, signature)
    return matched
