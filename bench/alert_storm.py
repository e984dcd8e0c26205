"""Alert storm: server CPU per alert against a durable yardstick, and a lone alert's.

Usage: python bench/alert_storm.py [--quick] [--postgres URL]
Starts a `python -m bot serve` in sandbox mode to play Slack, then the measured one (fresh
database) with that sandbox's credentials and Web API URL, as against real Slack (Slack's
side of opening the incidents runs in another process), beside two baselines served by
uvicorn the same way: bench/baseline_durable.py, the durable yardstick (FastAPI validating
the same pydantic model and committing one SQLite row per request, WAL with synchronous=FULL,
requests arriving together sharing one commit), and bench/baseline_app.py (the same model,
no storage: HTTP, JSON and pydantic alone). After a warm-up that opens the 20 incidents,
10,000 notifications (quick: 2,000), one alert each with its own fingerprint, round-robin
over 20 groupKeys, from 50 concurrent connections, go to each target in turns (warroom,
yardstick, bare, bare, yardstick, warroom), so none is timed while another is busy; the
turns go round three times (quick: once). Then the lone alert: 2,000 (quick: 120) single
requests one after another, in the same turns five times over (quick: once).
Server CPU per request is the server process's utime+stime (/proc/PID/stat) over a turn,
until it is idle again, divided by the turn's requests.
Prints a table, then as its last line one JSON object: alerts, groups, incidents, stored,
errors, throughput, p50_ms, p99_ms, cpu_ms (per alert), the yardstick's and the bare
baseline's, cpu_ratio (warroom over yardstick), lone_cpu_ms, lone_cpu_ratio, ratio (throughput
over the bare baseline's), for SQLite, and the same under "postgresql" with --postgres.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from _common import (
    AUTH,
    Backend,
    Load,
    Server,
    backends,
    baseline,
    closed_loop,
    machine,
    outbox_idle,
    parse_args,
    report,
    slack_env,
    slack_host,
    verdict,
    wait_until,
    warroom,
)

FULL = 10_000
QUICK = 2_000
# /proc counts CPU in 10 ms ticks: at 400 lone alerts a yardstick turn was 14 ticks, so one
# tick either side moved its figure 7%; 2,000 make a turn 70 ticks.
LONE_FULL = 2_000
LONE_QUICK = 120
# The machine's own pace (another VM, the CPU's clock) moves during a run: one storm turn
# on a fast stretch and the next target's on a slow one moved the CPU ratio by a fifth. So
# the turns go round several times, each target's figure the sum over turns spread across
# the whole run: the storm's three times (six turns each), the lone alerts' five (ten).
STORM_ROUNDS = 3
LONE_ROUNDS = 5
GROUPS = 20
CONNECTIONS = 50
WARMUP = 200  # on every target; warroom's opens the 20 incidents, outside the timed turns
CPU_RATIO_BAR = 1.25
LONE_RATIO_BAR = 2.0
THROUGHPUT_RATIO_BAR = 0.5
# Who is timed when: ABC CBA, so a machine slowing down or speeding up during the run
# weighs on every target alike instead of on whichever ran last.
TURNS = ("warroom", "yardstick", "bare", "bare", "yardstick", "warroom")
TICK = os.sysconf("SC_CLK_TCK")
IDLE_POLL = 0.25  # seconds between CPU readings while waiting for a server to go idle
IDLE_TICKS = 1  # at most this many ticks in one poll: idle
IDLE_TIMEOUT = 60.0
ROUTE = "/alerts/alertmanager"
STARTS_AT = "2021-03-10T17:56:00+08:00"


def notification(number: int) -> bytes:
    """The body of notification `number`: one firing alert, in group number % GROUPS."""
    group = number % GROUPS
    name = f"BenchStorm{group:02d}"
    service = f"bench-{group:02d}"
    common = {"alertname": name, "service": service, "severity": "warning"}
    labels = {**common, "instance": f"host-{number:05d}.bench.example.com:9100"}
    summary = f"Bench storm group {group:02d} is firing"
    body = {
        "version": "4",
        "groupKey": f'{{}}/{{bench="storm"}}:{{group="{group:02d}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": name},
        "commonLabels": common,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary, "description": f"instance {number}"},
                "startsAt": STARTS_AT,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr=up%3D%3D{number}",
                "fingerprint": f"{group:02d}{number:014x}",
            }
        ],
    }
    return json.dumps(body).encode()


async def storm(
    url: str,
    bodies: list[bytes],
    connections: int = CONNECTIONS,
    on_start: Callable[[], object] | None = None,
) -> Load:
    """POST every body over `connections` concurrent connections; time each answer.
    `on_start` is called as the first one goes (the clients connected)."""
    headers = {**AUTH, "Content-Type": "application/json"}
    requests = ((ROUTE, body, headers) for body in bodies)
    return await closed_loop(
        url, requests, sent=len(bodies), connections=connections, expected=202, on_start=on_start
    )


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may hold spaces; count fields after its closing ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def idle(pid: int) -> int:
    """Wait until the process spends (next to) no CPU; return its ticks then. Work a turn
    left behind (the outbox, a late commit) counts toward that turn."""
    deadline = time.monotonic() + IDLE_TIMEOUT
    last = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(IDLE_POLL)
        now = cpu_ticks(pid)
        if now - last <= IDLE_TICKS:
            return now
        last = now
    return last


@dataclass
class Turns:
    """What each target's turns saw: the loads and the server CPU (seconds) they cost."""

    loads: list[Load]
    cpu: float = 0.0

    @property
    def load(self) -> Load:
        return Load.pooled(self.loads)

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.load.sent * 1000


