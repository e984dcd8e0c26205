"""Run a slash command through the application layer as the Slack listeners do."""

from __future__ import annotations

from typing import Any

from bot.composition.runtime import Runtime
from bot.usecases.run_command import CommandRequest, Reply
from bot.usecases.run_command import run_command as run


def run_command(runtime: Runtime, text: str, *, user_id: str, **fields: Any) -> Reply:
    """`/incident <text>` as `user_id` (channel_id=, incident_id=, key= ...), committed;
    the dispatcher is woken for its effects."""
    reply = run(runtime.sessions, runtime.domain, CommandRequest(text, user_id=user_id, **fields))
    runtime.wake_dispatcher()
    return reply
