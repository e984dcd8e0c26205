"""Hostile alert and responder text, as the sandbox stores what warroom sent: shown, never
parsed. Slack's rules: https://api.slack.com/reference/surfaces/formatting#escaping"""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Service
from tests.support.server import wait_until

TITLE = "Disk <!channel> & <@U123> full"
SHOWN = "Disk &lt;!channel&gt; &amp; &lt;@U123&gt; full"
# A URL that, put in a link unencoded, would choose the label and break out of the link.
URL = "https://grafana.test/d/x?a=1&b=2|click here><!here>"
LINK = "<https://grafana.test/d/x?a=1&amp;b=2%7Cclick%20here%3E%3C!here%3E|alert 1>"


def _card(service: Service, channel: str) -> dict | None:
    return next((m for m in service.sandbox.messages(channel) if m.get("pinned_to")), None)


def _ephemeral(service: Service, channel: str, user: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [m["text"] for m in shown if m.get("ephemeral_user") == user]


def test_alert_text_and_urls_reach_slack_escaped_everywhere(service: Service) -> None:
    sandbox = service.sandbox
    alert = {"title": TITLE, "severity": "sev3", "url": URL, "labels": {"service": "disk"}}
    answer = httpx.post(f"{service.url}/alerts/generic", json=alert, headers=service.auth)
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incidents"][0]["id"]
    api = f"{service.url}/api/incidents/{incident_id}"
    channel = wait_until(lambda: httpx.get(api, headers=service.auth).json()["channel_id"], 10)

    card = wait_until(lambda: _card(service, channel), timeout=10)
    assert card["text"] == f"SEV3 incident #{incident_id}: {SHOWN} (investigating)"
    contexts = [b for b in card["blocks"] if b["type"] == "context"]
    assert next(e["text"] for b in contexts for e in b["elements"]) == LINK
    # The header is plain_text: Slack shows it as written and parses nothing in it.
    assert card["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": f"SEV3 · #{incident_id} {TITLE}",
        "emoji": True,
    }

    alice = sandbox.as_user("alice")
    alice.join(channel)  # nobody is invited to an alert's channel; a responder joins it
    assert alice.command("/incident timeline", channel)["ok"]
    # Joining late, alice is also sent the catch-up privately: read the timeline answer.
    timeline = wait_until(
        lambda: [t for t in _ephemeral(service, channel, "U0ALICE") if t.startswith("*Timeline")],
        timeout=10,
    )
    lines = timeline[0].splitlines()
    assert lines[1].endswith(f" alert: Alert firing: {SHOWN}")
    assert lines[2].endswith(f" declared: Incident opened: {SHOWN}")
    assert "<!" not in timeline[0] and "<@" not in timeline[0]

    unknown = alice.command("/incident <!channel> & co", channel)
    assert unknown["response"]["text"] == (
        "Unknown command `&lt;!channel&gt;`; try `/incident help`"
    )

    assert alice.command("/incident declare", "general")["ok"]
    wait_until(lambda: sandbox.open_views("alice"), timeout=10)
    alice.submit_view({"title": TITLE, "severity": "sev4"})
    confirmed = wait_until(
        lambda: [t for t in _ephemeral(service, "general", "U0ALICE") if "Declared" in t],
        timeout=10,
    )
    assert confirmed[0].startswith(f"Declared incident #{incident_id + 1}: {SHOWN}. Opening #inc-")
