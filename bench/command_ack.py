"""Slash-command ack: time POST /slack/events for signed `/incident note` at 20 concurrent.

Usage: python bench/command_ack.py [--quick] [--postgres URL]
Starts a `python -m bot serve` in sandbox mode to play Slack, then the measured one (fresh
database) with that sandbox's credentials and Web API URL, as against real Slack: Slack's
side of the echoes runs in another process, as in production. Opens an incident by alert,
waits for its channel, then sends 2,000 signed `/incident note ...` commands (quick: 400)
in that channel from 20 concurrent connections, timing each HTTP answer (the ack; the note
is recorded and echoed after it), and the same number against bench/baseline_bolt.py, a
bare Bolt AsyncApp that only acks, mounted the same way with the same signing secret. Each
target gets half its commands in each of two segments, in the order warroom, baseline,
baseline, warroom; each warroom segment's notes are recorded and echoed before the next.
Prints a table, then as its last line one JSON object: p50_ms, p99_ms, baseline_p99_ms, ratio
(p99 over the baseline's p99) for SQLite, and the same under "postgresql" with --postgres.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

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
    slack_env,
    slack_host,
    verdict,
    wait_until,
    warroom,
)

FULL = 2_000
QUICK = 400
CONCURRENCY = 20
WARMUP = 40
P99_BAR_MS = 50.0
RATIO_BAR = 1.5
STALL = 10.0  # seconds without a new note before the missing ones count as lost
# Who is timed when: ABBA, so a machine slowing down or speeding up during the run weighs
# on both targets alike instead of on whichever ran second. (Each segment is still a
# sustained burst of 500 commands, 100 quick: the work after each ack overlaps it.)
SEGMENTS = ("warroom", "baseline", "baseline", "warroom")


@dataclass(frozen=True)
class Slack:
    """What the sandbox tells us to sign and address commands like Slack does."""

    api_url: str
    signing_secret: str
    bot_token: str
    team_id: str
    app_id: str
    user_id: str
    user_name: str

    @classmethod
    def of(cls, server: Server) -> Slack:
        api_url = f"{server.url}/sandbox/api/"
        info = httpx.get(api_url + "sandbox.info", timeout=10).raise_for_status().json()
        user = next(u for u in info["users"] if not u.get("is_bot"))
        return cls(
            api_url=api_url,
            signing_secret=info["signing_secret"],
            bot_token=info["bot_token"],
            team_id=info["team"]["id"],
            app_id=info["bot"]["app_id"],
            user_id=user["id"],
            user_name=user["name"],
        )

    def signed(self, channel: tuple[str, str], text: str, number: int) -> tuple[bytes, dict]:
        """A `/incident` command's form body and headers, signed now (v0)."""
        form = {
            "token": "benchverificationtoken",
            "team_id": self.team_id,
            "team_domain": "warroom-bench",
            "channel_id": channel[0],
            "channel_name": channel[1],
            "user_id": self.user_id,
            "user_name": self.user_name,
            "command": "/incident",
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.api_url.removesuffix('api/')}response/bench-{number}",
            # Unique per command: the listener keys its idempotency on it.
            "trigger_id": f"{number}.{secrets.token_hex(8)}",
        }
        body = urlencode(form).encode()
        stamp = str(int(time.time()))
        base = b"v0:" + stamp.encode() + b":" + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        return body, headers


async def commands(url: str, slack: Slack, channel: tuple[str, str], numbers: range) -> Load:
    """Send one `/incident note` per number from CONCURRENCY connections; time each answer."""
    requests = (
        ("/slack/events", *slack.signed(channel, f"note bench note {number}", number))
        for number in numbers
    )
    return await closed_loop(
        url, requests, sent=len(numbers), connections=CONCURRENCY, expected=200
    )


def open_incident(server: Server) -> tuple[int, tuple[str, str]]:
    """Open an incident by alert; return its id and (channel id, name) once it has one."""
    alert = {
        "version": "4",
        "groupKey": '{}/{bench="command-ack"}',
        "status": "firing",
        "commonLabels": {"alertname": "BenchCommandAck", "service": "bench"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "BenchCommandAck", "service": "bench"},
                "annotations": {"summary": "Bench: slash-command ack"},
                "fingerprint": "bench-command-ack",
            }
        ],
    }
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        answer = client.post("/alerts/alertmanager", json=alert).raise_for_status().json()
        incident_id = answer["incidents"][0]["id"]

        def channel() -> tuple[str, str] | None:
            detail = client.get(f"/api/incidents/{incident_id}").json()
            return (detail["channel_id"], detail["channel_name"]) if detail["channel_id"] else None

        return incident_id, wait_until(channel, timeout=30, what="the incident's channel")


