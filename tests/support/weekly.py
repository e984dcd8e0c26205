"""Incidents for the weekly stats, inserted through the project's tables with exact times,
so every week's figures can be worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from storage.models import Alert, Followup, Incident, Milestone

HKT = ZoneInfo("Asia/Hong_Kong")
# "Now" for the seeded data: Friday 2021-03-12 12:00 in Hong Kong (ISO week 2021-W10).
NOW = datetime(2021, 3, 12, 12, 0, tzinfo=HKT)


@dataclass(frozen=True)
class Seeded:
    """One incident: when impact started, minutes from there to each milestone reached."""

    severity: str
    started: datetime
    reached: dict[str, int]
    playbook: str = "default"
    service_label: str | None = None
    playbook_service: str | None = None
    followups: tuple[str, ...] = ()  # each follow-up's status
    drill: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def at(day: int, hhmm: str) -> datetime:
    """HH:MM on 2021-03-<day> in Hong Kong."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(2021, 3, day, hour, minute, tzinfo=HKT)


# Hand-worked (weeks by impact start in Hong Kong; the window: 2w before NOW):
# 2021-W09 sev1 `api`: A and B; ack 2m and 4m (median 3m), mitigate 20m and 30m (25m),
#   resolve 60m and 30m (45m); follow-ups 2 of 3 done. The sev1 drill counts nowhere.
# 2021-W10 sev1: E, which started Sunday 23:30 UTC, already Monday in Hong Kong; ack 6m.
# 2021-W10 sev2 `orders-db` (its playbook's service, no alert): C, ack 10m, never mitigated.
# F started before the window: left out.
INCIDENTS = (
    Seeded(
        "sev1",
        at(1, "10:00"),
        {"acknowledged": 2, "mitigated": 20, "resolved": 60},
        service_label="api",
        followups=("done", "open"),
    ),
    Seeded(
        "sev1",
        at(3, "15:00"),
        {"acknowledged": 4, "mitigated": 30, "resolved": 30},
        service_label="api",
        followups=("done",),
    ),
    Seeded(
        "sev2",
        at(9, "09:00"),
        {"acknowledged": 10},
        playbook="database-failover",
        playbook_service="orders-db",
        followups=("dropped",),
    ),
    Seeded("sev1", at(3, "16:00"), {"acknowledged": 1440}, service_label="api", drill=True),
    Seeded("sev1", datetime(2021, 3, 8, 7, 30, tzinfo=HKT), {"acknowledged": 6}),
    Seeded("sev1", datetime(2021, 2, 1, 10, 0, tzinfo=HKT), {"acknowledged": 1}),
)


def seed(engine: Engine, incidents: tuple[Seeded, ...] = INCIDENTS) -> None:
    """Insert the incidents, their milestones, alerts and follow-ups."""
    with engine.begin() as connection:
        for n, seeded in enumerate(incidents):
            snapshot = (
                {"match": {"service": seeded.playbook_service}} if seeded.playbook_service else {}
            )
            incident_id = connection.execute(
                insert(Incident).returning(Incident.id),  # type: ignore[arg-type]
                {
                    "title": f"Incident {n}",
                    "severity": seeded.severity,
                    "status": "resolved" if "resolved" in seeded.reached else "investigating",
                    "playbook_id": seeded.playbook,
                    "playbook_snapshot": snapshot,
                    "playbook_state": {},
                    "drill": seeded.drill,
                    "private": False,
                    "external": {},
                    "created_at": seeded.started,
                    "updated_at": seeded.started,
                },
            ).scalar_one()
            moments = {"started": 0, "declared": 0, **seeded.reached}
            connection.execute(
                insert(Milestone),
                [
                    {
                        "incident_id": incident_id,
                        "name": name,
                        "at": seeded.started + timedelta(minutes=minutes),
                        "source": "command",
                        "history": [],
                    }
                    for name, minutes in moments.items()
                ],
            )
            if seeded.service_label:
                connection.execute(
                    insert(Alert),
                    {
                        "incident_id": incident_id,
                        "source": "alertmanager",
                        "fingerprint": f"f{n}",
                        "title": "5xx",
                        "labels": {"service": seeded.service_label, "team": "core"},
                        "annotations": {},
                        "first_seen_at": seeded.started,
                        "last_seen_at": seeded.started,
                    },
                )
            for number, status in enumerate(seeded.followups, start=1):
                connection.execute(
                    insert(Followup),
                    {
                        "incident_id": incident_id,
                        "number": number,
                        "text": f"follow-up {number}",
                        "status": status,
                        "created_at": seeded.started,
                    },
                )
