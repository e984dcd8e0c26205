"""Two checkouts side by side: warroom's server CPU per storm alert and per lone alert.

Usage: python bench/alert_storm_ab.py BASE [--rounds N] [--quick] [--postgres URL]
Serves this checkout's warroom and the one at BASE (a path, e.g. another worktree) at the
same time, each on a fresh database of the same backend and both with the same Slack
sandbox, then sends them alert_storm.py's notifications in turns: a storm of 500 (quick:
250) from 50 connections to each, in the order base, this, this, base, then 60 lone alerts
(quick: 30) to each in the same order; N rounds (default 4). Server CPU per alert is read
from /proc as alert_storm.py reads it. On a machine shared with other work the
yardstick's own figure moves from run to run by more than most changes; two warroom
processes measured in the same turns see the same load, so their difference is the code's.
Prints the running figures after each round, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from _common import backends, slack_env, slack_host, warroom
from alert_storm import CONNECTIONS, TICK, WARMUP, idle, notification, storm, warm

ORDER = ("base", "this", "this", "base")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("base", type=Path, help="the other checkout (its repository root)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="half-size turns")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead")
    args = parser.parse_args()
    per, lone = (250, 30) if args.quick else (500, 60)
    backend = backends(args)[-1]
    here = Path(__file__).resolve().parent.parent
    codes = {"base": str(args.base.resolve()), "this": str(here)}
    storm_cpu = dict.fromkeys(codes, 0.0)
    lone_cpu = dict.fromkeys(codes, 0.0)
    with (
        slack_host() as host,
        warroom(backend, PYTHONPATH=codes["base"], **slack_env(host)) as base,
        warroom(backend, PYTHONPATH=codes["this"], **slack_env(host)) as this,
    ):
        servers = {"base": base, "this": this}
        for server in servers.values():
            warm({"warroom": server})
        number = WARMUP
        for done in range(1, args.rounds + 1):
            for size, connections, cpu in ((per, CONNECTIONS, storm_cpu), (lone, 1, lone_cpu)):
                for name in ORDER:
                    server = servers[name]
                    pid = server.process.pid
                    before = idle(pid)
                    bodies = [notification(n) for n in range(number, number + size)]
                    number += size
                    load = asyncio.run(storm(server.url, bodies, connections))
                    if load.errors:
                        raise SystemExit(f"{name}: {dict(sorted(load.statuses.items()))}")
                    cpu[name] += (idle(pid) - before) / TICK
            sent = done * 2  # turns per checkout per round
            figures = {
                name: {
                    "storm_cpu_ms": round(storm_cpu[name] / (sent * per) * 1000, 3),
                    "lone_cpu_ms": round(lone_cpu[name] / (sent * lone) * 1000, 3),
                }
                for name in codes
            }
            print(f"round {done}: {figures}", flush=True)
    print(json.dumps({"backend": backend.name, "rounds": args.rounds, **figures}))


if __name__ == "__main__":
    main()
