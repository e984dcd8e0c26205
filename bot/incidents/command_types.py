"""What every part of the `/incident` grammar returns or raises: the parsed command, the
error that names the right form, and how a person is written."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Verbs that only read, so they change nothing and record nothing.
READ_ONLY = frozenset({"tasks", "timeline", "catchup", "help", "list"})

_USER = re.compile(r"^(?:<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>|@(?P<name>[\w.\-]+))$")
_NAME = re.compile(r"[\w.\-]+")


class CommandError(ValueError):
    """Malformed command text; `usage` is the right form to show the responder."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        if self.usage:
            return f"{self.message}. Usage: `/incident {self.usage}`"
        return self.message


@dataclass(frozen=True)
class Command:
    """One parsed `/incident` command; fields beyond `verb` are set per verb."""

    verb: str
    text: str | None = None
    severity: str | None = None
    status: str | None = None
    clock: str | None = None  # "HH:MM[:SS]" or "YYYY-MM-DD HH:MM[:SS]", resolved by the domain
    milestone: str | None = None
    role: str | None = None
    user: str | None = None
    target: str | None = None
    number: int | None = None
    duration: str | None = None
    private: bool = False  # declare: a private incident, off every public surface
    due: str | None = None  # action: "YYYY-MM-DD", a real date; the domain refuses a past one

    @property
    def read_only(self) -> bool:
        """True for commands that change nothing."""
        if self.verb == "stage":
            return self.target is None
        if self.verb in ("maintenance", "action"):
            return self.target == "list"
        return self.verb in READ_ONLY


def parse_user(token: str) -> str | None:
    """A Slack mention (`<@U123|name>`, `<@U123>`) or `@name`: the user id or `@name`."""
    match = _USER.match(token)
    if not match:
        return None
    return match.group("id") or f"@{match.group('name')}"


def parse_person(token: str, usage: str) -> str:
    """The one person a command names: a mention, `@name`, or a bare name looked up like
    `@name`; anything else is refused with `usage`."""
    user = parse_user(token)
    if user is None and _NAME.fullmatch(token):
        user = f"@{token}"  # a name typed without the @
    if user is None:
        raise CommandError(f"`{token[:40]}` is not a person: mention them with @", usage)
    return user
