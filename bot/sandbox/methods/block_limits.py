"""Block Kit's documented length limits, refused as Slack refuses them: `invalid_blocks`.

Sources: docs.slack.dev/reference/block-kit/blocks/{header,section,context,actions}-block
and composition-objects/text-object. Slack names each offending field in `errors` with a
JSON pointer, e.g. "must be less than 151 characters [json-pointer:/blocks/0/text/text]".
"""

from __future__ import annotations

from typing import Any

TEXT_OBJECT_MAX = 3000  # any text object
HEADER_MAX = 150  # a header's plain_text
FIELD_MAX = 2000  # each of a section's fields
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75


def block_errors(blocks: list[dict[str, Any]]) -> list[str]:
    """Slack's messages for every limit the blocks break (empty when none)."""
    errors: list[str] = []
    for n, block in enumerate(blocks):
        at = f"/blocks/{n}"
        kind = block.get("type")
        if kind == "header":
            _text(errors, block.get("text"), f"{at}/text", HEADER_MAX)
        elif kind == "section":
            _text(errors, block.get("text"), f"{at}/text", TEXT_OBJECT_MAX)
            fields = block.get("fields") or []
            _count(errors, fields, f"{at}/fields", FIELDS_MAX)
            for i, field in enumerate(fields):
                _text(errors, field, f"{at}/fields/{i}", FIELD_MAX)
        elif kind == "context":
            elements = block.get("elements") or []
            _count(errors, elements, f"{at}/elements", CONTEXT_ELEMENTS_MAX)
            for i, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                    _text(errors, element, f"{at}/elements/{i}", TEXT_OBJECT_MAX)
        elif kind == "actions":
            for i, element in enumerate(block.get("elements") or []):
                if isinstance(element, dict) and element.get("type") == "button":
                    _text(errors, element.get("text"), f"{at}/elements/{i}/text", BUTTON_TEXT_MAX)
    return errors


def _text(errors: list[str], obj: Any, at: str, limit: int) -> None:
    text = obj.get("text") if isinstance(obj, dict) else None
    if isinstance(text, str) and len(text) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{at}/text]")


def _count(errors: list[str], items: Any, at: str, limit: int) -> None:
    if isinstance(items, list) and len(items) > limit:
        errors.append(f"no more than {limit} items allowed [json-pointer:{at}]")
