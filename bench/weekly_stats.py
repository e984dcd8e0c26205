"""The weekly stats series against the response-times section beside it, at growing sizes.

Usage: python bench/weekly_stats.py [--quick]
Seeds a temporary SQLite database with incidents spread over the last 90 days (bulk Core
inserts into the project's tables: four milestones each, an alert with a service label on
half, two follow-ups each, one done), then at each size times `weekly_stats` (90 days, by
service) and the response-times section (`response_times`, the baseline: the statements the
other stats use) in the same session, best of three. Prints per size the two times and their
ratio, and the growth exponent of each, log(t_last/t_first) / log(n_last/n_first); the
weekly series should grow like the baseline (both linear in the incident count) and its
ratio stay flat as the size grows. The last line is one JSON object.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select
from sqlmodel import col

from bot.incidents.stats import response_times
from bot.incidents.weekly_stats import weekly_stats
from bot.incidents.weekly_window import WeeklyRequest
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Alert, Followup, Incident, Milestone

FULL = (2_000, 10_000, 40_000)
QUICK = (1_000, 4_000)
NOW = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Hong_Kong")


def _seed(engine: Engine, first: int, count: int) -> None:
    """Incidents first..first+count-1, impact start spread evenly over the last 89 days."""
    step = timedelta(days=89) / max(count + first, 1)
    rows = []
    for n in range(first, first + count):
        started = NOW - timedelta(days=89) + step * n
        rows.append(
            {
                "title": f"Incident {n}",
                "severity": f"sev{n % 4 + 1}",
                "status": "resolved",
                "playbook_id": "default",
                "playbook_snapshot": {},
                "playbook_state": {},
                "drill": False,
                "private": False,
                "external": {},
                "created_at": started,
                "updated_at": started,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Incident), rows)
        ids = list(
            connection.scalars(
                select(col(Incident.id)).order_by(col(Incident.id)).offset(first).limit(count)
            )
        )
        milestones, alerts, followups = [], [], []
        for n, (incident_id, row) in enumerate(zip(ids, rows, strict=True)):
            started = row["created_at"]
            for name, minutes in (("started", 0), ("declared", 0), ("acknowledged", 1 + n % 7)):
                milestones.append(
                    {
                        "incident_id": incident_id,
                        "name": name,
                        "at": started + timedelta(minutes=minutes),
                        "source": "command",
                        "history": [],
                    }
                )
            milestones.append(
                {
                    "incident_id": incident_id,
                    "name": "resolved",
                    "at": started + timedelta(minutes=30 + n % 90),
                    "source": "command",
                    "history": [],
                }
            )
            if n % 2:
                alerts.append(
                    {
                        "incident_id": incident_id,
                        "source": "alertmanager",
                        "fingerprint": f"f{incident_id}",
                        "title": "5xx",
                        "labels": {"service": f"svc-{n % 5}"},
                        "annotations": {},
                        "first_seen_at": started,
                        "last_seen_at": started,
                    }
                )
            for number, status in ((1, "done"), (2, "open")):
                followups.append(
                    {
                        "incident_id": incident_id,
                        "number": number,
                        "text": "follow-up",
                        "status": status,
                        "created_at": started,
                    }
                )
        connection.execute(insert(Milestone), milestones)
        connection.execute(insert(Alert), alerts)
        connection.execute(insert(Followup), followups)


def _best(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def _exponent(sizes: tuple[int, ...], times: list[float]) -> float:
    return math.log(times[-1] / times[0]) / math.log(sizes[-1] / sizes[0])


def main() -> None:
    """Seed, time, print the table and the JSON line."""
    sizes = QUICK if "--quick" in sys.argv else FULL
    request = WeeklyRequest(until=NOW, tz=TZ, since=timedelta(days=90), by="service")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        seeded = 0
        print(f"{'incidents':>10} {'baseline s':>11} {'weekly s':>9} {'ratio':>6}")
        for size in sizes:
            _seed(engine, seeded, size - seeded)
            seeded = size
            with sessions() as session:
                baseline = _best(lambda s=session: response_times(s))
                weekly = _best(lambda s=session: weekly_stats(s, request))
            results.append({"incidents": size, "baseline_s": baseline, "weekly_s": weekly})
            print(f"{size:>10} {baseline:>11.3f} {weekly:>9.3f} {weekly / baseline:>6.2f}")
        engine.dispose()
    growth = {
        "baseline_exponent": _exponent(sizes, [r["baseline_s"] for r in results]),
        "weekly_exponent": _exponent(sizes, [r["weekly_s"] for r in results]),
    }
    print(
        f"growth exponents: baseline {growth['baseline_exponent']:.2f}, "
        f"weekly {growth['weekly_exponent']:.2f}"
    )
    print(json.dumps({"sizes": results, **growth}))


if __name__ == "__main__":
    main()
