"""Issue 21, points 4, 6 and 8, as responders meet them in Slack: times that cannot be are
refused privately and change nothing, a backdate before the impact start is kept with a
warning, the summary is the last resolve's, commands tick off the playbook tasks they do,
and bad input is refused naming its actual problem."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import Service
from tests.support.server import wait_until

HKT = ZoneInfo("Asia/Hong_Kong")  # the test service's WARROOM_TIMEZONE


def _open(service: Service, *, started_ago: timedelta, service_label: str) -> tuple[int, str]:
    """A generic alert whose impact started `started_ago`; its incident and channel."""
    starts = (datetime.now(UTC) - started_ago).isoformat()
    body = {
        "title": "Order matching errors",
        "severity": "sev3",
        "labels": {"service": service_label},
        "starts_at": starts,
    }
    answer = httpx.post(f"{service.url}/alerts/generic", json=body, headers=service.auth)
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incidents"][0]["id"]
    api = f"{service.url}/api/incidents/{incident_id}"
    channel = wait_until(lambda: httpx.get(api, headers=service.auth).json()["channel_id"], 15)
    return incident_id, channel


def _get(service: Service, path: str) -> Any:
    answer = httpx.get(f"{service.url}/api/incidents{path}", headers=service.auth)
    assert answer.status_code == 200, answer.text
    return answer.json() if "json" in answer.headers["content-type"] else answer.text


def _private(service: Service, channel: str, user: str, pattern: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [
        m["text"]
        for m in shown
        if m.get("ephemeral_user") == user and re.search(pattern, m.get("text") or "")
    ]


def _said(service: Service, channel: str, pattern: str) -> list[str]:
    return [
        m["text"]
        for m in service.sandbox.messages(channel)
        if re.search(pattern, m.get("text") or "")
    ]


def _hkt(when: datetime, *, date: bool = False) -> str:
    return when.astimezone(HKT).strftime("%Y-%m-%d %H:%M" if date else "%H:%M")


def test_a_milestone_out_of_order_is_refused_privately_and_changes_nothing(
    service: Service,
) -> None:
    incident_id, channel = _open(service, started_ago=timedelta(minutes=30), service_label="orders")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)
    before = _get(service, f"/{incident_id}")["milestones"]
    events = len(_get(service, f"/{incident_id}/timeline")["events"])

    # The day before the impact started: the "-17h 43m".
    day_before = datetime.now(UTC) - timedelta(days=1, hours=1)
    alice.command(f"/incident time acknowledged {_hkt(day_before, date=True)}", channel)
    (refused,) = wait_until(
        lambda: _private(service, channel, "U0ALICE", "acknowledged cannot be"), timeout=10
    )
    started = datetime.fromisoformat(before["started"]["at"])
    assert refused == (
        f"Not changed: acknowledged cannot be before started ({_hkt(started, date=True)})"
    )

    # Acknowledged before detected (the alert arrived a moment ago).
    alice.command("/incident ack", channel)
    wait_until(lambda: _said(service, channel, "acknowledged the incident"), timeout=10)
    detected = datetime.fromisoformat(
        _get(service, f"/{incident_id}")["milestones"]["detected"]["at"]
    )
    earlier = detected - timedelta(minutes=10)
    alice.command(f"/incident time acknowledged {_hkt(earlier, date=True)}", channel)
    wait_until(
        lambda: _private(service, channel, "U0ALICE", "acknowledged cannot be before detected"),
        timeout=10,
    )
    # In the future.
    later = datetime.now(UTC) + timedelta(hours=2)
    alice.command(f"/incident time mitigated {_hkt(later, date=True)}", channel)
    wait_until(lambda: _private(service, channel, "U0ALICE", "is in the future"), timeout=10)

    after = _get(service, f"/{incident_id}")["milestones"]
    assert after["acknowledged"]["source"] == "command"  # the ack, never a refused backdate
    assert after["acknowledged"]["history"] == []
    assert "mitigated" not in after
    kinds = [e["kind"] for e in _get(service, f"/{incident_id}/timeline")["events"][events:]]
    assert "time" not in kinds
    assert not _said(service, channel, "Milestone \\*")


def test_a_log_before_the_impact_start_is_kept_in_order_with_a_warning(service: Service) -> None:
    incident_id, channel = _open(service, started_ago=timedelta(minutes=20), service_label="orders")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)
    early = datetime.now(UTC) - timedelta(minutes=90)
    alice.command(f"/incident log {_hkt(early)} deploy 4512 rolled out", channel)

    (echo,) = wait_until(lambda: _said(service, channel, "deploy 4512"), timeout=10)
    started = _get(service, f"/{incident_id}")["milestones"]["started"]["at"]
    assert "is before the impact started" in echo
    assert _hkt(datetime.fromisoformat(started), date=True) in echo
    events = _get(service, f"/{incident_id}/timeline")["events"]
    logged = next(e for e in events if e["text"] == "deploy 4512 rolled out")
    assert (logged["source"], events[0]) == ("backdate", logged)  # first: it came first

    markdown = _get(service, f"/{incident_id}/postmortem")
    row = next(line for line in markdown.splitlines() if "deploy 4512" in line)
    shown = early.astimezone(HKT)
    on_start_day = shown.date() == datetime.fromisoformat(started).astimezone(HKT).date()
    assert row.startswith(f"| {_hkt(early, date=not on_start_day)} |")


def test_the_summary_is_the_last_resolve_after_a_reopen(service: Service) -> None:
    incident_id, channel = _open(service, started_ago=timedelta(minutes=5), service_label="orders")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)
    for text in ("resolve restarted the gateway", "reopen", "resolve rolled back deploy 4512"):
        alice.command(f"/incident {text}", channel)
        word = text.split()[0]
        wait_until(
            lambda w=word: (
                _get(service, f"/{incident_id}")["status"]
                == ("investigating" if w == "reopen" else "resolved")
            ),
            timeout=10,
        )

    markdown = _get(service, f"/{incident_id}/postmortem")
    summary = markdown.split("## Summary\n\n", 1)[1].split("\n", 1)[0]
    assert summary == "rolled back deploy 4512"


def test_commands_tick_off_the_tasks_they_do_in_the_postmortem(service: Service) -> None:
    incident_id, channel = _open(
        service, started_ago=timedelta(minutes=3), service_label="matching-engine"
    )
    bob = service.sandbox.as_user("bob")
    bob.join(channel)
    bob.command("/incident task done 1", channel)
    wait_until(lambda: _said(service, channel, "Task 1 done"), timeout=10)
    bob.command("/incident ack", channel)
    wait_until(lambda: _said(service, channel, "acknowledged the incident"), timeout=10)
    bob.command("/incident update Trading is intermittently unavailable", channel)
    wait_until(lambda: _said(service, channel, "Status update: Trading"), timeout=10)

    markdown = _get(service, f"/{incident_id}/postmortem")
    rows = {
        cells[0]: cells
        for line in markdown.split("## Playbook adherence", 1)[1].splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split(" | ")])
    }
    assert rows["Detect"][4] == "2 of 3"
    assert rows["Emergency response"][4] == "1 of 4"
    done = markdown.split("Tasks done, and what did them:\n", 1)[1].split("\n\n", 1)[0]
    lines = done.splitlines()
    assert re.fullmatch(
        r"- Detect: Confirm API users receive error code 30030 \(matching engine upgrade in "
        r"progress\): ticked off \(bob, \d\d:\d\d\)",
        lines[0],
    )
    assert re.fullmatch(
        r"- Detect: Acknowledge with /incident ack to start the emergency response: "
        r"done on acknowledged \(bob, \d\d:\d\d\)",
        lines[1],
    )
    assert re.fullmatch(
        r"- Emergency response: Post a first status update: done by `/incident update` "
        r"\(bob, \d\d:\d\d\)",
        lines[2],
    )
    assert "Tasks not done in the stages reached:" in markdown


def test_bad_input_is_refused_naming_its_problem(service: Service) -> None:
    alice = service.sandbox.as_user("alice")
    answer = alice.command("/incident declare Foo sev9", "general")
    assert answer["response"]["text"] == (
        "`sev9` is not a severity (sev1, sev2, sev3 or sev4). "
        "Usage: `/incident declare &lt;title&gt; [sev1-4] [playbook:&lt;id&gt;] [--private]`"
    )
    assert _get(service, "")["incidents"] == []

    # A title may end in a word like "sev": it opens, at the default severity.
    alice.command("/incident declare Pager rota for sev", "general")
    (opened,) = wait_until(lambda: _get(service, "")["incidents"], timeout=10)
    assert (opened["title"], opened["severity"]) == ("Pager rota for sev", "sev3")

    channel = wait_until(lambda: _get(service, f"/{opened['id']}")["channel_id"], timeout=10)
    if "U0ALICE" not in service.sandbox.channel(channel)["members"]:
        alice.join(channel)
    log = alice.command("/incident log 25:99 x", channel)["response"]["text"]
    assert log.startswith("`25:99` is not a valid time of day (00:00 to 23:59, as HH:MM)")
    role = alice.command("/incident role boss @carol", channel)["response"]["text"]
    assert role.startswith("Unknown role `boss` (one of commander, comms, scribe, ops)")
