"""What every sandbox Web API method works with: the call context, arguments, errors, lookups."""

from __future__ import annotations

import builtins
import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.clock import Clock

ID_ALPHABET = string.ascii_uppercase + string.digits


class SlackError(Exception):
    """A Web API failure: answered as `{"ok": false, "error": error, **extra}` with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def new_id(prefix: str, length: int = 10) -> str:
    """Return a Slack-looking id such as `C08ABCDEF12`."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def new_token(prefix: str) -> str:
    """Return a token with Slack's prefix (xoxb-, xoxp-) and a random tail."""
    return f"{prefix}-{secrets.randbelow(10**12):012d}-{secrets.token_hex(12)}"


def missing(name: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


class Args:
    """A method's arguments as Slack receives them: strings from forms, values from JSON."""

    # The methods `str`, `bool` and `int` shadow the builtins in this class body, so the
    # annotations after them name the builtins explicitly.

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __contains__(self, name: str) -> bool:
        return self.str(name) is not None

    def raw(self, name: str) -> Any:
        return self._data.get(name)

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, name: builtins.str, error: builtins.str | None = None) -> builtins.str:
        value = self.str(name)
        if value is None:
            raise SlackError(error) if error else missing(name)
        return value

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self._data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        value = self._data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def json(self, name: builtins.str, error: builtins.str = "invalid_arguments") -> Any:
        """Return a JSON argument, parsed when it came form-encoded."""
        value = self._data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value

    def ids(self, name: builtins.str) -> list[builtins.str]:
        """Return a comma-separated (or JSON list) argument as a list of ids."""
        value = self._data.get(name)
        if value is None:
            return []
        parts = value if isinstance(value, list) else str(value).split(",")
        return [str(p).strip() for p in parts if str(p).strip()]


@dataclass
class Call:
    """One Web API call inside one transaction: who calls, when, and what to announce after."""

    conn: Connection
    caller: RowMapping
    clock: Clock
    team_id: str
    base_url: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.caller["id"]

    @property
    def is_bot(self) -> bool:
        return bool(self.caller["is_bot"])

    def epoch(self) -> int:
        return int(self.clock.now().timestamp())

    def next_ts(self) -> str:
        """Return a message ts from the clock, strictly after every ts handed out before."""
        now = self.clock.now()
        candidate = int(now.timestamp()) * 1_000_000 + now.microsecond
        row = self.conn.execute(
            select(t.kv.c.value).where(t.kv.c.key == "last_ts").with_for_update()
        ).first()
        last = int(row[0]) if row else 0
        value = max(candidate, last + 1)
        if row:
            self.conn.execute(t.kv.update().where(t.kv.c.key == "last_ts").values(value=str(value)))
        else:
            self.conn.execute(t.kv.insert().values(key="last_ts", value=str(value)))
        return f"{value // 1_000_000}.{value % 1_000_000:06d}"

    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an Events API-shaped event, delivered to listeners after the commit."""
        fields.setdefault("event_ts", f"{self.clock.now().timestamp():.6f}")
        self.events.append({"type": event_type, **fields})

    # -- lookups ---------------------------------------------------------------------------

    def user(self, user_id: str | None, error: str = "user_not_found") -> RowMapping:
        row = None
        if user_id:
            row = (
                self.conn.execute(select(t.users).where(t.users.c.id == user_id)).mappings().first()
            )
        if row is None:
            raise SlackError(error)
        return row

    def is_member(self, channel_id: str, user_id: str) -> bool:
        query = select(t.members.c.user_id).where(
            t.members.c.channel_id == channel_id, t.members.c.user_id == user_id
        )
        return self.conn.execute(query).first() is not None

    def member_ids(self, channel_id: str) -> list[str]:
        query = (
            select(t.members.c.user_id)
            .where(t.members.c.channel_id == channel_id)
            .order_by(t.members.c.joined, t.members.c.user_id)
        )
        return list(self.conn.execute(query).scalars())

    def channel(self, channel_id: str | None) -> RowMapping:
        """Return a conversation the caller can see by id, else channel_not_found."""
        row = None
        if channel_id:
            query = select(t.channels).where(t.channels.c.id == channel_id)
            row = self.conn.execute(query).mappings().first()
        if row is None or (
            (row["is_private"] or row["is_im"]) and not self.is_member(row["id"], self.user_id)
        ):
            raise SlackError("channel_not_found")
        return row

    def channel_by_name(self, name: str) -> RowMapping | None:
        query = select(t.channels).where(t.channels.c.name == name)
        return self.conn.execute(query).mappings().first()

    def writable(self, channel_id: str | None) -> RowMapping:
        """Return a channel the caller may act in: visible, not archived, a member."""
        row = self.channel(channel_id)
        if row["is_archived"]:
            raise SlackError("is_archived")
        if not self.is_member(row["id"], self.user_id):
            raise SlackError("not_in_channel")
        return row

    def readable(self, channel_id: str | None) -> RowMapping:
        """Return a channel whose messages the caller may read (bots only where members)."""
        row = self.channel(channel_id)
        if self.is_bot and not self.is_member(row["id"], self.user_id):
            raise SlackError("not_in_channel")
        return row

    def message(self, channel_id: str, ts: str | None) -> RowMapping:
        row = None
        if ts:
            query = select(t.messages).where(
                t.messages.c.channel_id == channel_id, t.messages.c.ts == ts
            )
            row = self.conn.execute(query).mappings().first()
        if row is None:
            raise SlackError("message_not_found")
        return row


Method = Callable[[Call, Args], dict[str, Any]]
