"""Duplicate deliveries change nothing: the same alert, a retried Slack event or command, the
same PagerDuty webhook id. No second incident, timeline entry or Slack message."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx

from storage import outbox
from storage.db import transaction
from tests.e2e.conftest import Service
from tests.support.server import wait_until

PAYLOADS = Path(__file__).parents[1] / "bot" / "alerts" / "payloads"


def _payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def _api(service: Service, path: str) -> dict:
    answer = httpx.get(f"{service.url}/api{path}", headers=service.auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _events(service: Service, incident_id: int) -> list[dict]:
    return _api(service, f"/incidents/{incident_id}/timeline")["events"]


def _said(service: Service, channel: str) -> list[str]:
    """Texts the bot and people posted in a channel (Slack's join notices left out)."""
    messages = service.sandbox.messages(channel)
    return [m["text"] for m in messages if m.get("subtype") != "channel_join"]


def _opened(service: Service, incident_id: int) -> str:
    """Wait until the incident's channel has its pinned card; return the channel id."""
    channel = wait_until(lambda: _api(service, f"/incidents/{incident_id}")["channel_id"], 10)
    wait_until(
        lambda: [m for m in service.sandbox.messages(channel) if m.get("pinned_to")], timeout=10
    )
    wait_until(lambda: _settled(service), timeout=10)
    return channel


def _settled(service: Service) -> bool:
    with transaction(service.runtime.sessions) as session:
        return outbox.pending_count(session=session) == 0


def _post_many(service: Service, source: str, body: dict, times: int, **headers: str) -> list:
    with httpx.Client(timeout=30, headers={**service.auth, **headers}) as http:

        def send(_: int) -> httpx.Response:
            return http.post(f"{service.url}/alerts/{source}", json=body)

        with ThreadPoolExecutor(max_workers=times) as pool:
            return list(pool.map(send, range(times)))


def test_the_same_alertmanager_notification_ten_times_at_once(service: Service) -> None:
    answers = _post_many(service, "alertmanager", _payload("alertmanager_firing.json"), 10)
    assert [a.status_code for a in answers] == [202] * 10
    ids = {a.json()["incidents"][0]["id"] for a in answers}
    assert len(ids) == 1
    assert sum(a.json()["incidents"][0]["created"] for a in answers) == 1
    incident_id = ids.pop()
    channel = _opened(service, incident_id)

    assert len(_api(service, "/incidents")["incidents"]) == 1
    alerts = _api(service, f"/incidents/{incident_id}")["alerts"]
    assert [a["seen_count"] for a in alerts] == [10]
    kinds = Counter(e["kind"] for e in _events(service, incident_id))
    assert kinds["alert"] == 1 and kinds["declared"] == 1
    channels = [c for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")]
    assert [c["id"] for c in channels] == [channel]
    said = _said(service, channel)
    assert len(said) == len(set(said)), said
    assert len([t for t in _said(service, "incidents") if f"<#{channel}>" in t]) == 1


def test_the_same_pagerduty_event_twice_under_new_webhook_ids(service: Service) -> None:
    # A delivery is known by its signed event.id; X-Webhook-Id is a header anyone can change.
    body = _payload("pagerduty_triggered.json")
    answers = [
        _post_many(service, "pagerduty", body, 1, **{"X-Webhook-Id": webhook_id})[0]
        for webhook_id in ("wh-dup-1", "wh-dup-2-replayed")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    incident_id = answers[0].json()["incidents"][0]["id"]
    channel = _opened(service, incident_id)

    assert len(_api(service, "/incidents")["incidents"]) == 1
    alerts = _api(service, f"/incidents/{incident_id}")["alerts"]
    assert [a["seen_count"] for a in alerts] == [1]  # the retry was not even counted
    kinds = Counter(e["kind"] for e in _events(service, incident_id))
    assert kinds["alert"] == 1
    said = _said(service, channel)
    assert len(said) == len(set(said)), said


def _signed(secret: str, body: bytes, content_type: str, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
        **extra,
    }


def _deliver_twice(service: Service, body: bytes, content_type: str) -> None:
    """Deliver like Slack does when the first answer was late: again, with a retry number."""
    secret = service.sandbox.signing_secret
    for retry in ({}, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}):
        answer = httpx.post(
            f"{service.url}/slack/events",
            content=body,
            headers=_signed(secret, body, content_type, **retry),
        )
        assert answer.status_code == 200, answer.text


def _event(event: dict, event_id: str) -> bytes:
    return json.dumps(
        {
            "token": "unused",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0WARROOM",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


def _declared(service: Service) -> tuple[int, str]:
    service.sandbox.as_user("alice").command("/incident declare Settlement lagging sev2", "general")
    incident_id = wait_until(lambda: _api(service, "/incidents")["incidents"], 10)[0]["id"]
    return incident_id, _opened(service, incident_id)


def _stays(predicate, seconds: float = 1.0) -> bool:
    """True if predicate holds throughout: a retry is handled after Bolt's ack, so a doubled
    entry would appear within moments of the one that counted."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(0.05)
    return True


def test_retried_reaction_and_pin_events_add_one_timeline_entry(service: Service) -> None:
    incident_id, channel = _declared(service)
    bob = service.sandbox.as_user("bob")
    bob.join(channel)
    ts = bob.post(channel, "ledger replica is 4 minutes behind")["ts"]
    before = _said(service, channel)
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "pushpin",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": ts,
    }
    _deliver_twice(service, _event(reaction, "Ev0REACTION1"), "application/json")
    pin = {
        "type": "pin_added",
        "user": "U0ALICE",
        "channel_id": channel,
        "item": {
            "type": "message",
            "channel": channel,
            "message": {"ts": ts, "text": "ledger replica is 4 minutes behind", "user": "U0BOB"},
        },
        "event_ts": ts,
    }
    _deliver_twice(service, _event(pin, "Ev0PIN1"), "application/json")

    def pins() -> list[dict]:
        return [e for e in _events(service, incident_id) if e["kind"] == "pin"]

    wait_until(pins, timeout=10)
    # The retried reaction was recognised from the stored first delivery: the message was
    # looked up in the history once.
    assert _stays(lambda: len(service.sandbox.calls("conversations.history")) == 1)
    assert _stays(lambda: len(pins()) == 1)
    assert pins()[0]["text"] == "ledger replica is 4 minutes behind"
    assert _said(service, channel) == before


def test_a_retried_note_command_is_recorded_and_echoed_once(service: Service) -> None:
    incident_id, channel = _declared(service)
    body = urlencode(
        {
            "command": "/incident",
            "text": "note failover to the standby ledger started",
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": channel,
            "team_id": "T0SANDBOX",
            "trigger_id": "t-note-retried",
            "response_url": "http://127.0.0.1:1/none",
        }
    ).encode()
    _deliver_twice(service, body, "application/x-www-form-urlencoded")

    def notes() -> list[dict]:
        return [e for e in _events(service, incident_id) if e["kind"] == "note"]

    wait_until(notes, timeout=10)
    wait_until(lambda: _settled(service), timeout=10)
    assert _stays(lambda: len(notes()) == 1)
    echoes = [t for t in _said(service, channel) if "failover to the standby ledger" in t]
    assert len(echoes) == 1, echoes