def take_turns(
    servers: dict[str, Server], numbers: range, *, connections: int, rounds: int = 1
) -> dict[str, Turns]:
    """Send each target its notifications in TURNS, `rounds` times over (each target gets
    every number once), one target at a time, each idle before and after its turn; CPU
    read from /proc."""
    turns = {name: Turns([]) for name in servers}
    order = TURNS * rounds
    # Each target's numbers cut evenly into its turns, the remainder spread over them.
    cuts = {name: order.count(name) for name in servers}
    taken = dict.fromkeys(servers, 0)
    for name in order:
        turn, share = taken[name], len(numbers) / cuts[name]
        part = numbers[round(turn * share) : round((turn + 1) * share)]
        taken[name] += 1
        server = servers[name]
        pid = server.process.pid
        before = idle(pid)
        bodies = [notification(n) for n in part]
        turns[name].loads.append(asyncio.run(storm(server.url, bodies, connections)))
        turns[name].cpu += (idle(pid) - before) / TICK
    return turns


def counted(server: Server) -> tuple[int, int, int]:
    """(incidents, alerts stored over them, distinct fingerprints stored) from the read API."""
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        incidents = client.get("/api/incidents").raise_for_status().json()["incidents"]
        stored = 0
        fingerprints: set[str] = set()
        for incident in incidents:
            detail = client.get(f"/api/incidents/{incident['id']}").raise_for_status().json()
            stored += len(detail["alerts"])
            fingerprints.update(alert["fingerprint"] for alert in detail["alerts"])
    return len(incidents), stored, len(fingerprints)


def warm(servers: dict[str, Server]) -> None:
    """The same WARMUP notifications to each target; warroom's open the incidents, whose
    channels and cards are made before any turn starts."""
    bodies = [notification(n) for n in range(WARMUP)]
    for server in servers.values():
        asyncio.run(storm(server.url, bodies))
    with httpx.Client(base_url=servers["warroom"].url, headers=AUTH, timeout=60) as client:

        def channels() -> bool:
            incidents = client.get("/api/incidents").raise_for_status().json()["incidents"]
            return len(incidents) == GROUPS and all(i["channel_id"] for i in incidents)

        wait_until(channels, timeout=120, interval=0.5, what="every incident's channel")

        # Opening an incident leaves Slack work behind its channel (the card, the broadcast,
        # the pins), paced by Slack's per-channel rate limits for many seconds at little CPU:
        # left running, it lands in whichever turns come first.
        wait_until(
            lambda: outbox_idle(client), timeout=300, interval=0.5, what="the Slack work done"
        )


def row(backend: str, target: str, load: Load, cpu_ms: float) -> None:
    print(
        f"{backend:<11} {target:<15} {load.sent:>7} {load.errors:>6} {load.seconds:>8.2f} "
        f"{load.throughput:>8.0f} {load.ms(50):>8.1f} {load.ms(99):>8.1f} {cpu_ms:>7.3f}"
    )


