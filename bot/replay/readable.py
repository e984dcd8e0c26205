"""A posted message as a person reads it in Slack, for the replay's transcript.

Slack shows `<@U0ALICE>` as @alice, `<#C123|inc-x>` as #inc-x, `<https://x|label>` as
its label, and `&lt;` as `<`: the transcript shows the same, never the wire form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SPECIAL = re.compile(r"<([@#!])([^|>]+)(?:\|([^>]*))?>|<([^|>]+)(?:\|([^>]*))?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def readable(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """The text with mentions, channels and links as Slack shows them, entities undone."""

    def shown(match: re.Match[str]) -> str:
        sigil, target, label, url, url_label = match.groups()
        if sigil == "@":
            return f"@{users.get(target, label or target)}"
        if sigil == "#":
            return f"#{channels.get(target, label or target)}"
        if sigil == "!":  # <!here>, <!subteam^S0SRE|@sre>
            name = label or target.split("^")[0]
            return name if name.startswith("@") else f"@{name}"
        return f"{url_label} ({url})" if url_label else url

    out = _SPECIAL.sub(shown, text)
    for entity, char in _ENTITIES:
        out = out.replace(entity, char)
    return out
