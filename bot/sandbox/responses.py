"""Working response_urls: where a command's or a click's app replies land, as Slack's hooks do."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from bot.sandbox import surface
from bot.sandbox.methods.block_kit import block_errors
from bot.sandbox.methods.chat import TEXT_MAX
from bot.sandbox.workspace import Sandbox

RESPONSE_URL_TTL = 30 * 60
RESPONSE_URL_USES = 5


class DriverError(Exception):
    """Slack could not deliver or answer: `error` as Slack names it, `status` for HTTP."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class ResponseTarget:
    """Where a response_url posts: the channel, the user, the message a button was on."""

    channel_id: str
    user_id: str
    message_ts: str | None
    expires_at: float
    uses: int = 0


class ResponseUrls:
    """response_urls handed out, each good for 30 minutes and 5 uses (kept in memory)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._targets: dict[str, ResponseTarget] = {}
        self._lock = threading.Lock()

    def create(self, base: str, channel_id: str, user_id: str, message_ts: str | None) -> str:
        """Return a new response_url under base (the sandbox's URL, ending in `/`)."""
        now = self.sandbox.clock.now().timestamp()
        response_id = secrets.token_urlsafe(18)
        with self._lock:
            for key in [k for k, v in self._targets.items() if now > v.expires_at]:
                del self._targets[key]
            expires = now + RESPONSE_URL_TTL
            self._targets[response_id] = ResponseTarget(channel_id, user_id, message_ts, expires)
        return f"{base}response/{response_id}"

    def respond(self, response_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Post (ephemeral by default, or in_channel), or replace or delete the original."""
        target = self._use(response_id)
        _check_content(body)
        delete = _true(body.get("delete_original"))
        if delete or _true(body.get("replace_original")):
            if target.message_ts is None:
                raise DriverError("no_original_message", 404)
            replaced = surface.replace_original(
                self.sandbox,
                target.channel_id,
                target.message_ts,
                None if delete else body,
                ephemeral_for=target.user_id,
            )
            if not replaced:
                raise DriverError("message_not_found", 404)
            return {"ok": True}
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            raise DriverError("no_text", 400)
        shown_to = None if body.get("response_type") == "in_channel" else target.user_id
        surface.post_as_app(self.sandbox, target.channel_id, body, user_id=shown_to)
        return {"ok": True}

    def _use(self, response_id: str) -> ResponseTarget:
        now = self.sandbox.clock.now().timestamp()
        with self._lock:
            target = self._targets.get(response_id)
            if target is None:
                raise DriverError("invalid_response_url", 404)
            if now > target.expires_at:
                raise DriverError("expired_url", 404)
            if target.uses >= RESPONSE_URL_USES:
                raise DriverError("used_url", 404)
            target.uses += 1
            return target


def _check_content(body: dict[str, Any]) -> None:
    """A reply is a message: Slack's limits on text and blocks hold for it too."""
    text = body.get("text")
    if isinstance(text, str) and len(text) > TEXT_MAX:
        raise DriverError("msg_too_long", 400)
    if body.get("blocks") is not None:
        refused = block_errors(body["blocks"])
        if refused:
            raise DriverError("invalid_blocks", 400, errors=refused)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
