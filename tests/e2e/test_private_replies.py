"""Private answers reach the user wherever they typed, and a modal Slack refused is explained.

Slack's rules: chat.postEphemeral needs the app in the channel (docs.slack.dev/reference/
methods/chat.postEphemeral: `channel_not_found`, `not_in_channel`, `user_not_in_channel`);
a command's response_url works in any conversation (docs.slack.dev/interactivity/
handling-user-interaction); a trigger_id is good for 3 seconds (docs.slack.dev/reference/
methods/views.open: `expired_trigger_id`).
"""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Service
from tests.support.server import wait_until


def _private(service: Service, channel: str, user: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [m["text"] for m in shown if m.get("ephemeral_user") == user]


def test_declare_modal_from_a_dm_confirms_in_that_dm(service: Service) -> None:
    sandbox = service.sandbox
    alice = sandbox.as_user("alice")
    dm = alice.web.conversations_open(users="U0BOB")["channel"]["id"]
    assert alice.command("/incident declare", dm)["ok"]
    wait_until(lambda: sandbox.open_views("alice"), timeout=10)
    alice.submit_view({"title": "Margin calls stuck", "severity": "sev2"})

    confirmed = wait_until(
        lambda: [t for t in _private(service, dm, "U0ALICE") if "Declared" in t], timeout=10
    )
    assert confirmed[0].startswith("Declared incident #1: Margin calls stuck. Opening #inc-")
    assert "U0WARROOM" not in sandbox.channel(dm)["members"]
    assert not [c for c in sandbox.calls("chat.postEphemeral") if not c["ok"]]


def test_a_command_in_a_dm_answers_there(service: Service) -> None:
    alice = service.sandbox.as_user("alice")
    dm = alice.web.conversations_open(users="U0CAROL")["channel"]["id"]
    alice.command("/incident list", dm)
    assert wait_until(lambda: _private(service, dm, "U0ALICE"), timeout=10)


def test_a_modal_slack_refused_as_too_late_is_explained(service: Service) -> None:
    sandbox = service.sandbox
    # The sandbox holds views.open past the trigger's 3 seconds, as a stalled process would.
    sandbox.faults("slow", delay=3.5, methods=["views.open"])
    alice = sandbox.as_user("alice")
    assert alice.command("/incident declare", "incidents")["ok"]

    told = wait_until(
        lambda: [t for t in _private(service, "incidents", "U0ALICE") if "3 seconds" in t],
        timeout=15,
    )
    assert "please try again" in told[0]
    assert [c["error"] for c in sandbox.calls("views.open")] == ["expired_trigger_id"]
    assert sandbox.open_views("alice") == []


def test_the_add_note_modal_records_the_note_once(
    service: Service,
) -> None:
    sandbox = service.sandbox
    alice = sandbox.as_user("alice")
    alice.command("/incident declare Queue backlog sev3", "incidents")
    channel = wait_until(
        lambda: next((c["id"] for c in sandbox.info()["channels"] if "queue" in c["name"]), None),
        timeout=10,
    )
    wait_until(lambda: any(m.get("pinned_to") for m in sandbox.messages(channel)), timeout=10)
    alice.click(channel, "incident_add_note")
    (modal,) = wait_until(lambda: sandbox.open_views("alice"), timeout=10)
    assert modal["title"]["text"] == "Note on #1"

    assert alice.submit_view({"note": "consumer lag is 40k"})["response_action"] == "close"
    echoed = wait_until(
        lambda: [m for m in sandbox.messages(channel) if "consumer lag is 40k" in m["text"]],
        timeout=10,
    )
    assert len(echoed) == 1
    timeline = wait_until(
        lambda: [
            e
            for e in httpx.get(
                f"{service.url}/api/incidents/1/timeline", headers=service.auth
            ).json()["events"]
            if e["kind"] == "note"
        ]
    )
    assert timeline[0]["text"] == "consumer lag is 40k"
