"""The core flow over HTTP against the sandbox: alerts open channels, responders drive them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Service
from tests.support.server import wait_until

PAYLOADS = Path(__file__).parents[1] / "bot" / "alerts" / "payloads"


def _payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def _incident(service: Service, incident_id: int) -> dict:
    return httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth).json()


def _events(service: Service, incident_id: int) -> list[dict]:
    answer = httpx.get(f"{service.url}/api/incidents/{incident_id}/timeline", headers=service.auth)
    return answer.json()["events"]


def _open_alert(service: Service, source: str, body: dict) -> tuple[int, str]:
    answer = httpx.post(f"{service.url}/alerts/{source}", json=body, headers=service.auth)
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incidents"][0]["id"]
    channel = wait_until(lambda: _incident(service, incident_id)["channel_id"], timeout=10)
    wait_until(lambda: _card(service, channel), timeout=10)
    return incident_id, channel


def _card(service: Service, channel: str) -> dict | None:
    return next(
        (m for m in service.sandbox.messages(channel) if m.get("blocks") and m.get("pinned_to")),
        None,
    )


def _card_field(card: dict, label: str) -> str:
    for block in card["blocks"]:
        for field in block.get("fields", []):
            name, _, value = field["text"].partition("\n")
            if name == f"*{label}*":
                return value
    raise KeyError(label)


def test_alertmanager_opens_one_channel_with_card_and_responders(service: Service) -> None:
    body = _payload("alertmanager_firing.json")
    incident_id, channel = _open_alert(service, "alertmanager", body)
    info = service.sandbox.channel(channel)
    assert info["name"].startswith("inc-")
    members = set(info["members"])
    playbook = _incident(service, incident_id)["playbook"]
    if playbook == "trading-engine-outage":
        assert {"U0ALICE", "U0BOB", "U0CAROL"} <= members
    card = _card(service, channel)
    assert _card_field(card, "Status").endswith("investigating")
    buttons = [
        e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["incident_acknowledge", "incident_add_note", "incident_resolve"]

    again = httpx.post(f"{service.url}/alerts/alertmanager", json=body, headers=service.auth)
    assert again.json()["incidents"][0]["id"] == incident_id
    channels = [c for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")]
    assert len(channels) == 1
    alerts = _incident(service, incident_id)["alerts"]
    assert alerts[0]["seen_count"] == 2


@pytest.mark.parametrize(
    ("source", "payload"),
    [("grafana", "grafana_firing.json"), ("pagerduty", "pagerduty_triggered.json")],
)
def test_grafana_and_pagerduty_open_their_own(service: Service, source: str, payload: str) -> None:
    incident_id, channel = _open_alert(service, source, _payload(payload))
    assert _incident(service, incident_id)["channel_id"] == channel


VERBS = [
    ("ack", "ack", "Commander", "<@U0ALICE>"),
    ("sev 1", "severity", "Severity", "sev1"),
    ("status identified dependency down", "status", "Status", "identified"),
    ("impact API users get error 30030", "impact", None, None),
    ("role comms <@U0BOB>", "role", None, None),
    ("note checking the queue", "note", None, None),
    ("update restart in progress", "update", None, None),
    ("log 17:58 first customer ticket", "log", None, None),
    ("cause failed internal dependency", "cause", None, None),
    ("action add redundancy <@U0BOB>", "action", None, None),
    ("stage next", "stage", "Stage", None),
    ("task done 1", "task", None, None),
    ("statuspage investigating We are looking into errors", "statuspage", None, None),
    ("time started 17:50", "time", "Impact start", None),
    ("mitigate restarted", "mitigated", "Status", "monitoring"),
    ("resolve all good", "resolved", "Status", "resolved"),
    ("reopen", "reopened", "Status", "investigating"),
]


def test_every_verb_lands_in_the_timeline_and_the_card(service: Service) -> None:
    sandbox = service.sandbox
    # Twenty commands back to back in one channel, each echoed before the next: Slack's one
    # post a second there would only add ~10 s of Retry-After to a test about the verbs.
    sandbox.rate_limits(False)
    alice = sandbox.as_user("alice")
    alice.command("/incident declare Spot trading errors sev2", "general")
    channel = wait_until(
        lambda: next(
            (c["id"] for c in sandbox.info()["channels"] if c["name"].startswith("inc-")), None
        ),
        timeout=10,
    )
    wait_until(lambda: _card(service, channel), timeout=10)
    for text, kind, field, value in VERBS:
        before = Counter(e["kind"] for e in _events(service, 1))
        answer = alice.command(f"/incident {text}", channel)
        assert answer["ok"], (text, answer)
        wait_until(
            lambda b=before, k=kind: Counter(e["kind"] for e in _events(service, 1))[k] > b[k],
            timeout=10,
        )
        echo = wait_until(
            lambda t=text: [
                m for m in sandbox.messages(channel) if m["text"].startswith("<@U0ALICE>:")
            ],
            timeout=10,
        )
        assert echo
        if field and value:
            wait_until(
                lambda f=field, v=value: _card_field(_card(service, channel), f).endswith(v),
                timeout=10,
            )
    private = alice.command("/incident timeline", channel)
    assert private["ok"]
    shown = wait_until(
        lambda: [
            m
            for m in sandbox.messages(channel, ephemeral=True)
            if "Timeline of incident #1" in m["text"]
        ]
    )
    assert shown[0]["ephemeral_user"] == "U0ALICE"


def test_bad_input_is_private_and_changes_nothing(service: Service) -> None:
    sandbox = service.sandbox
    alice = sandbox.as_user("alice")
    answer = alice.command("/incident sev 9", "general")
    # Escaped, so Slack shows `<1-4>` instead of reading it as a link.
    assert "Usage: `/incident sev &lt;1-4&gt;`" in answer["response"]["text"]
    alice.command("/incident ack", "general")
    shown = wait_until(
        lambda: [
            m
            for m in sandbox.messages("general", ephemeral=True)
            if "works in an incident channel" in m.get("text", "")
        ]
    )
    assert shown[0]["ephemeral_user"] == "U0ALICE"
    assert httpx.get(f"{service.url}/api/incidents", headers=service.auth).json() == {
        "incidents": [],
        "next_cursor": None,
    }


def _signed(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _command_body(trigger: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(
        {
            "command": "/incident",
            "text": "declare Forged incident",
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": "C0GENERAL",
            "team_id": "T0SANDBOX",
            "trigger_id": trigger,
            "response_url": "http://127.0.0.1:1/none",
        }
    ).encode()


@pytest.mark.parametrize(
    ("secret_ok", "age"),
    [(False, 0), (True, 6 * 60)],
    ids=["bad-signature", "stale-timestamp"],
)
def test_forged_and_stale_slack_requests_are_refused(
    service: Service, secret_ok: bool, age: int
) -> None:
    secret = service.sandbox.signing_secret if secret_ok else "not-the-secret"
    body = _command_body("t-forged")
    answer = httpx.post(
        f"{service.url}/slack/events",
        content=body,
        headers=_signed(secret, body, int(time.time()) - age),
    )
    assert answer.status_code == 401
    assert httpx.get(f"{service.url}/api/incidents", headers=service.auth).json() == {
        "incidents": [],
        "next_cursor": None,
    }


def test_a_retried_command_delivery_records_once(service: Service) -> None:
    body = _command_body("t-retried")
    secret = service.sandbox.signing_secret
    for retry in (None, "1"):
        headers = _signed(secret, body, int(time.time()))
        if retry:
            headers |= {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        assert (
            httpx.post(f"{service.url}/slack/events", content=body, headers=headers).status_code
            == 200
        )
    # Once the first delivery's incident has its channel, the retry has long been handled.
    wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    listed = httpx.get(f"{service.url}/api/incidents", headers=service.auth).json()["incidents"]
    assert [incident["title"] for incident in listed] == ["Forged incident"]
    declared = [e for e in _events(service, 1) if e["kind"] == "declared"]
    assert len(declared) == 1


def test_untrusted_alert_text_pings_no_one(service: Service) -> None:
    body = _payload("alertmanager_firing.json")
    body["groupKey"] = "{}:{evil}"
    for alert in body["alerts"]:
        alert["annotations"]["summary"] = "<!channel> <@U0ALICE> disk full <https://evil|click>"
        alert["fingerprint"] = "evil1"
    _, channel = _open_alert(service, "alertmanager", body)
    messages = service.sandbox.messages(channel) + service.sandbox.messages("incidents")
    messages = [m for m in messages if m.get("subtype") != "channel_join"]  # Slack's own
    rendered = [text for message in messages for text in _mrkdwn(message)]
    assert any("&lt;!channel&gt;" in text for text in rendered)
    for text in rendered:
        assert "<!channel>" not in text and "<@U0ALICE>" not in text, text
        assert "<https://evil|click>" not in text, text


def _mrkdwn(node: object) -> list[str]:
    """Every string Slack would parse for mentions and links (plain_text never is)."""
    if isinstance(node, list):
        return [text for item in node for text in _mrkdwn(item)]
    if not isinstance(node, dict) or node.get("type") == "plain_text":
        return []
    found = [node[key] for key in ("text", "topic", "purpose") if isinstance(node.get(key), str)]
    return found + [text for value in node.values() for text in _mrkdwn(value)]


def test_checklist_on_the_card_follows_task_done(service: Service) -> None:
    alice = service.sandbox.as_user("alice")
    alice.command(
        "/incident declare Matching engine down sev1 playbook:trading-engine-outage", "general"
    )
    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    wait_until(lambda: _card(service, channel), timeout=10)
    alice.command("/incident ack", channel)
    alice.command("/incident task done 1", channel)

    def checklist() -> str | None:
        card = _card(service, channel)
        texts = [
            b["text"]["text"] for b in card["blocks"] if b.get("type") == "section" and "text" in b
        ]
        return next((t for t in texts if t.startswith("*Checklist*")), None)

    text = wait_until(lambda: (c := checklist()) and ":white_check_mark: 1." in c and c, timeout=10)
    assert ":white_large_square: 2." in text


def test_pins_and_pushpin_reactions_join_the_timeline_once(service: Service) -> None:
    sandbox = service.sandbox
    alice, bob = sandbox.as_user("alice"), sandbox.as_user("bob")
    alice.command("/incident declare Margin calls delayed sev2", "general")
    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    wait_until(lambda: _card(service, channel), timeout=10)
    bob.join(channel)
    posted = bob.post(channel, "risk engine queue is at 40k, draining slowly")
    ts = posted["ts"]
    alice.react(channel, ts, "pushpin")
    alice.pin(channel, ts)

    def pins() -> list[dict]:
        return [e for e in _events(service, 1) if e["kind"] == "pin"]

    found = wait_until(pins, timeout=10)
    assert found[0]["text"] == "risk engine queue is at 40k, draining slowly"
    assert found[0]["source"] == "pin"
    assert found[0]["actor"] == "U0BOB"
    from datetime import datetime

    at = datetime.fromisoformat(found[0]["at"].replace("Z", "+00:00"))
    assert abs(at.timestamp() - float(ts)) < 0.001
    # Both deliveries (the reaction and the pin) reached the bot before counting.
    wait_until(
        lambda: (
            {"pin_added", "reaction_added"}
            <= {d["type"] for d in sandbox.deliveries() if d["delivered"]}
        ),
        timeout=10,
    )
    assert len(pins()) == 1
