"""mrkdwn escaping, the one place it is done: untrusted text must never become a mention,
a link or a broadcast, and a URL must never choose its link's label."""

from __future__ import annotations

import re
from urllib.parse import quote

_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# In `<url|label>` a `|` ends the URL and a `>` the link; whitespace would cut it short.
_URL_BREAKS = re.compile(r"[|<>\s]")


def escape(text: str | None) -> str:
    """Escape `&`, `<` and `>` so `<!channel>` or `<@U123>` in alert text pings no one.

    Backticks, `*` and `_` are left alone: the domain's own words use them, and in
    someone's text they only format, they cannot ping or link.
    """
    return (text or "").translate(_TABLE)


def link(url: str, label: str) -> str:
    """A mrkdwn link `<url|label>`; `|`, `<`, `>` in the URL are percent-encoded."""
    target = _URL_BREAKS.sub(lambda m: quote(m.group(0), safe=""), url)
    return f"<{escape(target)}|{escape(label)}>"


def mention(user: str | None) -> str:
    """A Slack mention for a stored user id; `@name` and unknown forms are shown escaped."""
    if not user:
        return "_unassigned_"
    if user[:1] in ("U", "W") and user.isalnum() and user.isupper():
        return f"<@{user}>"
    return escape(user)


def truncate(text: str, limit: int) -> str:
    """Cut text to Slack's limits without breaking an escape sequence in half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"
