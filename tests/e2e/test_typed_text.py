"""A command typed as Slack delivers it (`&`, `<`, `>` as entities, people picked from the list as
`<@U…|name>`) and a pinned message in Slack's format read right in the channel, the timeline
and the postmortem: unescaped once on the way in, escaped once on the way out.

Slack's rules: docs.slack.dev/messaging/formatting-message-text and
docs.slack.dev/interactivity/implementing-slash-commands (`should_escape`)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Service
from tests.support.server import wait_until


def _get(service: Service, path: str) -> httpx.Response:
    answer = httpx.get(f"{service.url}/api/incidents/{path}", headers=service.auth)
    assert answer.status_code == 200, answer.text
    return answer


def _events(service: Service, incident_id: int, kind: str) -> list[dict]:
    events = _get(service, f"{incident_id}/timeline").json()["events"]
    return [event for event in events if event["kind"] == kind]


def _open(service: Service, title: str) -> tuple[int, str]:
    alert = {"title": title, "severity": "sev3", "labels": {"service": title.split()[0]}}
    answer = httpx.post(f"{service.url}/alerts/generic", json=alert, headers=service.auth)
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incidents"][0]["id"]
    channel = wait_until(lambda: _get(service, str(incident_id)).json()["channel_id"], 10)
    wait_until(lambda: [m for m in service.sandbox.messages(channel) if m.get("pinned_to")], 10)
    return incident_id, channel


def _said(service: Service, channel: str, start: str) -> list[str]:
    return [m["text"] for m in service.sandbox.messages(channel) if m["text"].startswith(start)]


def _told(service: Service, channel: str, user: str, part: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [m["text"] for m in shown if m.get("ephemeral_user") == user and part in m["text"]]


def test_ampersands_and_brackets_read_right_in_channel_timeline_and_postmortem(
    service: Service,
) -> None:
    incident_id, channel = _open(service, "payments latency")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)

    assert alice.command("/incident update ETA 10m & counting <maybe less>", channel)["ok"]

    [update] = wait_until(lambda: _events(service, incident_id, "update"), timeout=10)
    assert update["text"] == "ETA 10m & counting <maybe less>"
    # Escaped once for Slack, which shows "ETA 10m & counting <maybe less>".
    [echo] = wait_until(lambda: _said(service, channel, "<@U0ALICE>:"), timeout=10)
    assert echo.endswith("ETA 10m &amp; counting &lt;maybe less&gt;")
    assert alice.command("/incident timeline", channel)["ok"]
    [shown] = wait_until(lambda: _told(service, channel, "U0ALICE", "Timeline"), timeout=10)
    assert "ETA 10m &amp; counting &lt;maybe less&gt;" in shown
    postmortem = _get(service, f"{incident_id}/postmortem").text
    assert "ETA 10m & counting &lt;maybe less>" in postmortem  # `<` kept out of HTML
    for text in (echo, shown, postmortem, update["text"]):
        assert "&amp;amp;" not in text and "&amp;lt;" not in text


def test_people_picked_typed_or_bare_are_one_person_each(service: Service) -> None:
    incident_id, channel = _open(service, "orders stalled")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)
    service.sandbox.reset_calls()

    # `@bob` and `@dave` are picked from the list: Slack sends `<@U0BOB|bob>`.
    assert alice.command("/incident role commander @bob", channel)["ok"]
    assert alice.command("/incident action Multi-region redundancy @dave", channel)["ok"]
    # Typed without the @: looked up by name.
    assert alice.command("/incident role scribe carol", channel)["ok"]
    assert alice.command("/incident role ops erin", channel)["ok"]
    assert alice.command("/incident update bob & carol on it", channel)["ok"]

    wait_until(lambda: _events(service, incident_id, "update"), timeout=10)
    roles = _get(service, str(incident_id)).json()["roles"]
    assert roles == {"commander": "U0BOB", "scribe": "U0CAROL", "ops": "U0ERIN"}
    assert [e["text"] for e in _events(service, incident_id, "role")] == [
        "commander is now U0BOB",
        "scribe is now U0CAROL",
        "ops is now U0ERIN",
    ]
    assert "<@U0ALICE>: commander is now <@U0BOB>" in _said(service, channel, "<@U0ALICE>:")
    # The directory is read once for both names typed without picking them.
    assert len(service.sandbox.calls("users.list")) == 1
    postmortem = _get(service, f"{incident_id}/postmortem").text
    assert "| Multi-region redundancy | dave |" in postmortem
    responders = postmortem.split("## Responders and roles", 1)[1].split("##", 1)[0]
    assert "| bob | commander |" in responders and "| carol | scribe |" in responders
    assert "@" not in responders and responders.count("bob") == 1


def test_a_person_nobody_is_called_is_refused_privately_and_changes_nothing(
    service: Service,
) -> None:
    incident_id, channel = _open(service, "search down")
    alice = service.sandbox.as_user("alice")
    alice.join(channel)

    assert alice.command("/incident role commander @nobody", channel)["ok"]
    assert alice.command("/incident action Fix the index @nobody", channel)["ok"]
    assert alice.command("/incident note after the refusals", channel)["ok"]

    wait_until(lambda: _events(service, incident_id, "note"), timeout=10)
    refusals = wait_until(
        lambda: (r := _told(service, channel, "U0ALICE", "Nobody")) and len(r) == 2 and r,
        timeout=10,
    )
    assert (
        refusals
        == ["Nobody in this workspace is called `@nobody`: type @ and pick them from the list"] * 2
    )
    assert _events(service, incident_id, "role") == []
    assert _events(service, incident_id, "action") == []
    assert _get(service, str(incident_id)).json()["roles"] == {}
    assert [t for t in _said(service, channel, "<@U0ALICE>:") if "nobody" in t] == []


def test_a_pinned_message_in_slacks_format_reads_right_in_the_postmortem(
    service: Service,
) -> None:
    incident_id, channel = _open(service, "deploys failing")
    bob = service.sandbox.as_user("bob")
    bob.join(channel)
    carol = service.sandbox.as_user("carol")
    carol.join(channel)

    fixed = bob.post(channel, "<https://github.com/x/pull/1|PR #1> fixed &amp; deployed")["ts"]
    bob.pin(channel, fixed)
    # Typed in the client: Slack stores `<@U0BOB>` and `<https://…>`.
    typed = carol.type_message(channel, "thanks @bob, graphs at https://grafana.test/d?a=1&b=2")
    carol.react(channel, typed["ts"], "pushpin")

    pins = wait_until(
        lambda: (p := _events(service, incident_id, "pin")) and len(p) == 2 and p, timeout=10
    )
    assert [p["text"] for p in pins] == [
        "[PR #1](https://github.com/x/pull/1) fixed & deployed",
        "thanks @bob, graphs at https://grafana.test/d?a=1&b=2",
    ]
    postmortem = _get(service, f"{incident_id}/postmortem").text
    assert "[PR #1](https://github.com/x/pull/1) fixed & deployed" in postmortem
    assert "thanks @bob, graphs at https://grafana.test/d?a=1&b=2" in postmortem
    assert "&amp;" not in postmortem and "&lt;https" not in postmortem
