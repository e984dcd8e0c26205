"""A declared incident gets its channel, responders, pinned card and announcement in the sandbox."""

from __future__ import annotations

from tests.support.commands import run_command
from tests.support.server import fetch_file, wait_until


def test_declare_opens_a_channel_with_a_pinned_card(service) -> None:
    reply = run_command(
        service.runtime, "declare Spot trading errors sev1", user_id="U0ALICE", key="k1"
    )
    assert reply.private.startswith("Declared incident #1: Spot trading errors")
    sandbox = service.sandbox
    found = wait_until(lambda: _channel(sandbox, "inc-"), timeout=10)
    channel = wait_until(
        lambda: (c := sandbox.channel(found["id"])).get("purpose", {}).get("value") and c
    )
    assert channel["name"].startswith("inc-") and channel["name"].endswith("-spot-trading-errors")
    assert channel["topic"]["value"] == "SEV1 · investigating · Spot trading errors"

    def card():
        return next(
            (m for m in sandbox.messages(channel["id"]) if m.get("blocks") and m.get("pinned_to")),
            None,
        )

    pinned = wait_until(card, timeout=10)
    header = pinned["blocks"][0]["text"]["text"]
    assert header == "SEV1 · #1 Spot trading errors"
    assert {"U0ALICE"} <= set(sandbox.channel(channel["id"])["members"])
    announced = wait_until(
        lambda: [m for m in sandbox.messages("incidents") if "Spot trading errors" in m["text"]]
    )
    assert announced[0]["text"].startswith("SEV1 incident #1 opened: Spot trading errors")


def _channel(sandbox, prefix: str):
    channels = sandbox.info()["channels"]
    return next((c for c in channels if c["name"].startswith(prefix)), None)


def test_resolve_posts_the_postmortem_file_and_summary(service) -> None:
    import httpx

    runtime, sandbox = service.runtime, service.sandbox
    run_command(runtime, "declare Spot trading errors sev1", user_id="U0ALICE")
    channel = wait_until(lambda: _channel(sandbox, "inc-"), timeout=10)
    wait_until(lambda: any(m.get("pinned_to") for m in sandbox.messages(channel["id"])))
    run_command(
        runtime, "impact API users got error 30030", user_id="U0ALICE", channel_id=channel["id"]
    )
    reply = run_command(runtime, "resolve restored", user_id="U0ALICE", channel_id=channel["id"])
    assert reply.private is None

    def uploaded():
        return next((m for m in sandbox.messages(channel["id"]) if m.get("files")), None)

    message = wait_until(uploaded, timeout=10)
    assert message["text"].startswith("Postmortem draft for incident #1 (Spot trading errors)")
    file = message["files"][0]
    assert file["name"] == "postmortem-incident-1.md"
    content = fetch_file(sandbox, file["url_private"]).text
    assert content.startswith("# ")
    assert "API users got error 30030" in content
    served = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/markdown")
    assert served.text == content
    missing = httpx.get(f"{service.url}/api/incidents/99/postmortem", headers=service.auth)
    assert (missing.status_code, missing.json()) == (404, {"error": "no incident #99"})


def test_a_title_in_japanese_names_its_channel_in_japanese(service) -> None:
    """Slack takes lowercase letters of any script in a channel name
    (docs.slack.dev/reference/methods/conversations.create); the sandbox checks as Slack does."""
    run_command(service.runtime, "declare 決済が止まった sev2", user_id="U0ALICE")
    channel = wait_until(lambda: _channel(service.sandbox, "inc-"), timeout=10)
    assert channel["name"].endswith("-決済が止まった")
    assert wait_until(lambda: "U0ALICE" in service.sandbox.channel(channel["id"])["members"])
