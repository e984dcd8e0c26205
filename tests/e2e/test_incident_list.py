"""`/incident list` from any channel: the open incidents, privately, a private one in full
only to someone asking in its own channel; `list all` adds the last week's resolved ones."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.support.server import wait_until


def _channel(service: Service, incident_id: int) -> str:
    def found() -> str | None:
        answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
        return answer.json().get("channel_id") if answer.status_code == 200 else None

    return wait_until(found, timeout=10)


def _answers(service: Service, channel: str, user: str, heading: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [m["text"] for m in shown if m.get("ephemeral_user") == user and heading in m["text"]]


def _status(service: Service, incident_id: int) -> str:
    answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
    return answer.json()["status"]


def test_list_shows_open_incidents_privately_and_list_all_the_resolved(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice, bob = sandbox.as_user("alice"), sandbox.as_user("bob")
        bob.join("general")
        alice.command("/incident declare Orders API slow sev2", "general")
        orders = _channel(service, 1)
        alice.command("/incident declare Checkout errors sev1", "general")
        checkout = _channel(service, 2)
        alice.command("/incident declare Old DNS blip sev3", "general")
        dns = _channel(service, 3)
        alice.command("/incident declare Leaked API key sev2 --private", "general")
        leaked = _channel(service, 4)
        wait_until(lambda: "U0ALICE" in sandbox.channel(leaked)["members"], timeout=10)
        alice.command("/incident role commander @alice", checkout)
        alice.command("/incident resolve it was a cache", dns)
        wait_until(lambda: _status(service, 3) == "resolved", timeout=10)

        assert bob.command("/incident list", "general")["ok"]
        (listed,) = wait_until(
            lambda: _answers(service, "general", "U0BOB", "Open incidents"), timeout=10
        )
        lines = listed.splitlines()[1:]
        # Newest first; the resolved one left out; the private one without its title.
        assert [line.split(" · ")[0] for line in lines] == [
            "`sev2` #4 _a private incident_",
            "`sev1` #2 *Checkout errors*",
            "`sev2` #1 *Orders API slow*",
        ]
        assert "Leaked" not in listed and leaked not in listed
        assert "investigating" in lines[1] and "commander alice" in lines[1]
        assert f"<#{checkout}>" in lines[1] and f"<#{orders}>" in lines[2]
        assert "DNS" not in listed
        # Nothing said in the channel for everyone: the answer is the asker's alone.
        assert not [m for m in sandbox.messages("general") if "Open incidents" in m["text"]]

        bob.command("/incident list all", "general")
        (everything,) = wait_until(
            lambda: _answers(service, "general", "U0BOB", "recently resolved"), timeout=10
        )
        resolved = [line for line in everything.splitlines() if "Old DNS blip" in line]
        assert len(resolved) == 1 and "resolved" in resolved[0] and f"<#{dns}>" in resolved[0]
        assert everything.splitlines()[-1] == resolved[0]  # after every open incident

        # In the private incident's own channel the asker is a member: shown in full.
        alice.command("/incident list", leaked)
        (inside,) = wait_until(
            lambda: _answers(service, leaked, "U0ALICE", "Open incidents"), timeout=10
        )
        assert "*Leaked API key*" in inside and f"<#{leaked}>" in inside
