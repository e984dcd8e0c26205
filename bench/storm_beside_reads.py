"""Alert storm beside timeline reads: the storm's p99 alone vs with a 50k-entry timeline read.

Usage: python bench/storm_beside_reads.py [--quick] [--postgres URL]
Starts `python -m bot serve` (sandbox mode, fresh database), opens one incident by a generic
alert and gives it 50,000 timeline entries (quick: 10,000) through the domain's own recorder
(`bot.incidents.records.Recorder` in units of work of 1,000), opens the storm's 20 incidents
with a warm-up storm, then runs the same storm (bench/alert_storm.py's notifications, 50
connections, 2,000 a turn; quick: 500) in turns: alone, beside reads, beside reads, alone,
twice (quick: once), each turn started once the service is idle. Beside reads, two reader
processes page through that incident's whole timeline over and over while the storm runs:
one at the default page (500), one at the largest (`?limit=1000`, the old whole-timeline
read's worst case now). Prints a table, then as its last line one JSON object:
p99_alone_ms, p99_beside_ms, ratio (beside over alone, bar <= 1.5) and each round's own,
the load average, the readers' pages (all, and those asked for while the storm ran) and
their p99, errors (SQLite at the top level, PostgreSQL under "postgresql" with --postgres).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
from _common import (
    AUTH,
    Backend,
    Load,
    Server,
    backends,
    free_port,
    machine,
    parse_args,
    percentile,
    report,
    run_server,
    service_env,
    temp_database,
    verdict,
)
from alert_storm import idle, notification, storm

FULL_ENTRIES, QUICK_ENTRIES = 50_000, 10_000
FULL_TURN, QUICK_TURN = 2_000, 500
FULL_ROUNDS, QUICK_ROUNDS = 2, 1
BATCH = 1_000  # entries per unit of work while seeding
WARMUP = 200  # opens the storm's 20 incidents before anything is timed
READERS = {"default page": {}, "limit=1000": {"limit": "1000"}}
RATIO_BAR = 1.5
START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


@contextmanager
def service(backend: Backend) -> Iterator[tuple[Server, str]]:
    """`python -m bot serve` on a fresh database; yield it and the database's URL (the
    seeding writes there through the domain's own code)."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as raw:
        folder = Path(raw)
        with temp_database(backend, folder) as url:
            port = free_port()
            argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
            argv += ["--port", str(port)]
            env = service_env(url)
            with run_server(argv, port=port, env=env, cwd=folder, name="warroom") as server:
                yield server, url


def open_incident(server: Server) -> int:
    """Open the incident to read by a generic alert of its own group."""
    body = {
        "title": "Matching engine errors",
        "severity": "critical",
        "labels": {"service": "matching-engine"},
        "group": "bench-reads",
    }
    answer = httpx.post(f"{server.url}/alerts/generic", json=body, headers=AUTH, timeout=60)
    return int(answer.raise_for_status().json()["incidents"][0]["id"])


def seed(url: str, incident_id: int, entries: int) -> float:
    """Give the incident `entries` notes through the domain's recorder, in units of work of
    BATCH; return the seconds it took."""
    from bot.incidents.records import Recorder
    from storage.db import make_engine, make_sessionmaker
    from storage.unit_of_work import unit_of_work

    began = time.perf_counter()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for first in range(0, entries, BATCH):
            with unit_of_work(sessions) as uow:
                incident = uow.incident(incident_id)
                assert incident is not None
                recorder = Recorder(uow, incident, START + timedelta(seconds=first))
                for n in range(first, min(first + BATCH, entries)):
                    recorder.event(
                        "note",
                        f"note {n}: checked host-{n % 97:02d}, error rate {n % 13}%",
                        actor=f"U0BENCH{n % 7}",
                        at=START + timedelta(seconds=n),
                    )
                recorder.close()
    finally:
        engine.dispose()
    return time.perf_counter() - began


