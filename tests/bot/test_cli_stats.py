"""`warroom stats` run as a user would, past PostgreSQL's 65,535 bound parameters: the
incidents are counted by the database, never listed in one statement."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from sqlmodel import col

from storage.models import Incident, Milestone, TimelineEvent

ROOT = Path(__file__).parents[2]
# One more than PostgreSQL lets a statement bind, and a few to spare.
COUNTED = 65_540
DRILLS = 10
START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    """COUNTED incidents, the n-th (from 0) acknowledged n seconds after its impact started
    and first updated a minute after it was declared, plus DRILLS drills acknowledged after
    a day (which would move every figure if they were counted); bulk Core inserts through
    the project's own tables."""
    total = COUNTED + DRILLS
    incidents = [
        {
            "title": f"Incident {n}",
            "severity": "sev3",
            "status": "investigating",
            "playbook_id": "default",
            "playbook_snapshot": {},
            "playbook_state": {},
            "drill": n >= COUNTED,
            "private": False,
            "external": {},
            "created_at": START + timedelta(minutes=n),
            "updated_at": START + timedelta(minutes=n),
        }
        for n in range(total)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Incident), incidents)
        ids = list(connection.scalars(select(col(Incident.id)).order_by(col(Incident.id))))
        assert len(ids) == total
        milestones, events = [], []
        for n, incident_id in enumerate(ids):
            opened = START + timedelta(minutes=n)
            took = timedelta(days=1) if n >= COUNTED else timedelta(seconds=n)
            for name, at in (
                ("started", opened),
                ("declared", opened),
                ("acknowledged", opened + took),
            ):
                milestones.append(
                    {
                        "incident_id": incident_id,
                        "name": name,
                        "at": at,
                        "source": "command",
                        "history": [],
                    }
                )
            events.append(
                {
                    "incident_id": incident_id,
                    "occurred_at": opened + timedelta(minutes=1),
                    "recorded_at": opened + timedelta(minutes=1),
                    "kind": "update",
                    "text": "still on it",
                    "data": {},
                    "source": "command",
                }
            )
        connection.execute(insert(Milestone), milestones)
        connection.execute(insert(TimelineEvent), events)


def test_stats_past_65535_incidents(
    database: tuple[Engine, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, url = database
    _seed(engine)
    monkeypatch.chdir(tmp_path)  # where no developer's .env is
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "stats"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "65540 incidents (drills excluded)"
    # Acknowledged after 0, 1, ..., 65,539 s: the median is 32,769.5 s (9h 06m), the p90 at
    # position 65,539 * 0.9 = 58,985.1 s (16h 23m); a counted drill would add a day to it.
    assert f"{'time to acknowledge':<22} 65540 {'9h 06m':>10} {'16h 23m':>10}" in lines
    assert f"{'time to first update':<22} 65540 {'1m':>10} {'1m':>10}" in lines
    # sev3's cadence is an hour; each incident's one interval, declared to update, is 1m.
    assert "status updates on cadence: 100%" in lines
