"""Read scale: stats, the incident list, a timeline page and a postmortem at 1k, 10k and 50k
incidents.

Usage: python bench/read_scale.py [--quick] [--postgres URL]
Seeds one database (a temporary SQLite file; with --postgres, also a temporary PostgreSQL
database) in steps up to each size: one incident is worked through the domain's own commands
(declare, ack, note, update, mitigate, resolve: 13 timeline entries with the stage and task
entries they record, 7 milestones), and copied with shifted times (and acknowledgement
delays that vary) by bulk Core inserts into the project's own tables (`storage.models`); the
first incident also gets a 50,000-entry timeline; on PostgreSQL each step ends with VACUUM
ANALYZE, as autovacuum would soon after such a load. At each size it times, against `python -m
bot serve` on that database: `warroom stats` as a subprocess (its peak RSS and CPU seconds
from wait4), `GET /api/incidents?limit=100`, `GET /api/incidents/{big}/timeline?limit=100`
(a route that ignores `limit` answers every entry: `timeline_events` says how many came
back) and `GET /api/incidents/{newest}/postmortem`. Prints a table, growth exponents
log(t_last/t_first) / log(size_last/size_first) (0: flat, 1: linear in the incident count)
and the bars, then as its last line one JSON object (SQLite at the top level, PostgreSQL
under "postgresql").
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _common import (
    AUTH,
    Backend,
    backends,
    free_port,
    machine,
    parse_args,
    report,
    run_server,
    service_env,
    settle_gc,
    temp_database,
    verdict,
)
from sqlalchemy import Engine, func, insert, select
from sqlmodel import col

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from playbooks import bundled_dir, load_dir
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Incident, Milestone, RoleAssignment, TimelineEvent
from storage.unit_of_work import unit_of_work

FULL = (1_000, 10_000, 50_000)
QUICK = (1_000, 3_000, 10_000)
BIG_TIMELINE = {False: 50_000, True: 10_000}  # entries of the first incident (quick: 10k)
PAGE = 100
TZ = ZoneInfo("Asia/Hong_Kong")
START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
STATS_BAR_S = 2.0  # `warroom stats` at the largest size, process start included
RSS_RATIO_BAR = 1.25  # peak RSS of `warroom stats`, largest size over smallest
EXPONENT_BAR = 0.25  # a page read may grow at most like size**0.25 (flat or logarithmic)
BATCH = 20_000  # rows per executemany


# -- seeding -----------------------------------------------------------------------------------


def _work_one(engine: Engine) -> int:
    """Work one incident through the domain's commands, as responders would; its id."""
    clock = SimulatedClock(START)
    domain = Domain(clock=clock, tz=TZ, catalog=load_dir(bundled_dir()))
    sessions = make_sessionmaker(engine)
    incident_id: int | None = None
    steps = [
        (0, "declare Matching engine errors sev2"),
        (2, "ack"),
        (3, "note API users report error 30030"),
        (2, "update Investigating the matching engine"),
        (4, "mitigate restarted"),
        (3, "resolve Service restored"),
    ]
    for minutes, text in steps:
        clock.advance(timedelta(minutes=minutes))
        with unit_of_work(sessions) as uow:
            incident = uow.session.get(Incident, incident_id) if incident_id else None
            outcome = execute(uow, domain, parse_command(text), incident=incident, actor="U0ALICE")
            if incident_id is None:
                assert outcome.incident is not None and outcome.incident.id is not None
                incident_id = outcome.incident.id
    assert incident_id is not None
    return incident_id


def _rows(engine: Engine, model: Any, incident_id: int) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as connection:
        found = connection.execute(
            select(table).where(table.c.incident_id == incident_id).order_by(table.c.id)
        )
        return [dict(row._mapping) for row in found]


