"""Big group: one Alertmanager notification of 2,500 alerts, end to end, vs a bare endpoint.

Usage: python bench/big_group.py [--quick] [--postgres URL]
A node-down storm with `max_alerts: 0` arrives as one body holding the whole group (2,500
alerts, about 1.2 MB here). Starts `python -m bot serve` (sandbox mode, fresh database) and sends
GROUPS such notifications one after another (quick: 2), each a new groupKey (each opens an
incident and stores 2,500 alerts), then each again, as Alertmanager resends a group at
its `repeat_interval` (every alert a repeat). Then the same bodies, one at a time, against
bench/baseline_app.py (FastAPI validating the same pydantic model and answering 202).
Prints a table, then as its last line one JSON object: alerts_per_group, groups, stored,
errors, open_ms, repeat_ms, baseline_ms, open_ratio, repeat_ratio (SQLite), and the same
under "postgresql" when --postgres is given.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx
from _common import (
    AUTH,
    Backend,
    Server,
    backends,
    baseline,
    machine,
    parse_args,
    report,
    settle_gc,
    verdict,
    warroom,
)

ALERTS = 2_500
FULL = 5
QUICK = 2
ROUTE = "/alerts/alertmanager"
TIMEOUT = 10.0  # seconds: Alertmanager's default for a webhook (http_config timeout)
MAX_RATIO = 20.0
STARTS_AT = "2021-03-10T17:56:00+08:00"


def notification(group: int) -> bytes:
    """Group `group`'s body: ALERTS firing alerts, one per node, keys in Alertmanager's wire
    order (`template.Data`'s fields, then version, groupKey and truncatedAlerts)."""
    common = {"alertname": "InstanceDown", "job": "node", "severity": "critical"}
    alerts = []
    for n in range(ALERTS):
        instance = f"node-{n:05d}.bench-{group:02d}.example.com:9100"
        alerts.append(
            {
                "status": "firing",
                "labels": {**common, "instance": instance},
                "annotations": {
                    "summary": "Instance down",
                    "description": f"{instance} of job node has been down for more than 1 minute.",
                },
                "startsAt": STARTS_AT,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0",
                "fingerprint": f"{group:02d}{n:014x}",
            }
        )
    body = {
        "receiver": "warroom",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "InstanceDown"},
        "commonLabels": common,
        "commonAnnotations": {"summary": "Instance down"},
        "externalURL": "http://alertmanager.example.com:9093",
        "version": "4",
        "groupKey": f'{{}}/{{bench="group-{group:02d}"}}:{{alertname="InstanceDown"}}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


def send(url: str, bodies: list[bytes]) -> tuple[list[float], list[int]]:
    """POST each body in turn on one connection; (seconds to each answer, statuses)."""
    seconds, statuses = [], []
    headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(timeout=120) as client:
        client.get(url + "/healthz")
        settle_gc()
        for body in bodies:
            began = time.perf_counter()
            try:
                status = client.post(url + ROUTE, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            seconds.append(time.perf_counter() - began)
            statuses.append(status)
    return seconds, statuses


def stored(server: Server) -> int:
    """Alerts stored over every incident, from the read API."""
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        incidents = client.get("/api/incidents").raise_for_status().json()["incidents"]
        return sum(
            len(client.get(f"/api/incidents/{i['id']}").raise_for_status().json()["alerts"])
            for i in incidents
        )


def run_backend(backend: Backend, bodies: list[bytes]) -> dict[str, Any]:
    """The groups on warroom over this backend (opened, then repeated), then the baseline."""
    with warroom(backend) as server:
        opened, first = send(server.url, bodies)
        repeated, again = send(server.url, bodies)
        kept = stored(server)
    with baseline("baseline_app.py") as bare:
        send(bare.url, bodies[:1])  # warm-up
        base, bare_statuses = send(bare.url, bodies)
    errors = sum(status != 202 for status in first + again + bare_statuses)
    open_ms = statistics.median(opened) * 1000
    repeat_ms = statistics.median(repeated) * 1000
    base_ms = statistics.median(base) * 1000
    for target, times in (("open", opened), ("repeat", repeated), ("baseline", base)):
        shown = " ".join(f"{t * 1000:7.0f}" for t in times)
        print(f"{backend.name:<11} {target:<9} {shown}")
    return {
        "alerts_per_group": ALERTS,
        "body_bytes": len(bodies[0]),
        "groups": len(bodies),
        "stored": kept,
        "errors": errors,
        "open_ms": round(open_ms, 1),
        "open_max_ms": round(max(opened) * 1000, 1),
        "repeat_ms": round(repeat_ms, 1),
        "baseline_ms": round(base_ms, 1),
        "open_ratio": round(open_ms / base_ms, 2),
        "repeat_ratio": round(repeat_ms / base_ms, 2),
    }


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    expected = result["groups"] * result["alerts_per_group"]
    share = result["open_max_ms"] / 1000 / TIMEOUT
    checks = {
        f"every alert stored ({result['stored']}/{expected})": result["stored"] == expected,
        f"every answer 202 ({result['errors']} not)": result["errors"] == 0,
        f"open ratio <= {MAX_RATIO:g} ({result['open_ratio']:.1f})": (
            result["open_ratio"] <= MAX_RATIO
        ),
        f"repeat ratio <= {MAX_RATIO:g} ({result['repeat_ratio']:.1f})": (
            result["repeat_ratio"] <= MAX_RATIO
        ),
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    # Not a bar (this machine's speed is no contract), but what the sender waits for.
    print(f"  {name:<11} info slowest open: {share:.0%} of Alertmanager's {TIMEOUT:g} s timeout")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK} groups instead of {FULL}")
    count = QUICK if args.quick else FULL
    bodies = [notification(group) for group in range(count)]
    print(f"machine: {machine()}")
    print(f"{count} groups of {ALERTS:,} alerts, {len(bodies[0]):,} bytes each, one at a time")
    print(f"{'backend':<11} {'target':<9} ms to each 202")
    results = {backend.name: run_backend(backend, bodies) for backend in backends(args)}
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
