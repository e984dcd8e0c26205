"""Alert storm: N Alertmanager notifications over 50 connections in 20 groups, vs a bare endpoint.

Usage: python bench/alert_storm.py [--quick] [--postgres URL]
Starts `python -m bot serve` (sandbox mode, fresh database) and sends 10,000 notifications
(quick: 2,000), one alert each with its own fingerprint, round-robin over 20 groupKeys, from
50 concurrent connections. Then the same load against bench/baseline_app.py (FastAPI that
only validates the same pydantic model and answers 202), served by uvicorn the same way.
Prints a table, then as its last line one JSON object: alerts, groups, incidents, stored,
errors, throughput, baseline_throughput, ratio, p50_ms, p99_ms (SQLite), and the same under
"postgresql" when --postgres is given.
"""

from __future__ import annotations

import asyncio
import json
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
    parse_args,
    report,
    verdict,
    warroom,
)

FULL = 10_000
QUICK = 2_000
GROUPS = 20
CONNECTIONS = 50
WARMUP = 200  # baseline only: the warroom run cannot warm up without creating incidents
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


async def storm(url: str, bodies: list[bytes]) -> Load:
    """POST every body over CONNECTIONS concurrent connections; time each answer."""
    headers = {**AUTH, "Content-Type": "application/json"}
    requests = ((ROUTE, body, headers) for body in bodies)
    return await closed_loop(url, requests, sent=len(bodies), connections=CONNECTIONS, expected=202)


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


def run_backend(backend: Backend, bodies: list[bytes]) -> dict[str, Any]:
    """The storm on warroom over this backend, then on the baseline beside it."""
    with warroom(backend) as server:
        load = asyncio.run(storm(server.url, bodies))
        incidents, stored, distinct = counted(server)
    with baseline("baseline_app.py") as bare:
        asyncio.run(storm(bare.url, [notification(n) for n in range(WARMUP)]))
        base = asyncio.run(storm(bare.url, bodies))
    ratio = load.throughput / base.throughput
    print(
        f"{backend.name:<11} {'warroom':<9} {load.sent:>7} {load.errors:>6} "
        f"{load.seconds:>8.2f} {load.throughput:>8.0f} {load.ms(50):>8.1f} {load.ms(99):>8.1f}"
    )
    print(
        f"{backend.name:<11} {'baseline':<9} {base.sent:>7} {base.errors:>6} "
        f"{base.seconds:>8.2f} {base.throughput:>8.0f} {base.ms(50):>8.1f} {base.ms(99):>8.1f}"
    )
    if load.errors:
        print(f"{'':<11} statuses: {dict(sorted(load.statuses.items()))}")
    return {
        "alerts": load.sent,
        "groups": GROUPS,
        "incidents": incidents,
        "stored": stored,
        "distinct_fingerprints": distinct,
        "errors": load.errors,
        "server_errors": load.server_errors,
        "throughput": round(load.throughput, 1),
        "baseline_throughput": round(base.throughput, 1),
        "ratio": round(ratio, 3),
        "p50_ms": round(load.ms(50), 2),
        "p99_ms": round(load.ms(99), 2),
        "baseline_p50_ms": round(base.ms(50), 2),
        "baseline_p99_ms": round(base.ms(99), 2),
    }


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    checks = {
        f"exactly {GROUPS} incidents ({result['incidents']})": result["incidents"] == GROUPS,
        f"every alert stored ({result['stored']}/{result['alerts']})": (
            result["stored"] == result["alerts"] == result["distinct_fingerprints"]
        ),
        f"no 5xx ({result['server_errors']})": result["server_errors"] == 0,
        f"ratio >= 0.5 ({result['ratio']:.2f})": result["ratio"] >= 0.5,
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK:,} notifications instead of {FULL:,}")
    total = QUICK if args.quick else FULL
    bodies = [notification(n) for n in range(total)]
    print(f"machine: {machine()}")
    print(f"{total} notifications, {GROUPS} groups, {CONNECTIONS} connections")
    print(
        f"{'backend':<11} {'target':<9} {'alerts':>7} {'errors':>6} {'seconds':>8} "
        f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    )
    results = {backend.name: run_backend(backend, bodies) for backend in backends(args)}
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