def read_pages(
    url: str,
    incident_id: int,
    params: dict[str, str],
    stop: Event,
    ready: Event,
    storming: Event,
    out: Any,
) -> None:
    """A reader process: page through the incident's whole timeline, again and again, until
    `stop`; send back (pages, entries, each page's seconds, non-200 answers, the seconds of
    the pages asked for while the storm ran)."""
    path = f"{url}/api/incidents/{incident_id}/timeline"
    pages = entries = errors = 0
    seconds: list[float] = []
    in_storm: list[float] = []
    with httpx.Client(headers=AUTH, timeout=120) as client:
        cursor: str | None = None
        while not stop.is_set():
            during = storming.is_set()
            began = time.perf_counter()
            answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
            seconds.append(time.perf_counter() - began)
            if during:
                in_storm.append(seconds[-1])
            if answer.status_code != 200:
                errors += 1
                cursor = None
                continue
            pages += 1
            entries, cursor = entries + answer.content.count(b'"kind":'), next_cursor(answer)
            ready.set()
    out.send((pages, entries, seconds, errors, in_storm))
    out.close()


def next_cursor(answer: httpx.Response) -> str | None:
    """The page's `next_cursor`, found at the body's end without parsing the whole page: a
    reader's own CPU would otherwise be taken from the service on this shared machine."""
    tail = answer.content[answer.content.rindex(b'"next_cursor":') :]
    return json.loads(b"{" + tail)["next_cursor"]


@contextmanager
def readers(server: Server, incident_id: int, storming: Event) -> Iterator[list[Any]]:
    """The reader processes, running until the block ends; yields where their tallies come.
    `storming` is set while the storm runs (the readers tell its pages apart)."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    started = []
    for params in READERS.values():
        ready = context.Event()
        mine, theirs = context.Pipe(duplex=False)
        args = (server.url, incident_id, params, stop, ready, storming, theirs)
        process = context.Process(target=read_pages, args=args, daemon=True)
        process.start()
        started.append((process, ready, mine))
    for _, ready, _ in started:
        if not ready.wait(120):
            raise TimeoutError("a reader read no page within 120 s")
    tallies: list[Any] = []
    try:
        yield tallies
    finally:
        stop.set()
        for process, _, mine in started:
            tallies.append(mine.recv() if mine.poll(120) else (0, 0, [], 1, []))
            process.join(30)


def turn_bodies(turn: int, size: int) -> list[bytes]:
    """A turn's notifications: new alerts (fingerprints no turn sent before)."""
    first = WARMUP + turn * size
    return [notification(n) for n in range(first, first + size)]


def whole_read(server: Server, incident_id: int) -> tuple[int, float]:
    """Read the whole timeline once at the largest page, alone: (entries, seconds)."""
    began, count, cursor = time.perf_counter(), 0, None
    with httpx.Client(headers=AUTH, timeout=120) as client:
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            path = f"{server.url}/api/incidents/{incident_id}/timeline"
            page = client.get(path, params=params).raise_for_status().json()
            count += len(page["events"])
            cursor = page["next_cursor"]
            if cursor is None:
                return count, time.perf_counter() - began