def run_backend(
    backend: Backend, total: int, lone: int, storm_rounds: int, lone_rounds: int
) -> dict[str, Any]:
    """The storm and the lone alerts on warroom over this backend and on both baselines."""
    with (
        slack_host() as host,
        warroom(backend, **slack_env(host)) as server,
        baseline("baseline_durable.py") as durable,
        baseline("baseline_app.py") as bare,
    ):
        servers = {"warroom": server, "yardstick": durable, "bare": bare}
        warm(servers)
        stormed = take_turns(
            servers, range(WARMUP, WARMUP + total), connections=CONNECTIONS, rounds=storm_rounds
        )
        first = WARMUP + total
        alone = take_turns(servers, range(first, first + lone), connections=1, rounds=lone_rounds)
        incidents, stored, distinct = counted(server)
    for name, turns in stormed.items():
        row(backend.name, f"{name} storm", turns.load, turns.cpu_ms)
    for name, turns in alone.items():
        row(backend.name, f"{name} lone", turns.load, turns.cpu_ms)
    load, yard, base = (stormed[name].load for name in ("warroom", "yardstick", "bare"))
    if load.errors:
        print(f"{'':<11} statuses: {dict(sorted(load.statuses.items()))}")
    lone_errors = alone["warroom"].load.errors
    return {
        "alerts": WARMUP + total + lone,
        "storm_alerts": total,
        "lone_alerts": lone,
        "groups": GROUPS,
        "incidents": incidents,
        "stored": stored,
        "distinct_fingerprints": distinct,
        "errors": load.errors + lone_errors,
        "server_errors": load.server_errors + alone["warroom"].load.server_errors,
        "throughput": round(load.throughput, 1),
        "p50_ms": round(load.ms(50), 2),
        "p99_ms": round(load.ms(99), 2),
        "cpu_ms": round(stormed["warroom"].cpu_ms, 3),
        "yardstick_throughput": round(yard.throughput, 1),
        "yardstick_p50_ms": round(yard.ms(50), 2),
        "yardstick_p99_ms": round(yard.ms(99), 2),
        "yardstick_cpu_ms": round(stormed["yardstick"].cpu_ms, 3),
        "baseline_throughput": round(base.throughput, 1),
        "baseline_p50_ms": round(base.ms(50), 2),
        "baseline_p99_ms": round(base.ms(99), 2),
        "baseline_cpu_ms": round(stormed["bare"].cpu_ms, 3),
        "cpu_ratio": round(stormed["warroom"].cpu_ms / stormed["yardstick"].cpu_ms, 3),
        "ratio": round(load.throughput / base.throughput, 3),
        "yardstick_ratio": round(load.throughput / yard.throughput, 3),
        "lone_p50_ms": round(alone["warroom"].load.ms(50), 2),
        "lone_cpu_ms": round(alone["warroom"].cpu_ms, 3),
        "yardstick_lone_p50_ms": round(alone["yardstick"].load.ms(50), 2),
        "yardstick_lone_cpu_ms": round(alone["yardstick"].cpu_ms, 3),
        "baseline_lone_cpu_ms": round(alone["bare"].cpu_ms, 3),
        "lone_cpu_ratio": round(alone["warroom"].cpu_ms / alone["yardstick"].cpu_ms, 3),
    }


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    checks = {
        f"exactly {GROUPS} incidents ({result['incidents']})": result["incidents"] == GROUPS,
        f"every alert stored ({result['stored']}/{result['alerts']})": (
            result["stored"] == result["alerts"] == result["distinct_fingerprints"]
        ),
        f"no 5xx ({result['server_errors']})": result["server_errors"] == 0,
        f"ratio >= {THROUGHPUT_RATIO_BAR} ({result['ratio']:.2f})": (
            result["ratio"] >= THROUGHPUT_RATIO_BAR
        ),
        f"storm CPU ratio <= {CPU_RATIO_BAR} ({result['cpu_ratio']:.2f})": (
            result["cpu_ratio"] <= CPU_RATIO_BAR
        ),
        f"lone CPU ratio <= {LONE_RATIO_BAR} ({result['lone_cpu_ratio']:.2f})": (
            result["lone_cpu_ratio"] <= LONE_RATIO_BAR
        ),
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK:,} notifications instead of {FULL:,}")
    total, lone = (QUICK, LONE_QUICK) if args.quick else (FULL, LONE_FULL)
    storm_rounds, lone_rounds = (1, 1) if args.quick else (STORM_ROUNDS, LONE_ROUNDS)
    print(f"machine: {machine()}")
    print(
        f"{total} notifications, {GROUPS} groups, {CONNECTIONS} connections, "
        f"{storm_rounds} round(s) of turns; "
        f"{lone} lone alerts, one in flight, in {lone_rounds} round(s) of turns"
    )
    print(
        f"{'backend':<11} {'target':<15} {'alerts':>7} {'errors':>6} {'seconds':>8} "
        f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7}"
    )
    results = {
        backend.name: run_backend(backend, total, lone, storm_rounds, lone_rounds)
        for backend in backends(args)
    }
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
