"""Slack's text format read once, on the way in: what the domain stores is plain text.

Slack sends command and message text with `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;` and
mentions, channels and links in `<…>` (docs.slack.dev/messaging/formatting-message-text).
Each is decoded here exactly once; escaping again is the output adapters' job
(`bot/slack/escape.py`), so a typed `&` is stored as `&` and posted as `&amp;`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

# A control sequence `<…>`, or one of the three entities: read left to right in one pass.
_TOKEN = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">"}
_NAME = re.compile(r"[\w.\-]+")
_UNLABELED_USER = re.compile(r"<@([UW][A-Z0-9]+)>")
_SCHEMES = ("http://", "https://", "mailto:")
# In a Markdown link's target these would end it or break it; in its label, brackets.
_URL_BREAKS = re.compile(r"[\s()<>]")
_LABEL_BREAKS = re.compile(r"([\[\]\\])")


@dataclass(frozen=True)
class Plain:
    """Slack text made plain, and the people it mentions: `@name` as written -> user id."""

    text: str
    people: dict[str, str] = field(default_factory=dict)


def unlabeled_users(wire: str) -> set[str]:
    """User ids mentioned without a name (`<@U123>`, as Slack's client writes messages)."""
    return set(_UNLABELED_USER.findall(wire))


def plain_text(wire: str, names: Mapping[str, str] | None = None) -> Plain:
    """Decode Slack text: entities to characters, `<@U123|bob>` to `@bob`, `<#C1|ops>` to
    `#ops`, `<!here>` to `@here`, `<url>` to the URL and `<url|label>` to a Markdown link.

    `names` names people mentioned without a label (else they read `@U123`).
    """
    people: dict[str, str] = {}

    def token(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return _CHARACTERS[match.group(2)]
        return _control(match.group(1), names or {}, people)

    return Plain(_TOKEN.sub(token, wire), people)


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _CHARACTERS[m.group(1)], text)


def _control(inner: str, names: Mapping[str, str], people: dict[str, str]) -> str:
    target, bar, label = inner.partition("|")
    target, label = _unescape(target), _unescape(label)
    if target.startswith("@"):
        user = target[1:]
        name = label.lstrip("@") or names.get(user, "")
        # A name the grammar could not read as one word stays the id: still one person.
        shown = f"@{name}" if name and _NAME.fullmatch(name) else f"@{user}"
        people[shown] = user
        return shown
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        special = target[1:]
        if special.startswith(("subteam^", "date^")) or label:
            return label or f"@{special.partition('^')[2]}"
        return f"@{special}"
    if target.lower().startswith(_SCHEMES):
        return _link(target, label)
    # Slack sends no other `<…>`; shown as it reads.
    return (label or target) if bar else f"<{target}>"


def _link(url: str, label: str) -> str:
    """A link as plain text: the URL as typed, or `[label](url)` when it has its own label."""
    typed = url.split(":", 1)[1].removeprefix("//")
    if not label or label in (url, typed):
        return label or url
    target = _URL_BREAKS.sub(lambda m: quote(m.group(0), safe=""), url)
    shown = _LABEL_BREAKS.sub(r"\\\1", label)
    return f"[{shown}]({target})"