class Seeder:
    """Copies of one worked incident, added by bulk Core inserts up to a given count."""

    def __init__(self, engine: Engine, big_timeline: int) -> None:
        self.engine = engine
        self.template_id = _work_one(engine)
        with engine.connect() as connection:
            row = connection.execute(
                select(Incident.__table__).where(col(Incident.id) == self.template_id)
            ).one()
        self.incident = {k: v for k, v in row._mapping.items() if k != "id"}
        self.children = {
            model: [
                {k: v for k, v in found.items() if k != "id"}
                for found in _rows(engine, model, self.template_id)
            ]
            for model in (Milestone, TimelineEvent, RoleAssignment)
        }
        self.count = 1
        self.events_per_incident = len(self.children[TimelineEvent])
        self._big_timeline(big_timeline)

    def _big_timeline(self, size: int) -> None:
        kinds = ("note", "log", "update", "status", "pin")
        rows = [
            {
                "incident_id": self.template_id,
                "occurred_at": START + timedelta(seconds=n),
                "recorded_at": START + timedelta(seconds=n),
                "kind": kinds[n % len(kinds)],
                "actor": "U0BOB",
                "text": f"entry {n}: what the responders saw",
                "data": {},
                "source": "command",
            }
            for n in range(size)
        ]
        self._insert(TimelineEvent, rows)

    def _insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(model), rows[start : start + BATCH])

    def grow(self, target: int) -> None:
        """Add copies until there are `target` incidents; copy n starts n * 7 minutes after
        the original and is acknowledged (n * 37) % 900 seconds later than it."""
        while self.count < target:
            chunk = range(self.count, min(target, self.count + BATCH // 10))
            incidents = []
            for n in chunk:
                shift = timedelta(minutes=7 * n)
                copy = {**self.incident, "title": f"Matching engine errors {n}"}
                for key in ("created_at", "updated_at", "resolved_at"):
                    copy[key] = copy[key] + shift if copy[key] else None
                incidents.append(copy)
            with self.engine.begin() as connection:
                first = connection.scalar(select(func.max(col(Incident.id)))) or 0
                connection.execute(insert(Incident), incidents)
                ids = list(
                    connection.scalars(
                        select(col(Incident.id))
                        .where(col(Incident.id) > first)
                        .order_by(col(Incident.id))
                    )
                )
            assert len(ids) == len(chunk)
            for model, template in self.children.items():
                rows = []
                for n, incident_id in zip(chunk, ids, strict=True):
                    shift = timedelta(minutes=7 * n)
                    for found in template:
                        copy = {**found, "incident_id": incident_id}
                        for key in ("at", "occurred_at", "recorded_at", "assigned_at"):
                            if key in copy:
                                copy[key] = copy[key] + shift
                        if model is Milestone and copy["name"] == "acknowledged":
                            copy["at"] += timedelta(seconds=(n * 37) % 900)
                        if "idempotency_key" in copy:
                            copy["idempotency_key"] = None
                        rows.append(copy)
                self._insert(model, rows)
            self.count += len(chunk)


def settle_planner(engine: Engine) -> None:
    """On PostgreSQL, VACUUM ANALYZE after a bulk step, as autovacuum does within a minute or
    so of such a load: measured right after the insert, without planner statistics or a
    visibility map (index-only scans fetch every row), `warroom stats` at 50k took about
    twice the server CPU (0.47 + 0.67 s against 0.20 + 0.42 for its two big statements)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


# -- timing ------------------------------------------------------------------------------------


def stats_run(url: str, folder: Path) -> tuple[float, int, str, float]:
    """Run `warroom stats` once: (wall seconds, peak RSS in KiB from wait4, its output, its
    CPU seconds from wait4: on a machine shared with other work, the wall time includes
    waiting for a core and the CPU time does not)."""
    out_path, err_path = folder / "stats.out", folder / "stats.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "stats"],
            env=service_env(url),
            cwd=folder,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"warroom stats failed: {err_path.read_text().strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, int(usage.ru_maxrss), out_path.read_text(), cpu


def timed_get(client: httpx.Client, path: str, runs: int) -> tuple[float, httpx.Response]:
    """Median seconds of `runs` GETs after one warm-up, and the last answer."""
    response = client.get(path).raise_for_status()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(path).raise_for_status()
        times.append(time.perf_counter() - began)
    return statistics.median(times), response


def growth(sizes: list[int], seconds: list[float]) -> float:
    """log(t_last / t_first) / log(size_last / size_first): 0 flat, 1 linear."""
    return math.log(max(seconds[-1], 1e-9) / max(seconds[0], 1e-9)) / math.log(sizes[-1] / sizes[0])


def run_backend(backend: Backend, sizes: list[int], quick: bool) -> dict[str, Any]:
    """Seed step by step to each size on this backend and time every read there."""
    runs = 3 if quick else 5
    stats_runs = 1 if quick else 3
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as raw:
        folder = Path(raw)
        with temp_database(backend, folder) as url:
            engine = make_engine(url)
            upgrade(engine)
            began = time.perf_counter()
            seeder = Seeder(engine, BIG_TIMELINE[quick])
            seeded = time.perf_counter() - began
            port = free_port()
            argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
            argv += ["--port", str(port)]
            with run_server(argv, port=port, env=service_env(url), cwd=folder, name="warroom") as s:
                client = httpx.Client(base_url=s.url, headers=AUTH, timeout=600)
                for size in sizes:
                    began = time.perf_counter()
                    seeder.grow(size)
                    seeded += time.perf_counter() - began
                    settle_planner(engine)
                    with engine.connect() as connection:
                        newest = connection.scalar(select(func.max(col(Incident.id))))
                    settle_gc()
                    stats = [stats_run(url, folder) for _ in range(stats_runs)]
                    stats_s = statistics.median(t for t, _, _, _ in stats)
                    stats_cpu_s = statistics.median(c for _, _, _, c in stats)
                    rss_kib = max(r for _, r, _, _ in stats)
                    counted = int(stats[0][2].split()[0])
                    list_s, listed = timed_get(client, f"/api/incidents?limit={PAGE}", runs)
                    timeline_s, page = timed_get(
                        client,
                        f"/api/incidents/{seeder.template_id}/timeline?limit={PAGE}",
                        runs,
                    )
                    postmortem_s, draft = timed_get(
                        client, f"/api/incidents/{newest}/postmortem", runs
                    )
                    row = {
                        "incidents": size,
                        "counted": counted,
                        "stats_s": round(stats_s, 3),
                        "stats_cpu_s": round(stats_cpu_s, 3),
                        "stats_rss_mib": round(rss_kib / 1024, 1),
                        "list_ms": round(list_s * 1000, 1),
                        "listed": len(listed.json()["incidents"]),
                        "timeline_ms": round(timeline_s * 1000, 1),
                        "timeline_events": len(page.json()["events"]),
                        "postmortem_ms": round(postmortem_s * 1000, 1),
                        "postmortem_bytes": len(draft.content),
                    }
                    rows.append(row)
                    print(
                        f"{backend.name:<11} {size:>7} {row['stats_s']:>8.2f} "
                        f"{row['stats_cpu_s']:>8.2f} "
                        f"{row['stats_rss_mib']:>8.1f} {row['list_ms']:>8.1f} "
                        f"{row['timeline_ms']:>9.1f} {row['timeline_events']:>7} "
                        f"{row['postmortem_ms']:>9.1f}",
                        flush=True,
                    )
                client.close()
            engine.dispose()
    exponents = {
        key: round(growth(sizes, [row[key] for row in rows]), 3)
        for key in ("stats_s", "list_ms", "timeline_ms", "postmortem_ms")
    }
    return {
        "sizes": sizes,
        "events_per_incident": seeder.events_per_incident,
        "big_timeline": BIG_TIMELINE[quick],
        "seed_s": round(seeded, 1),
        "rows": rows,
        "exponents": exponents,
        "stats_s_last": rows[-1]["stats_s"],
        "rss_ratio": round(rows[-1]["stats_rss_mib"] / rows[0]["stats_rss_mib"], 2),
    }


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    last = result["rows"][-1]
    exponents = result["exponents"]
    checks: dict[str, bool] = {
        f"stats counts every incident ({last['counted']}/{last['incidents']})": (
            last["counted"] == last["incidents"]
        ),
        f"stats at {last['incidents']:,} < {STATS_BAR_S:g} s ({last['stats_s']:.2f})": (
            last["stats_s"] < STATS_BAR_S
        ),
        f"stats peak RSS ratio <= {RSS_RATIO_BAR:g} ({result['rss_ratio']:.2f})": (
            result["rss_ratio"] <= RSS_RATIO_BAR
        ),
        f"timeline page holds <= {PAGE} entries ({last['timeline_events']})": (
            last["timeline_events"] <= PAGE
        ),
    }
    for key, label in (("list_ms", "list"), ("timeline_ms", "timeline"), ("postmortem_ms", "pm")):
        checks[f"{label} growth exponent <= {EXPONENT_BAR:g} ({exponents[key]:.2f})"] = (
            exponents[key] <= EXPONENT_BAR
        )
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{', '.join(f'{s:,}' for s in QUICK)} incidents, 10k entries")
    sizes = list(QUICK if args.quick else FULL)
    print(f"machine: {machine()}")
    print(
        f"{'backend':<11} {'size':>7} {'stats s':>8} {'CPU s':>8} {'RSS MiB':>8} {'list ms':>8} "
        f"{'tl ms':>9} {'tl rows':>7} {'pm ms':>9}"
    )
    results = {backend.name: run_backend(backend, sizes, args.quick) for backend in backends(args)}
    for name, result in results.items():
        shown = ", ".join(f"{key} {value:.2f}" for key, value in result["exponents"].items())
        print(f"{name}: growth exponents {shown}; seeded in {result['seed_s']:.0f} s")
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
