"""What Slack makes of text a person types, before any app sees it.

Slack's client escapes `&`, `<` and `>` and turns `@name` and `#channel` picked from the
workspace into mentions; Slack's servers find links and store every text escaped
(docs.slack.dev/messaging/formatting-message-text: "Escaping text", "Linking to URLs").
A slash command's text arrives escaped the same way, and with the command's
`should_escape` on, mentions, channels and links arrive in that form too
(docs.slack.dev/interactivity/implementing-slash-commands).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.sandbox import tables as t
from bot.sandbox.base import Call

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
SPECIAL_MENTIONS = frozenset({"here", "channel", "everyone"})
# What a person types that Slack turns into something else: a link (with a scheme, or
# starting "www."), an email address, an @mention, a #channel. A word glued to the
# front (`x@y`, `a#b`) is part of that word.
_TYPED = re.compile(
    r"(?P<url>(?<![\w@/])(?:https?://|www\.)[^\s<>]+)"
    r"|(?P<email>(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)"
    r"|(?P<mention>(?<![\w@])@[\w][\w.\-]*)"
    r"|(?P<channel>(?<![\w&#])#[\w][\w\-]*)",
    re.IGNORECASE,
)
# Punctuation that ends a sentence rather than the link or name before it.
_TRAILING = ".,;:!?)]}'\""
# A control sequence Slack keeps as given: <@U…>, <#C…>, <!…>, <url>, <url|label>.
_CONTROL = re.compile(r"<(?:[@#!]|https?://|mailto:)[^<>|\s]*(?:\|[^<>]*)?>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


def escape(text: str) -> str:
    """Slack's three entities: `&amp;`, `&lt;`, `&gt;`, and nothing else."""
    return text.translate(_ESCAPES)


def typed_command_text(call: Call, text: str, *, user_id: str, should_escape: bool) -> str:
    """A slash command's `text` as Slack delivers it: escaped; with `should_escape`,
    `@name` as `<@U…|name>`, `#name` as `<#C…|name>` and links in `<…>`."""
    if not should_escape:
        return escape(text)
    return _encode(call, text, user_id=user_id, labels=True)


def typed_message_text(call: Call, text: str, *, user_id: str) -> str:
    """A message as Slack stores it when a person types it in the client: escaped, with
    mentions as `<@U…>`, channels as `<#C…|name>` and links in `<…>`."""
    return _encode(call, text, user_id=user_id, labels=False)


def stored_text(text: str) -> str:
    """What Slack's servers store of a message text given to the Web API: the control
    sequences and entities kept, a stray `&`, `<` or `>` escaped, bare links in `<…>`."""
    out: list[str] = []
    last = 0
    for match in _CONTROL.finditer(text):
        out.append(_links_only(_unescape(text[last : match.start()])))
        out.append(match.group())
        last = match.end()
    out.append(_links_only(_unescape(text[last:])))
    return "".join(out)


def _unescape(text: str) -> str:
    # Escaped by the caller already or not, it is stored escaped exactly once.
    return _ENTITY.sub(lambda m: _UNESCAPED[m.group(1)], text)


def _links_only(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _TYPED.finditer(text):
        if match.lastgroup not in ("url", "email"):
            continue
        token, rest = _split_trailing(match.group())
        out.append(escape(text[last : match.start()]))
        out.append(_link(token) if match.lastgroup == "url" else _mailto(token))
        out.append(escape(rest))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _encode(call: Call, text: str, *, user_id: str, labels: bool) -> str:
    out: list[str] = []
    last = 0
    for match in _TYPED.finditer(text):
        token, rest = _split_trailing(match.group())
        kind = match.lastgroup
        if kind == "url":
            shown = _link(token)
        elif kind == "email":
            shown = _mailto(token)
        elif kind == "mention":
            shown = _mention(call, token[1:], labels=labels)
        else:
            shown = _channel(call, token[1:], user_id)
        out.append(escape(text[last : match.start()]))
        out.append(shown)
        out.append(escape(rest))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _split_trailing(token: str) -> tuple[str, str]:
    kept = token.rstrip(_TRAILING + "-")
    if kept.count("(") > kept.count(")") and token[len(kept) : len(kept) + 1] == ")":
        kept += ")"  # a link to a page whose name holds parentheses
    return kept, token[len(kept) :]


def _link(url: str) -> str:
    # "www.foo.com" is linked to http://www.foo.com and keeps what was typed as its label.
    if url.lower().startswith("www."):
        return f"<http://{escape(url)}|{escape(url)}>"
    return f"<{escape(url)}>"


def _mailto(address: str) -> str:
    return f"<mailto:{escape(address)}|{escape(address)}>"


def _mention(call: Call, name: str, *, labels: bool) -> str:
    """`@name`: a person, a special mention or a user group; anyone else stays as typed."""
    user = call.conn.execute(
        select(t.users.c.id, t.users.c.name).where(t.users.c.name == name.lower())
    ).first()
    if user is not None:
        return f"<@{user.id}|{user.name}>" if labels else f"<@{user.id}>"
    if name.lower() in SPECIAL_MENTIONS:
        return f"<!{name.lower()}>"
    group = call.conn.execute(
        select(t.usergroups.c.id, t.usergroups.c.handle).where(
            t.usergroups.c.handle == name.lower()
        )
    ).first()
    if group is not None:
        return f"<!subteam^{group.id}|@{escape(group.handle)}>"
    return escape(f"@{name}")


def _channel(call: Call, name: str, user_id: str) -> str:
    """`#name`: a channel the person can see; anything else stays as typed."""
    row = call.channel_by_name(name.lower())
    if row is None or row["is_im"]:
        return escape(f"#{name}")
    if row["is_private"] and not call.is_member(row["id"], user_id):
        return escape(f"#{name}")
    return f"<#{row['id']}|{escape(row['name'])}>"
