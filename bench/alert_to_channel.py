"""Alert to channel: time from the webhook's 202 to the incident card pinned in its new channel.

Usage: python bench/alert_to_channel.py [--quick] [--postgres URL]
Starts `python -m bot serve` (sandbox mode, fresh database) and, one incident at a time,
POSTs an Alertmanager notification with a new groupKey, then polls every 5 ms (the incident
for its channel id, then the sandbox's messages in that channel) until a pinned message with
blocks appears. 50 incidents (quick: 10), after one warm-up incident timed apart; each starts
once the previous one's Slack calls have stopped, and past Slack's Tier 2 burst of 20 (the
sandbox keeps Slack's rate limits) no sooner than 3 s after the previous one. Prints a table,
then as its last line one JSON object: p50_ms, p99_ms, slack_calls_per_incident (from
sandbox.calls, reset once the warm-up's Slack work is done), slack_ratelimited_per_incident
(those of them Slack answered 429) for SQLite, and the same under "postgresql" with
--postgres.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
from _common import (
    AUTH,
    Backend,
    Server,
    backends,
    machine,
    outbox_idle,
    parse_args,
    percentile,
    report,
    verdict,
    wait_until,
    warroom,
)

FULL = 50
QUICK = 10
POLL = 0.005
TIMEOUT = 30.0
P50_BAR_MS = 300.0
# Opening a SEV1 incident: conversations.create, setTopic, setPurpose, the card
# (chat.postMessage), pins.add, the broadcast (chat.postMessage), and the page's notice
# (chat.postMessage: with no pager configured, "Not paged: PagerDuty is not configured").
# Calls answered 429 count too, and are shown apart: the broadcast channel takes one post
# per incident, faster than Slack's one a second per channel while the first incidents open.
CALLS_BAR = 7
# The sandbox keeps Slack's rate limits: conversations.create, setTopic, setPurpose and
# pins.add are Tier 2, about 20 a minute with a minute's worth at once. Past the first 20
# incidents (the warm-up one included) they start one per 3 s, so the bench times warroom,
# not Slack's Retry-After.
TIER_2_BURST = 20
TIER_2_PACE = 60 / TIER_2_BURST


def notification(number: int) -> dict[str, Any]:
    """A one-alert notification in a group of its own."""
    labels = {"alertname": f"BenchChannel{number:03d}", "service": "bench", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": f'{{}}/{{bench="channel"}}:{{n="{number:03d}"}}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"Bench incident {number:03d}"},
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"Bench incident {number:03d}"},
                "startsAt": "2021-03-10T17:56:00+08:00",
                "fingerprint": f"bench-channel-{number:03d}",
            }
        ],
    }


def one_incident(client: httpx.Client, number: int) -> tuple[float, float]:
    """Open one incident; return (seconds from 202 to channel id, seconds from 202 to card)."""
    answer = client.post("/alerts/alertmanager", json=notification(number))
    accepted = time.perf_counter()
    if answer.status_code != 202:
        raise RuntimeError(f"alert answered {answer.status_code}: {answer.text}")
    incident_id = answer.json()["incidents"][0]["id"]
    deadline = accepted + TIMEOUT
    channel_id = None
    while channel_id is None:
        channel_id = client.get(f"/api/incidents/{incident_id}").json()["channel_id"]
        if channel_id is None:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"incident {incident_id} got no channel in {TIMEOUT:.0f}s")
            time.sleep(POLL)
    channel_at = time.perf_counter()
    while True:
        messages = client.get(
            "/sandbox/api/sandbox.messages", params={"channel": channel_id}
        ).json()["messages"]
        if any(m.get("pinned_to") and m.get("blocks") for m in messages):
            return channel_at - accepted, time.perf_counter() - accepted
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no pinned card in {channel_id} within {TIMEOUT:.0f}s")
        time.sleep(POLL)


def calls(client: httpx.Client) -> list[dict[str, Any]]:
    return client.get("/sandbox/api/sandbox.calls").json()["calls"]


def settle(client: httpx.Client, quiet_for: float = 0.2) -> None:
    """Wait until the sandbox has answered no new Web API call for `quiet_for` seconds."""
    last = [-1]

    def quiet() -> bool:
        count = len(calls(client))
        still, last[0] = count == last[0], count
        return still

    wait_until(quiet, timeout=60, interval=quiet_for, what="Slack calls settled")


def run_backend(backend: Backend, total: int) -> dict[str, Any]:
    """`total` incidents one at a time against warroom on this backend."""
    with (
        warroom(backend) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client,
    ):
        _, warm = one_incident(client, 0)
        # Not only quiet for a moment: the warm-up's later calls (its page's notice waits
        # out the channel's pace) would land among the counted ones.
        wait_until(lambda: outbox_idle(client), timeout=60, interval=0.1, what="warm-up done")
        settle(client)
        client.post("/sandbox/api/sandbox.calls.reset").raise_for_status()
        to_channel: list[float] = []
        to_card: list[float] = []
        started = 0.0
        for number in range(1, total + 1):
            if number >= TIER_2_BURST:
                time.sleep(max(0.0, started + TIER_2_PACE - time.perf_counter()))
            started = time.perf_counter()
            channel, card = one_incident(client, number)
            to_channel.append(channel)
            to_card.append(card)
            settle(client)
        settle(client, quiet_for=2.0)  # late calls (card updates) count too
        made = calls(client)
        methods = Counter(call["method"] for call in made)
        ratelimited = sum(call["status"] == 429 for call in made)
        incidents = len(client.get("/api/incidents").raise_for_status().json()["incidents"])
    check_server(server)
    ms = [value * 1000 for value in to_card]
    channel_ms = [value * 1000 for value in to_channel]
    print(
        f"{backend.name:<11} {total:>9} {percentile(channel_ms, 50):>12.1f} "
        f"{percentile(ms, 50):>9.1f} {percentile(ms, 90):>9.1f} {percentile(ms, 99):>9.1f} "
        f"{max(ms):>9.1f} {warm * 1000:>9.1f}"
    )
    per_incident = {name: round(count / total, 2) for name, count in methods.most_common()}
    print(f"{'':<11} Slack calls per incident: {per_incident}; answered 429: {ratelimited}")
    return {
        "incidents": total,
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "channel_p50_ms": round(percentile(channel_ms, 50), 2),
        "first_ms": round(warm * 1000, 2),
        "slack_calls_per_incident": round(sum(methods.values()) / total, 2),
        "slack_calls_by_method": per_incident,
        "slack_ratelimited_per_incident": round(ratelimited / total, 2),
        "incidents_listed": incidents,
    }


def check_server(server: Server) -> None:
    if server.process.returncode not in (None, 0, -15):
        raise RuntimeError(f"warroom exited with {server.process.returncode}:\n{server.tail()}")


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print each bar for one backend; True when all pass."""
    calls = result["slack_calls_per_incident"]
    checks = {
        f"card p50 < {P50_BAR_MS:.0f} ms ({result['p50_ms']:.1f})": result["p50_ms"] < P50_BAR_MS,
        f"Slack calls per incident <= {CALLS_BAR} ({calls:g})": calls <= CALLS_BAR,
    }
    for label, passed in checks.items():
        print(f"  {name:<11} {verdict(passed):<4} {label}")
    return all(checks.values())


def main() -> None:
    args = parse_args(__doc__, f"{QUICK} incidents instead of {FULL}")
    total = QUICK if args.quick else FULL
    print(f"machine: {machine()}")
    print(f"{total} incidents one at a time; times from the webhook's 202, polling every 5 ms")
    print(
        f"{'backend':<11} {'incidents':>9} {'channel p50':>12} {'card p50':>9} {'card p90':>9} "
        f"{'card p99':>9} {'card max':>9} {'first':>9}"
    )
    results = {backend.name: run_backend(backend, total) for backend in backends(args)}
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    main()
