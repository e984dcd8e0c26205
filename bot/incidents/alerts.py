"""The normalized alert: what every alert source's payload becomes before the domain sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True)
class NormalizedAlert:
    """One alert from any source, in the shape the incident domain ingests.

    `group_key` is the source's own grouping (Alertmanager's groupKey, PagerDuty's incident
    id); when None, the playbook's `group_by` labels (or the fingerprint) decide the group.
    `former_group_key` is the group key an older warroom gave the same group (before the
    sender's address was part of it): an incident opened under it is joined while open.
    `name` is what the sender calls the alert (Alertmanager's and Grafana's `alertname`
    label); when empty, the title is its name (PagerDuty's incident title, generic title).
    """

    source: str  # alertmanager | grafana | pagerduty | datadog | cloudwatch | opsgenie | generic
    fingerprint: str
    title: str
    status: AlertStatus = "firing"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None  # aware, any offset; the domain stores UTC
    ends_at: datetime | None = None
    group_key: str | None = None
    severity: str | None = None  # sev1..sev4 when the source says so explicitly
    url: str | None = None
    name: str = ""
    former_group_key: str | None = None

    @property
    def alert_name(self) -> str:
        """What the sender calls this alert: its name, else its title."""
        return self.name or self.title
