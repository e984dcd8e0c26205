"""`PUT /api/incidents/{id}/postmortem`: the edited Markdown, read from the raw body."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from bot.postmortem.saved import EditRefused, check_text
from bot.web.errors import WebError


class PostmortemSaved(BaseModel):
    """The edited postmortem was committed."""

    incident_id: int
    chars: int = Field(description="characters kept")
    edited: list[str] = Field(
        description="headings of the sections that differ from the last generated draft "
        "(changed or added): `/incident postmortem` keeps these and regenerates the others"
    )


MEDIA_TYPES = ("text/markdown", "text/plain", "application/json")

OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The whole edited postmortem, as Markdown: the raw text, or JSON "
        '`{"markdown": "..."}`. At most 512 Ki characters, UTF-8, no NUL.',
        "content": {
            "text/markdown": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["markdown"],
                    "properties": {"markdown": {"type": "string"}},
                    "additionalProperties": False,
                }
            },
        },
    }
}


def edited_text(body: bytes, content_type: str | None) -> str:
    """The Markdown a PUT carries, or a 415/422 WebError saying what is wrong with it."""
    media = (content_type or "text/markdown").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise WebError(415, f"send text/markdown or application/json, not {media}")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebError(422, "the body is not UTF-8") from None
    if media == "application/json":
        try:
            value = json.loads(decoded)
        except ValueError:
            raise WebError(422, "the body is not JSON") from None
        if not isinstance(value, dict) or not isinstance(value.get("markdown"), str):
            raise WebError(422, 'send {"markdown": "<the whole postmortem>"}')
        if set(value) != {"markdown"}:
            raise WebError(422, f"unknown fields: {', '.join(sorted(set(value) - {'markdown'}))}")
        decoded = value["markdown"]
    try:
        return check_text(decoded)
    except EditRefused as error:
        raise WebError(422, str(error)) from None
