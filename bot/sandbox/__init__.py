"""The local Slack sandbox: Slack's Web API over the bot's own database, for a fresh machine."""

from bot.sandbox.app import build_sandbox_router
from bot.sandbox.workspace import Sandbox

__all__ = ["Sandbox", "build_sandbox_router"]
