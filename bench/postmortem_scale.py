"""Time a postmortem draft (build + render) against timeline length, on a temporary SQLite DB.

Usage: python bench/postmortem_scale.py [--quick]
Prints a table and the bars, then as its last line one JSON object: sizes, seconds (best
of the runs), seconds_10k, the exponent (slope of log time over log size; 1.0 is linear)
and passed (seconds_10k < 1 and exponent <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from _common import verdict
from sqlalchemy import insert
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from bot.postmortem import build, render
from playbooks import bundled_dir, load_dir
from storage.db import make_engine, make_sessionmaker, transaction
from storage.migrate import upgrade
from storage.models import TimelineEvent
from storage.unit_of_work import unit_of_work

FULL = (1_000, 10_000, 100_000)
QUICK = (1_000, 5_000, 10_000)
TZ = ZoneInfo("Asia/Hong_Kong")
START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
KINDS = ("note", "update", "log", "status", "pin")
ACTORS = ("U0ALICE", "U0BOB", "U0CAROL", None)
SECONDS_10K_BAR = 1.0
EXPONENT_BAR = 1.2


def seed(sessions: sessionmaker[Session], domain: Domain, size: int) -> int:
    """Declare an incident and give it `size` timeline entries in one bulk insert."""
    with unit_of_work(sessions) as uow:
        outcome = execute(
            uow,
            domain,
            parse_command("declare Matching engine down sev1"),
            incident=None,
            actor="U0ALICE",
        )
        assert outcome.incident is not None and outcome.incident.id is not None
        incident_id = outcome.incident.id
    rows = [
        {
            "incident_id": incident_id,
            "occurred_at": START + timedelta(seconds=n),
            "recorded_at": START + timedelta(seconds=n),
            "kind": KINDS[n % len(KINDS)],
            "actor": ACTORS[n % len(ACTORS)],
            "text": f"entry {n} | with a pipe\nand a second line",
            "data": {},
            "source": "command",
        }
        for n in range(size)
    ]
    with transaction(sessions) as session:
        session.execute(insert(TimelineEvent), rows)
    return incident_id


def measure(
    sessions: sessionmaker[Session], incident_id: int, size: int, runs: int
) -> tuple[float, float]:
    """Best build and render times over `runs`, each build in a fresh session."""
    best_build = best_render = math.inf
    for _ in range(runs):
        with sessions() as session:
            began = time.perf_counter()
            pm = build(session, incident_id, tz=TZ)
            built = time.perf_counter()
        text = render(pm)
        rendered = time.perf_counter()
        assert text.count("\\| with a pipe") >= size  # every entry drafted, its pipe escaped
        best_build = min(best_build, built - began)
        best_render = min(best_render, rendered - built)
    return best_build, best_render


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) over log(size)."""
    xs = [math.log(size) for size in sizes]
    ys = [math.log(max(value, 1e-9)) for value in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k, 5k and 10k events only")
    args = parser.parse_args()
    sizes = list(QUICK if args.quick else FULL)
    domain = Domain(clock=SimulatedClock(START), tz=TZ, catalog=load_dir(bundled_dir()))
    render_warm = None
    totals: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        print(f"{'events':>8} {'build s':>9} {'render s':>9} {'total s':>9} {'events/s':>10}")
        for size in sizes:
            incident_id = seed(sessions, domain, size)
            if render_warm is None:  # compile the template once, outside the timings
                with sessions() as session:
                    render_warm = render(build(session, incident_id, tz=TZ))
            built, rendered = measure(sessions, incident_id, size, runs=3 if size <= 10_000 else 2)
            total = built + rendered
            totals.append(total)
            print(f"{size:>8} {built:>9.4f} {rendered:>9.4f} {total:>9.4f} {size / total:>10.0f}")
        engine.dispose()
    at_10k = totals[sizes.index(10_000)]
    exponent = slope(sizes, totals)
    checks = {
        f"10k events < {SECONDS_10K_BAR:.0f} s ({at_10k:.2f})": at_10k < SECONDS_10K_BAR,
        f"exponent <= {EXPONENT_BAR} ({exponent:.2f})": exponent <= EXPONENT_BAR,
    }
    print("bars:")
    for label, passed in checks.items():
        print(f"  {verdict(passed):<4} {label}")
    print(
        json.dumps(
            {
                "sizes": sizes,
                "seconds": [round(value, 4) for value in totals],
                "seconds_10k": round(at_10k, 4),
                "exponent": round(exponent, 3),
                "passed": all(checks.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
