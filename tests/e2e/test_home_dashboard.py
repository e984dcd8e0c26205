"""The App Home is a dashboard: open incidents with a Join button each, the last week's
resolved ones, a private incident in full only to its members; Join invites the clicker."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine

from bot.sandbox.methods.block_kit import view_errors
from tests.e2e.conftest import Service, serving
from tests.support.server import wait_until

JOIN = "home_join_channel"


def _channel(service: Service, incident_id: int) -> str:
    def found() -> str | None:
        answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
        return answer.json().get("channel_id") if answer.status_code == 200 else None

    return wait_until(found, timeout=10)


def _status(service: Service, incident_id: int) -> str:
    answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
    return answer.json()["status"]


def _texts(home: dict[str, Any] | None) -> list[str]:
    texts = []
    for block in (home or {}).get("blocks", []):
        if block["type"] in ("section", "header"):
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(element["text"] for element in block["elements"])
    return texts


def _buttons(home: dict[str, Any] | None) -> dict[str, str]:
    """Each Join button's incident id -> the text of its section."""
    return {
        block["accessory"]["value"]: block["text"]["text"]
        for block in (home or {}).get("blocks", [])
        if block.get("accessory", {}).get("action_id") == JOIN
    }


def _home_once(service: Service, user: str, shows: str) -> dict[str, Any]:
    """Open the Home and wait until what warroom publishes there shows `shows`."""

    def published() -> dict[str, Any] | None:
        service.sandbox.as_user(user).open_home()
        home = service.sandbox.home(service.sandbox.as_user(user).id)
        return home if any(shows in text for text in _texts(home)) else None

    return wait_until(published, timeout=15)


def test_the_home_dashboard_lists_incidents_and_join_invites_the_clicker(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice, bob = sandbox.as_user("alice"), sandbox.as_user("bob")
        alice.command("/incident declare Orders API slow sev2", "general")
        orders = _channel(service, 1)
        alice.command("/incident declare Old DNS blip sev3", "general")
        dns = _channel(service, 2)
        alice.command("/incident declare Leaked API key sev1 --private", "general")
        leaked = _channel(service, 3)
        wait_until(lambda: "U0ALICE" in sandbox.channel(leaked)["members"], timeout=10)
        alice.command("/incident role commander @alice", orders)
        alice.command("/incident resolve it was a cache", dns)
        wait_until(lambda: _status(service, 2) == "resolved", timeout=10)
        assert "U0BOB" not in sandbox.channel(orders)["members"]

        home = _home_once(service, "bob", "Orders API slow")
        assert view_errors({k: home[k] for k in ("type", "blocks")}) == []
        texts = _texts(home)
        assert texts[0] == "Open incidents"
        [private] = [text for text in texts if "#3 " in text]
        assert private.startswith(":red_circle: *#3 Private incident*")
        assert "Leaked" not in str(home) and leaked not in str(home)
        [open_one] = [text for text in texts if "#1 " in text]
        assert "investigating" in open_one and "commander alice" in open_one
        assert f"<#{orders}>" in open_one
        resolved_at = texts.index("Resolved in the last 7 days")
        [resolved] = [text for text in texts[resolved_at:] if "Old DNS blip" in text]
        assert "resolved" in resolved and f"<#{dns}>" in resolved
        # Bob may join the open public incident only: no button on the private one, and
        # none on the resolved one.
        assert list(_buttons(home)) == ["1"]

        bob.click_home(JOIN, value="1")
        wait_until(lambda: "U0BOB" in sandbox.channel(orders)["members"], timeout=10)
        home = wait_until(lambda: _noticed(service, "U0BOB", "You joined"), timeout=10)
        assert _texts(home)[0] == f":white_check_mark: You joined <#{orders}>."
        assert _buttons(home) == {}  # he is in it now
        assert any("You are in this channel" in text for text in _texts(home) if "#1 " in text)

        # Alice, a member of the private incident, sees it in full; she is in every
        # incident channel she opened, so she has no button to press.
        home = _home_once(service, "alice", "Leaked API key")
        [mine] = [text for text in _texts(home) if "#3 " in text]
        assert mine.startswith(":red_circle: *#3 Leaked API key*") and f"<#{leaked}>" in mine
        assert _buttons(home) == {}


def test_join_on_a_stale_home_says_the_user_is_already_in(database: tuple[Engine, str]) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice, carol = sandbox.as_user("alice"), sandbox.as_user("carol")
        alice.command("/incident declare Orders API slow sev2", "general")
        orders = _channel(service, 1)
        home = _home_once(service, "carol", "Orders API slow")
        assert list(_buttons(home)) == ["1"]
        carol.join(orders)  # from Slack's sidebar: her Home still offers the button
        invites = len(sandbox.calls("conversations.invite"))

        carol.click_home(JOIN, value="1")
        home = wait_until(lambda: _noticed(service, carol.id, "already in"), timeout=10)
        assert _texts(home)[0] == f":information_source: You are already in <#{orders}>."
        assert _buttons(home) == {}
        assert len(sandbox.calls("conversations.invite")) == invites  # nothing asked of Slack


def _noticed(service: Service, user_id: str, words: str) -> dict[str, Any] | None:
    """The user's Home once warroom redrew it with a notice containing `words`."""
    home = service.sandbox.home(user_id)
    texts = _texts(home)
    return home if texts and words in texts[0] else None


def test_a_forged_join_on_a_private_incident_invites_no_one(database: tuple[Engine, str]) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice = sandbox.as_user("alice")
        alice.command("/incident declare Leaked API key sev1 --private", "general")
        leaked = _channel(service, 1)
        wait_until(lambda: "U0ALICE" in sandbox.channel(leaked)["members"], timeout=10)
        home = _home_once(service, "bob", "Private incident")
        assert _buttons(home) == {}  # Bob has no button to press ...
        invites = len(sandbox.calls("conversations.invite"))

        # ... so he sends the click Slack would have sent for one.
        payload = {
            "type": "block_actions",
            "user": {"id": "U0BOB", "username": "bob"},
            "team": {"id": "T0SANDBOX"},
            "container": {"type": "view", "view_id": home["id"]},
            "trigger_id": "1.2.3",
            "actions": [{"action_id": JOIN, "value": "1", "type": "button"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        answer = httpx.post(
            f"{service.url}/slack/events",
            content=body,
            headers=_signed(sandbox.signing_secret, body),
        )
        assert answer.status_code == 200

        home = wait_until(lambda: _noticed(service, "U0BOB", "is private"), timeout=10)
        notice = _texts(home)[0]
        assert notice == ":lock: Incident #1 is private: its commander can add you to its channel."
        assert "U0BOB" not in sandbox.channel(leaked)["members"]
        assert len(sandbox.calls("conversations.invite")) == invites
        assert "Leaked" not in str(home) and leaked not in str(home)


def _signed(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:".encode() + body
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
