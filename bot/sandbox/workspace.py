"""The sandbox workspace: its database, its methods, and the hooks tests and the page use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError, ProgrammingError

from bot.sandbox import seed as seeding
from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError
from bot.sandbox.clock import Clock, WallClock
from bot.sandbox.faults import CallLog, Faults
from bot.sandbox.methods import METHODS, files
from bot.sandbox.methods.history import ephemeral_messages, on_channel
from bot.sandbox.methods.views import new_trigger
from bot.sandbox.ratelimits import RateLimits
from bot.sandbox.render import channel_object, message_object, ts_key

if TYPE_CHECKING:
    from bot.sandbox.driver import Driver

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
DEFAULT_BASE_URL = "http://127.0.0.1:3000/sandbox/"
VIEW_OPENED_PREFIX = "view_opened:"


class Sandbox:
    """A Slack workspace kept in `sandbox_*` tables of the bot's own database."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        events_url: str | None = None,
        app_token: str | None = None,
        rate_limits: bool = True,
        rate_limit_timer: Callable[[], float] | None = None,
    ) -> None:
        self.engine = engine
        # The app-level token Socket Mode connects with (SLACK_APP_TOKEN); unset: the one
        # the sandbox made up when it was first seeded.
        self._configured_app_token = app_token
        # Where the driver sends commands, interactions and events (the bot's /slack/events);
        # settable later, once the server knows its own address.
        self.events_url = events_url
        self.driver: Driver | None = None
        self.clock = clock or WallClock()
        self.faults = Faults()
        self.calls = CallLog(self.clock)
        # Slack's per-method and per-channel limits; off only for tests that need bursts.
        self.rate_limits = RateLimits(enabled=rate_limits, timer=rate_limit_timer or time.monotonic)
        # One writer at a time: ts allocation and check-then-insert rules stay exact.
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self.start()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Create the tables and seed the workspace once (idempotent, restart-safe)."""
        # Two replicas starting together race between "is the table there" and "create
        # it"; the loser's next try finds the table.
        for attempt in range(3):
            try:
                t.metadata.create_all(self.engine)
                break
            except (IntegrityError, ProgrammingError):
                if attempt == 2:
                    raise
                time.sleep(0.2)
        try:
            with self.transaction() as conn:
                if not seeding.is_seeded(conn):
                    seeding.seed(conn, now=int(self.clock.now().timestamp()))
        except IntegrityError:
            # Another process seeded the same database first.
            log.info("sandbox already seeded by another process")
        try:
            with self.transaction() as conn:
                seeding.ensure_app_token(conn, self._configured_app_token)
        except IntegrityError:
            log.info("sandbox app token made by another process")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn

    # -- the Web API -----------------------------------------------------------------------

    def call(
        self,
        method: str,
        args: Mapping[str, Any],
        *,
        token: str | None,
        base_url: str = DEFAULT_BASE_URL,
    ) -> dict[str, Any]:
        """Run one Web API method as the token's user; answer Slack's JSON body."""
        fn = METHODS.get(method)
        if fn is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        caller_id = None
        try:
            if not token:
                raise SlackError("not_authed")
            with self.transaction() as conn:
                query = select(t.users).where(t.users.c.token == token)
                caller = conn.execute(query).mappings().first()
                if caller is None:
                    raise SlackError("invalid_auth")
                caller_id = caller["id"]
                call = Call(conn, caller, self.clock, seeding.TEAM_ID, base_url)
                result = fn(call, Args(args))
                _announce_for_page(call, method, args, result)
        except SlackError as exc:
            self._log(method, args, {}, caller_id, error=exc.error)
            return {"ok": False, "error": exc.error, **exc.extra}
        self._log(method, args, result, caller_id)
        self._deliver(call.events)
        return {"ok": True, **result}

    def _log(
        self,
        method: str,
        args: Mapping[str, Any],
        result: dict[str, Any],
        user: str | None,
        *,
        error: str | None = None,
    ) -> None:
        channel = args.get("channel") or args.get("channel_id") or result.get("channel")
        if isinstance(channel, dict):
            channel = channel.get("id")
        self.calls.record(
            method,
            status=200,
            ok=error is None,
            error=error,
            channel=channel if isinstance(channel, str) else None,
            user=user,
        )

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener with each Events API `event` after its change commits."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("sandbox event listener failed on %s", event.get("type"))

    # -- sandbox-only operations -----------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Describe the workspace with every token and secret (sandbox.info)."""
        with self.transaction() as conn:
            kv = {k: v for k, v in conn.execute(select(t.kv.c.key, t.kv.c.value))}
            users = conn.execute(select(t.users).order_by(t.users.c.seq)).mappings().all()
            groups = conn.execute(select(t.usergroups).order_by(t.usergroups.c.id)).mappings()
            query = select(t.channels).where(t.channels.c.is_im.is_(False))
            channels = sorted(conn.execute(query).mappings(), key=lambda c: ts_key(c["created_ts"]))
            members: dict[str, list[str]] = {}
            for channel_id, user_id in conn.execute(
                select(t.members.c.channel_id, t.members.c.user_id)
            ):
                members.setdefault(channel_id, []).append(user_id)
            bot = next(u for u in users if u["is_bot"])
            return {
                "ok": True,
                "team": {"id": kv["team_id"], "name": kv["team_name"]},
                "bot": {
                    "user_id": bot["id"],
                    "bot_id": bot["bot_id"],
                    "app_id": "A" + bot["bot_id"][1:],
                    "name": bot["name"],
                    "token": bot["token"],
                },
                "bot_token": bot["token"],
                "signing_secret": kv["signing_secret"],
                "app_token": kv.get("app_token"),
                "users": [
                    {
                        "id": u["id"],
                        "name": u["name"],
                        "real_name": u["real_name"],
                        "email": u["email"],
                        "tz": u["tz"],
                        "is_bot": bool(u["is_bot"]),
                        "token": u["token"],
                    }
                    for u in users
                ],
                "usergroups": [
                    {"id": g["id"], "handle": g["handle"], "name": g["name"], "users": g["users"]}
                    for g in groups
                ],
                "channels": [
                    {
                        "id": c["id"],
                        "name": c["name"],
                        "is_private": bool(c["is_private"]),
                        "is_archived": bool(c["is_archived"]),
                        "members": members.get(c["id"], []),
                    }
                    for c in channels
                ],
            }

    @property
    def bot_token(self) -> str:
        return self.info()["bot_token"]

    @property
    def signing_secret(self) -> str:
        return self.info()["signing_secret"]

    @property
    def app_token(self) -> str:
        """The app-level token (`xapp-`) that `apps.connections.open` accepts."""
        return self.info()["app_token"]

    def token_for(self, user: str) -> str:
        """Return the token of a user given by id or name."""
        with self.transaction() as conn:
            query = select(t.users.c.token).where((t.users.c.id == user) | (t.users.c.name == user))
            token = conn.execute(query).scalar()
        if token is None:
            raise KeyError(user)
        return token

    def add_user(self, name: str, **profile: Any) -> dict[str, Any]:
        """Create a human user if new (replays name responders freely); return it with token."""
        with self.transaction() as conn:
            return seeding.add_user(conn, name, **profile)

    def issue_trigger(self, user_id: str) -> str:
        """Return a trigger_id for user_id, as Slack sends with commands and actions."""
        with self._as_bot() as call:
            return new_trigger(call, user_id)

    def receive_upload(self, file_id: str, data: bytes) -> bool:
        with self.transaction() as conn:
            return files.receive_upload(conn, file_id, data)

    def file_content(self, file_id: str) -> tuple[str, str, bytes] | None:
        with self.transaction() as conn:
            return files.file_content(conn, file_id)

    def token_is_known(self, token: str) -> bool:
        """Whether a token is the bot's or a user's of this workspace (a file's private
        URL answers only a request carrying one)."""
        with self.transaction() as conn:
            query = select(t.users.c.id).where(t.users.c.token == token)
            return conn.execute(query).first() is not None

    @contextmanager
    def as_app(self) -> Iterator[Call]:
        """Act as the bot where Slack itself acts for the app (response_url, command acks).

        Membership rules are skipped; the events it emits go out after the commit.
        """
        with self._as_bot() as call:
            yield call
        self._deliver(call.events)

    @contextmanager
    def _as_bot(self) -> Iterator[Call]:
        """A call context as the bot, for sandbox-only reads that skip membership rules."""
        with self.transaction() as conn:
            query = select(t.users).where(t.users.c.id == seeding.BOT_USER_ID)
            caller = conn.execute(query).mappings().one()
            yield Call(conn, caller, self.clock, seeding.TEAM_ID, DEFAULT_BASE_URL)

    def _find_channel(self, call: Call, channel: str) -> Any:
        query = select(t.channels).where(
            (t.channels.c.id == channel) | (t.channels.c.name == channel.lstrip("#"))
        )
        row = call.conn.execute(query).mappings().first()
        if row is None:
            raise KeyError(channel)
        return row

    def channel(self, channel: str) -> dict[str, Any]:
        """Return a channel by id or name as conversations.info shows it, plus its members."""
        with self._as_bot() as call:
            row = self._find_channel(call, channel)
            shown = channel_object(call, row, num_members=True)
            return {**shown, "members": call.member_ids(row["id"])}

    def messages(
        self, channel: str, *, replies: bool = False, ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Return a channel's messages oldest first, whoever may read them (sandbox-only).

        Args:
            replies: include thread replies, not only what shows in the channel itself.
            ephemeral: include ephemeral messages, marked `is_ephemeral` and `ephemeral_user`.
        """
        with self._as_bot() as call:
            row = self._find_channel(call, channel)
            query = select(t.messages).where(t.messages.c.channel_id == row["id"])
            shown = [
                message_object(m)
                for m in call.conn.execute(query).mappings()
                if replies or on_channel(m)
            ]
            if ephemeral:
                shown += ephemeral_messages(call, row["id"])
        return sorted(shown, key=lambda m: ts_key(m["ts"]))


def _announce_for_page(call: Call, method: str, args: Mapping[str, Any], result: dict) -> None:
    """Emit sandbox-only events (`sandbox_*`) for changes Slack announces to clients only."""
    if method == "chat.postEphemeral":
        call.emit("sandbox_ephemeral", channel=args.get("channel"), user=args.get("user"))
    elif method.startswith("views.") and isinstance(result.get("view"), dict):
        view = result["view"]
        query = select(t.views.c.user_id).where(t.views.c.id == view["id"])
        user_id = call.conn.execute(query).scalar() or ""
        if method in ("views.open", "views.push"):
            # views has no creation time; the page and the driver need the newest modal.
            key = f"{VIEW_OPENED_PREFIX}{view['id']}"
            call.conn.execute(t.kv.insert().values(key=key, value=call.next_ts()))
        call.emit("sandbox_view", method=method, user=user_id, view_id=view["id"])
