"""Slack failing: the outbox waits it out and completes every operation once, in order."""

from __future__ import annotations

from tests.support.commands import run_command
from tests.support.server import wait_until


def test_rate_limits_and_server_errors_delay_but_never_lose_the_card(service) -> None:
    sandbox = service.sandbox
    sandbox.faults("ratelimit", count=4, retry_after=1, methods=["conversations.create"])
    sandbox.faults("error", count=4, status=503, methods=["chat.postMessage"])
    run_command(service.runtime, "declare Margin engine stalled sev2", user_id="U0BOB")

    def pinned_card():
        channels = [c for c in sandbox.info()["channels"] if c["name"].startswith("inc-")]
        if not channels:
            return None
        messages = sandbox.messages(channels[0]["id"])
        cards = [m for m in messages if m.get("blocks") and m.get("pinned_to")]
        return (channels, cards) if cards else None

    channels, cards = wait_until(pinned_card, timeout=30)
    assert len(channels) == 1 and len(cards) == 1
    created = [c for c in sandbox.calls("conversations.create") if c["ok"]]
    assert len(created) == 1