def run_backend(backend: Backend, entries: int, size: int, rounds: int) -> dict[str, Any]:
    """Seed, warm up, then alternate the storm alone and beside the readers."""
    alone: list[Load] = []
    beside: list[Load] = []
    reads: dict[str, list[Any]] = {name: [] for name in READERS}
    storming = multiprocessing.get_context("spawn").Event()
    load_average = [round(os.getloadavg()[0], 1)]
    with service(backend) as (server, url):
        incident_id = open_incident(server)
        seeded_s = seed(url, incident_id, entries)
        read_entries, read_s = whole_read(server, incident_id)
        asyncio.run(storm(server.url, [notification(n) for n in range(WARMUP)]))
        turn = 0
        for _ in range(rounds):
            for with_readers in (False, True, True, False):
                bodies = turn_bodies(turn, size)
                turn += 1
                # Each turn starts on a quiet service: what a turn leaves behind (the
                # outbox's Slack work, the readers' last pages) is not the next turn's.
                idle(server.process.pid)
                if not with_readers:
                    alone.append(asyncio.run(storm(server.url, bodies)))
                    continue
                with readers(server, incident_id, storming) as tallies:
                    # Set as the first alert goes: opening the storm's 50 clients takes
                    # about 1.5 s here, and the pages read meanwhile are not in the storm.
                    try:
                        beside.append(asyncio.run(storm(server.url, bodies, on_start=storming.set)))
                    finally:
                        storming.clear()
                for name, tally in zip(READERS, tallies, strict=True):
                    reads[name].append(tally)
    load_average.append(round(os.getloadavg()[0], 1))
    storm_alone, storm_beside = Load.pooled(alone), Load.pooled(beside)
    # Each round's own ratio (its two turns beside over its two alone): the spread within
    # a run, on a machine whose load moves between rounds.
    by_round = [
        Load.pooled(beside[2 * r : 2 * r + 2]).ms(99) / Load.pooled(alone[2 * r : 2 * r + 2]).ms(99)
        for r in range(rounds)
    ]
    result: dict[str, Any] = {
        "entries": entries,
        "read_entries": read_entries,
        "seed_s": round(seeded_s, 1),
        "whole_read_s": round(read_s, 2),
        "alerts_per_turn": size,
        "turns": turn,
        "p50_alone_ms": round(storm_alone.ms(50), 2),
        "p99_alone_ms": round(storm_alone.ms(99), 2),
        "p50_beside_ms": round(storm_beside.ms(50), 2),
        "p99_beside_ms": round(storm_beside.ms(99), 2),
        "throughput_alone": round(storm_alone.throughput, 1),
        "throughput_beside": round(storm_beside.throughput, 1),
        "ratio": round(storm_beside.ms(99) / storm_alone.ms(99), 3),
        "ratio_by_round": [round(ratio, 3) for ratio in by_round],
        "errors": storm_alone.errors + storm_beside.errors,
        "load_average": load_average,
        "readers": {},
    }
    for name, tallies in reads.items():
        seconds = [s for tally in tallies for s in tally[2]]
        in_storm = [s for tally in tallies for s in tally[4]]
        result["readers"][name] = {
            "pages": sum(tally[0] for tally in tallies),
            "entries": sum(tally[1] for tally in tallies),
            "page_p50_ms": round(percentile(seconds, 50) * 1000, 1),
            "page_p99_ms": round(percentile(seconds, 99) * 1000, 1),
            "pages_in_storm": len(in_storm),
            "page_in_storm_p50_ms": round(percentile(in_storm, 50) * 1000, 1) if in_storm else None,
            "errors": sum(tally[3] for tally in tallies),
        }
        result["errors"] += result["readers"][name]["errors"]
    print(
        f"{backend.name:<11} seeded {entries} entries in {seeded_s:.1f} s; the whole timeline "
        f"read alone in {read_s:.2f} s ({read_entries} entries, pages of 1000)"
    )
    for label, load in (("alone", storm_alone), ("beside", storm_beside)):
        print(
            f"{backend.name:<11} {label:<8} {load.sent:>7} {load.errors:>6} "
            f"{load.throughput:>8.0f} {load.ms(50):>8.1f} {load.ms(99):>8.1f}"
        )
    for name, figures in result["readers"].items():
        print(f"{backend.name:<11} reader {name}: {json.dumps(figures)}")
    print(
        f"{backend.name:<11} ratio by round: {result['ratio_by_round']}; load average "
        f"(1 min) at start and end: {load_average}"
    )
    return result


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    everything = result["read_entries"] >= result["entries"]
    checks = {
        f"p99 beside reads <= {RATIO_BAR}x alone ({result['ratio']:.2f})": result["ratio"]
        <= RATIO_BAR,
        f"no errors, storm or reads ({result['errors']})": result["errors"] == 0,
        f"paging reads the whole timeline ({result['read_entries']})": everything,
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK_ENTRIES:,} entries and {QUICK_TURN} alerts a turn")
    entries = QUICK_ENTRIES if args.quick else FULL_ENTRIES
    size = QUICK_TURN if args.quick else FULL_TURN
    rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    print(f"machine: {machine()}")
    print(
        f"{entries} timeline entries; storm turns of {size} alerts, alone / beside / beside / "
        f"alone x{rounds}; readers: {', '.join(READERS)}"
    )
    print(
        f"{'backend':<11} {'storm':<8} {'alerts':>7} {'errors':>6} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8}"
    )
    results = {b.name: run_backend(b, entries, size, rounds) for b in backends(args)}
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
