"""The update cadence counted in the database is the domain's rule, interval by interval:
from declaration through each update in time order to resolution, each at most the
incident's cadence (its playbook's when valid, else its severity's), drills left out."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.incidents.stats import (
    CADENCE_FROM,
    CADENCE_TO,
    CADENCE_UPDATE,
    MICROSECOND,
    response_times,
    update_cadence,
)
from storage.models import Incident, Milestone, TimelineEvent
from storage.stats_queries import cadence_settings, updates_on_cadence

START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def _incident(
    engine: Engine,
    *,
    severity: str,
    written: Any = None,
    declared: timedelta | None = timedelta(0),
    updates: tuple[timedelta, ...] = (),
    resolved: timedelta | None = None,
    drill: bool = False,
) -> None:
    """One incident, its milestones and `update` entries, times from START."""
    snapshot = {"reminders": {"status_update": written}} if written is not None else {}
    with engine.begin() as connection:
        incident_id = connection.execute(
            insert(Incident).returning(Incident.id),  # type: ignore[arg-type]
            {
                "title": "Orders slow",
                "severity": severity,
                "status": "resolved" if resolved is not None else "investigating",
                "playbook_id": "default",
                "playbook_snapshot": snapshot,
                "playbook_state": {},
                "drill": drill,
                "private": False,
                "external": {},
                "created_at": START,
                "updated_at": START,
            },
        ).scalar_one()
        moments = {"started": timedelta(0), CADENCE_FROM: declared, CADENCE_TO: resolved}
        rows = [
            {
                "incident_id": incident_id,
                "name": name,
                "at": START + at,
                "source": "command",
                "history": [],
            }
            for name, at in moments.items()
            if at is not None
        ]
        connection.execute(insert(Milestone), rows)
        for at in updates:
            connection.execute(
                insert(TimelineEvent),
                {
                    "incident_id": incident_id,
                    "occurred_at": START + at,
                    "recorded_at": START + at,
                    "kind": CADENCE_UPDATE,
                    "actor": "U0ALICE",
                    "text": "still on it",
                    "data": {},
                    "source": "command",
                },
            )


def _reference(engine: Engine, incidents: list[dict[str, Any]]) -> tuple[int, int]:
    """(intervals, kept) by the domain's rule, incident by incident, in Python."""
    intervals = kept = 0
    for spec in incidents:
        written = spec.get("written")
        cadence = update_cadence(spec["severity"], written if isinstance(written, str) else None)
        if spec.get("drill") or cadence is None or spec.get("declared", timedelta(0)) is None:
            continue
        times = [spec.get("declared", timedelta(0)), *sorted(spec.get("updates", ()))]
        if spec.get("resolved") is not None:
            times.append(spec["resolved"])
        for before, after in itertools.pairwise(times):
            intervals += 1
            kept += after - before <= cadence
    return intervals, kept


def _counted(engine: Engine, sessions: Any) -> tuple[int, int]:
    with sessions() as session:
        cadences = {}
        for severity, written in cadence_settings(session):
            every = update_cadence(severity, written)
            cadences[(severity, written)] = every // MICROSECOND if every else None
        return updates_on_cadence(
            session,
            opening=CADENCE_FROM,
            closing=CADENCE_TO,
            update=CADENCE_UPDATE,
            cadences=cadences,
        )


MINUTE = timedelta(minutes=1)
EDGES: list[dict[str, Any]] = [
    # Exactly on the cadence (sev1: 15m) is kept; a microsecond over is not.
    {"severity": "sev1", "updates": (15 * MINUTE, 30 * MINUTE + MICROSECOND)},
    # An update before the declaration (backdated) and two at the same moment.
    {"severity": "sev1", "declared": 5 * MINUTE, "updates": (MINUTE, 20 * MINUTE, 20 * MINUTE)},
    # Resolved before its last update; resolved with no update at all.
    {"severity": "sev2", "updates": (10 * MINUTE, 50 * MINUTE), "resolved": 40 * MINUTE},
    {"severity": "sev3", "resolved": 61 * MINUTE},
    # The playbook's own cadence wins; an unreadable one (text, a number) leaves the default.
    {"severity": "sev2", "written": "20m", "updates": (25 * MINUTE,), "resolved": 40 * MINUTE},
    {"severity": "sev2", "written": "soon", "updates": (25 * MINUTE,)},
    {"severity": "sev3", "written": 30, "updates": (59 * MINUTE,)},
    {"severity": "sev3", "written": " 1H30M ", "updates": (80 * MINUTE,)},
    # No default for sev4: counted only with a playbook cadence.
    {"severity": "sev4", "updates": (MINUTE,), "resolved": 2 * MINUTE},
    {"severity": "sev4", "written": "10m", "updates": (11 * MINUTE,), "resolved": 12 * MINUTE},
    # Never declared (no milestone): no interval; a drill: left out.
    {"severity": "sev1", "declared": None, "updates": (MINUTE, 2 * MINUTE)},
    {"severity": "sev1", "drill": True, "updates": (MINUTE, 99 * MINUTE)},
]


def test_edge_cases_count_as_the_domain_counts(engine, sessions) -> None:
    for spec in EDGES:
        _incident(engine, **spec)
    assert _counted(engine, sessions) == _reference(engine, EDGES) == (16, 10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_varied_incidents_count_as_the_domain_counts(engine, sessions, seed: int) -> None:
    chance = random.Random(seed)
    incidents = []
    for _ in range(40):
        spec: dict[str, Any] = {
            "severity": chance.choice(["sev1", "sev2", "sev3", "sev4"]),
            "written": chance.choice([None, None, "20m", "45m", "bad", "1h"]),
            "declared": chance.choice([timedelta(0), 3 * MINUTE, None]),
            "updates": tuple(
                timedelta(seconds=chance.randrange(0, 7200), microseconds=chance.randrange(3))
                for _ in range(chance.randrange(5))
            ),
            "resolved": chance.choice([None, timedelta(seconds=chance.randrange(60, 9000))]),
            "drill": chance.random() < 0.1,
        }
        _incident(engine, **spec)
        incidents.append(spec)
    assert _counted(engine, sessions) == _reference(engine, incidents)


def test_no_interval_leaves_the_share_empty(engine, sessions) -> None:
    _incident(engine, severity="sev4")
    with sessions() as session:
        section = response_times(session)
    assert (section.incidents, section.on_cadence) == (1, None)
