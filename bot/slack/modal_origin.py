"""Where a modal came from, carried in its `private_metadata` so its answer finds the user.

A view submission has no response_url of its own (Slack adds `response_urls` only for a
`conversations_select` with `response_url_enabled`, which would make the user pick a channel),
and chat.postEphemeral fails where the app is no member: a DM between people, a channel the
bot is not in. The command's or the click's response_url works in any conversation for 30
minutes and 5 uses (docs.slack.dev/interactivity/handling-user-interaction), so the modal
carries it; the channel stays as the fallback for a form left open longer than that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PRIVATE_METADATA_MAX = 3000  # Slack's limit on a view's private_metadata


@dataclass(frozen=True)
class ModalOrigin:
    """What a modal needs to answer: the channel, the incident, the response_url."""

    channel: str | None = None
    incident: int | None = None
    response_url: str | None = None

    def pack(self) -> str:
        """The `private_metadata` string (the response_url dropped if it would not fit)."""
        fields = {k: v for k, v in vars(self).items() if v is not None}
        packed = json.dumps(fields, separators=(",", ":"))
        if len(packed) > PRIVATE_METADATA_MAX:
            fields.pop("response_url", None)
            packed = json.dumps(fields, separators=(",", ":"))
        return packed

    def reply_to(self, user: str) -> dict[str, Any]:
        """Where `Intake.answer` tells the user: the response_url, else the channel."""
        reply: dict[str, Any] = {}
        if self.response_url:
            reply["response_url"] = self.response_url
        if self.channel:
            reply.update(channel=self.channel, user=user)
        return reply


def unpack(private_metadata: str | None) -> ModalOrigin:
    """Read `private_metadata`; a modal opened before it carried JSON held the bare channel
    id (declare) or incident id (note)."""
    text = (private_metadata or "").strip()
    if not text:
        return ModalOrigin()
    if text.isdigit():
        return ModalOrigin(incident=int(text))
    try:
        fields = json.loads(text)
    except ValueError:
        return ModalOrigin(channel=text)
    if not isinstance(fields, dict):
        return ModalOrigin()
    incident = fields.get("incident")
    return ModalOrigin(
        channel=_str(fields.get("channel")),
        incident=incident if isinstance(incident, int) else None,
        response_url=_str(fields.get("response_url")),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