def settle(server: Server, host: Server, incident_id: int, notes: int) -> tuple[int, float]:
    """Wait for every note in the timeline (or no progress for 10 s), then for Slack calls to
    stop; return (notes recorded, seconds waited)."""
    began = time.perf_counter()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:

        def recorded() -> int:
            # The timeline answers a page at a time: read it to the end.
            count, params = 0, {"limit": "1000"}
            while True:
                page = client.get(f"/api/incidents/{incident_id}/timeline", params=params).json()
                count += sum(1 for event in page["events"] if event["kind"] == "note")
                if page["next_cursor"] is None:
                    return count
                params = {"limit": "1000", "cursor": page["next_cursor"]}

        count, progress_at = recorded(), time.perf_counter()
        while count < notes and time.perf_counter() - progress_at < STALL:
            time.sleep(0.5)
            now = recorded()
            if now != count:
                count, progress_at = now, time.perf_counter()
        last = [-1]

        def quiet() -> bool:
            calls = httpx.get(f"{host.url}/sandbox/api/sandbox.calls", timeout=60)
            calls = len(calls.json()["calls"])
            still, last[0] = calls == last[0], calls
            return still

        wait_until(quiet, timeout=600, interval=1.0, what="Slack calls settled")
    return count, time.perf_counter() - began


def run_backend(backend: Backend, total: int) -> dict[str, Any]:
    """Commands against warroom and against the bare Bolt app, in alternating segments."""
    size = total * 2 // len(SEGMENTS)  # each target gets `total`
    runs: dict[str, list[Load]] = {"warroom": [], "baseline": []}
    drains: list[float] = []
    with slack_host() as host, warroom(backend, **slack_env(host)) as server:
        slack = Slack.of(host)
        incident_id, channel = open_incident(server)
        env = {
            "BENCH_SLACK_SIGNING_SECRET": slack.signing_secret,
            "BENCH_SLACK_BOT_TOKEN": slack.bot_token,
            "BENCH_SLACK_API_URL": slack.api_url,
        }
        with baseline("baseline_bolt.py", **env) as bare:
            warm = asyncio.run(commands(server.url, slack, channel, range(WARMUP)))
            warm_recorded, _ = settle(server, host, incident_id, WARMUP)
            asyncio.run(commands(bare.url, slack, channel, range(WARMUP)))
            sent = WARMUP
            for number, target in enumerate(SEGMENTS):
                numbers = range(WARMUP + number * size, WARMUP + (number + 1) * size)
                url = server.url if target == "warroom" else bare.url
                runs[target].append(asyncio.run(commands(url, slack, channel, numbers)))
                if target == "warroom":
                    # Its notes recorded and echoed before the next segment starts, so
                    # neither target is timed while the other is still busy.
                    sent += size
                    recorded, drained = settle(server, host, incident_id, sent)
                    drains.append(drained)
    acks, base = Load.pooled(runs["warroom"]), Load.pooled(runs["baseline"])
    for target, run in (("warroom", acks), ("baseline", base)):
        print(
            f"{backend.name:<11} {target:<9} {run.sent:>8} {run.errors:>6} {run.seconds:>8.2f} "
            f"{run.sent / run.seconds:>7.0f} {run.ms(50):>8.1f} {run.ms(90):>8.1f} "
            f"{run.ms(99):>8.1f} {max(run.latencies) * 1000:>8.1f}"
        )
    acked = sent - warm.errors - acks.errors
    lost = acked - recorded
    print(
        f"{'':<11} warroom recorded {recorded} of {acked} acked notes "
        f"({warm_recorded} of the {WARMUP} warm-up ones); each segment's notes were all in "
        f"and echoed within {max(drains):.1f} s of its last ack"
    )
    return {
        "commands": acks.sent,
        "concurrency": CONCURRENCY,
        "errors": acks.errors,
        "p50_ms": round(acks.ms(50), 2),
        "p99_ms": round(acks.ms(99), 2),
        "max_ms": round(max(acks.latencies) * 1000, 2),
        "baseline_p50_ms": round(base.ms(50), 2),
        "baseline_p99_ms": round(base.ms(99), 2),
        "ratio": round(acks.ms(99) / base.ms(99), 3),
        "drain_s": round(max(drains), 2),
        "acked_notes": acked,
        "recorded_notes": recorded,
        "lost_notes": lost,
    }


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    checks = {
        f"p99 < {P99_BAR_MS:.0f} ms ({result['p99_ms']:.1f})": result["p99_ms"] < P99_BAR_MS,
        f"ratio <= {RATIO_BAR} ({result['ratio']:.2f})": result["ratio"] <= RATIO_BAR,
        f"every command acked ({result['errors']} errors)": result["errors"] == 0,
        f"every acked note recorded ({result['lost_notes']} lost)": result["lost_notes"] == 0,
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK:,} commands instead of {FULL:,}")
    total = QUICK if args.quick else FULL
    print(f"machine: {machine()}")
    print(f"{total} signed /incident note commands, {CONCURRENCY} concurrent")
    print(
        f"{'backend':<11} {'target':<9} {'commands':>8} {'errors':>6} {'seconds':>8} "
        f"{'cmd/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    results = {backend.name: run_backend(backend, total) for backend in backends(args)}
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
