"""mrkdwn escaping: untrusted text must never become a mention, a link or a broadcast."""

from __future__ import annotations

_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str | None) -> str:
    """Escape `&`, `<` and `>` so `<!channel>` or `<@U123>` in alert text pings no one."""
    return (text or "").translate(_TABLE)


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
