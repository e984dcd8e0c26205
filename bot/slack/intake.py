"""Slack's requests, durable: stored before the ack, carried out after it, resumed after a crash.

A listener hands each command, click, submission or pin to `receive`, which returns once
the request is committed to the inbox (requests arriving together share one commit); only
then does Slack get its answer. `carry_out` runs it through the application layer, and
`recover` carries out what a crashed or stopped process left in the inbox.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents.commands import Command
from bot.incidents.untrusted import clean_text
from bot.outbox.batching import GroupCommit, Traffic
from bot.slack.errors import PERMANENT_ERRORS, slack_error
from bot.slack.people import Directory, UnknownPerson
from bot.slack.replies import reply_text, said
from bot.slack.wire import plain_text, unlabeled_users
from bot.usecases.inbox import Inbound, Request, accept, carry_out, decode
from bot.usecases.run_command import CommandRequest, Reply
from storage import inbox
from storage.inbox import Accepted
from storage.unit_of_work import within

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    ":warning: warroom cannot reach its database right now, so nothing was recorded. "
    "Try again in a minute."
)
DATABASE_LATE = (
    ":hourglass: warroom's database is not answering. Your request is kept and will be "
    "recorded as soon as it is back."
)
RECOVER_EVERY = 5.0  # seconds between looks for requests a stopped process left
RECOVER_AFTER = timedelta(seconds=10)  # a live process carries a request out long before
RECOVER_LEASE = timedelta(seconds=60)
RECOVER_BATCH = 200
KEEP_DONE = timedelta(days=1)  # Slack retries a delivery within minutes
# Carrying out gives way to storing: while requests are arriving (one in the last QUIET
# seconds), the next batch waits, at most `give_way_for` seconds. The ack has a deadline
# (Slack's 3 s) and its sender waits on it; the carry-out has neither, and on a shared
# machine its transactions are what slows the acks of a burst.
QUIET = 0.05
# A reacted-to message these say is gone (or out of reach) is never coming back.
GONE = frozenset({"thread_not_found", "not_in_channel"})


class Intake:
    """Store, carry out and recover Slack requests for one process."""

    def __init__(
        self,
        runtime: Runtime,
        client: AsyncWebClient,
        *,
        linger: float = 0.0,
        give_way_for: float = 0.0,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.directory = Directory(client)
        self._stores = Traffic()
        # Requests arriving together share the commit their ack waits for.
        # Storing a batch is one INSERT: on PostgreSQL it runs without a transaction around
        # it, which would cost two more round trips on the ack's path.
        self._store: GroupCommit[Inbound, Accepted] = GroupCommit(
            runtime.statement_sessions, self._accept, traffic=self._stores
        )
        # Carried out after the ack: nobody waits on it, so batches may wait for company.
        self._run: GroupCommit[tuple[int, Request | None], Reply] = GroupCommit(
            runtime.sessions,
            self._carry_out,
            linger=linger,
            give_way=self._busy,
            give_way_for=give_way_for,
        )

    def _busy(self) -> bool:
        """Whether requests are being stored (read from the carry-out's thread)."""
        return self._stores.busy(QUIET)

    def _accept(self, session: Session, inbounds: list[Inbound]) -> list[Accepted]:
        with within(session) as uow:
            return accept(uow, inbounds)

    def _carry_out(self, session: Session, items: list[tuple[int, Request | None]]) -> list[Reply]:
        with within(session) as uow:
            return carry_out(uow, self.runtime.domain, items)

    async def receive(self, inbound: Inbound) -> Inbound | None:
        """Store a request before it is answered; None if it is a retry of a stored one.

        Raises SQLAlchemyError when the database cannot take it (answer with an error).
        """
        accepted = await self._store.submit(inbound)
        return replace(inbound, id=accepted.id) if accepted.new else None

    async def carry_out(self, inbound: Inbound) -> None:
        """Carry out a stored request and answer its sender privately."""
        assert inbound.id is not None
        refused: str | None = None
        try:
            request = await self._resolve(inbound.request)
        except UnknownPerson as error:
            # Refused before it runs: marked done with nothing recorded, and the sender told.
            request, refused = None, str(error)
        try:
            reply = await self._run.submit((inbound.id, request))
        except SQLAlchemyError as error:
            # It stays in the inbox: `recover` carries it out once the database is back.
            log.error("database error carrying out Slack request %s: %r", inbound.key, error)
            await self.answer(inbound.reply_to, DATABASE_LATE)
            return
        self.runtime.wake_dispatcher()
        await self.answer(inbound.reply_to, said(refused) if refused else reply_text(reply))

    async def recover(self, *, everything: bool = False) -> int:
        """Carry out requests a stopped process left; `everything`: however recent (a
        single process at its start). Returns how many were carried out."""
        now = self.runtime.domain.clock.now()

        def take() -> list[Inbound]:
            with self.runtime.sessions() as session, session.begin():
                rows = inbox.claim(
                    session,
                    now=now,
                    received_before=now if everything else now - RECOVER_AFTER,
                    lease=RECOVER_LEASE,
                    limit=RECOVER_BATCH,
                )
                return [decode(row) for row in rows]

        left = await asyncio.to_thread(take)
        if left:
            log.warning("carrying out %d Slack requests left by a stopped process", len(left))
            done = await asyncio.gather(
                *(self.carry_out(inbound) for inbound in left), return_exceptions=True
            )
            for inbound, outcome in zip(left, done, strict=True):
                if isinstance(outcome, BaseException):
                    # Still in the inbox: the next look tries again once the lease is over.
                    log.error("could not carry out Slack request %s: %r", inbound.key, outcome)
        return len(left)

    async def recover_forever(self) -> None:
        """Look for left requests every few seconds, and forget those carried out long
        ago, until cancelled."""
        while True:
            await asyncio.sleep(RECOVER_EVERY)
            try:
                await self.recover()
                await asyncio.to_thread(self._prune)
            except Exception:
                log.exception("could not look for Slack requests left in the inbox")

    def _prune(self) -> None:
        before = self.runtime.domain.clock.now() - KEEP_DONE
        with self.runtime.sessions() as session, session.begin():
            inbox.prune(session, done_before=before)

    async def answer(self, reply_to: dict[str, Any], text: str | None) -> None:
        """Tell the sender privately: through the request's response URL, else (none, or
        one used up or expired) as an ephemeral message in the channel it came from.

        The response URL comes first: it reaches the user where the bot cannot post, a DM
        between people or a channel the bot is not in (chat.postEphemeral answers
        `channel_not_found` or `not_in_channel` there).
        """
        if not text:
            return
        if reply_to.get("response_url") and await self._respond(reply_to["response_url"], text):
            return
        if reply_to.get("channel") and reply_to.get("user"):
            try:
                await self.client.chat_postEphemeral(
                    channel=reply_to["channel"], user=reply_to["user"], text=text
                )
            except Exception:  # an answer is a courtesy: what was asked is done either way
                log.info("could not answer a Slack request privately", exc_info=True)

    async def _respond(self, response_url: str, text: str) -> bool:
        try:
            respond = AsyncRespond(response_url=response_url)
            answered = await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.info("could not answer through a response URL", exc_info=True)
            return False
        if answered.status_code != 200:
            # 30 minutes and 5 uses each (a form left open, a long conversation).
            log.info("a response URL refused an answer: %s", answered.status_code)
            return False
        return True

    async def _resolve(self, request: Request) -> Request | None:
        """What the request needs from Slack first: the person a command names, the message
        a reaction names (None: it is gone), a pinned text made plain.

        Raises UnknownPerson when a command names someone the workspace does not have.
        """
        if isinstance(request, CommandRequest):
            return await self._with_person(request)
        if request.text is not None:
            return replace(request, text=await self._plain(request.text))
        channel, ts = request.channel_id, request.ts
        try:
            response = await self.client.conversations_history(
                channel=channel, latest=ts, inclusive=True, limit=1
            )
            messages: list[dict[str, Any]] = response.get("messages", [])
            if not messages or messages[0].get("ts") != ts:
                response = await self.client.conversations_replies(channel=channel, ts=ts, limit=1)
                messages = response.get("messages", [])
        except SlackApiError as error:
            if slack_error(error) in PERMANENT_ERRORS | GONE:
                return None  # no retry can find it: done, with nothing to record
            raise  # left in the inbox: tried again by `recover`
        if not messages:
            return None
        message = messages[0]
        text = await self._plain(clean_text(message.get("text", "")))
        return replace(request, text=text, author=message.get("user"))

    async def _plain(self, wire: str) -> str:
        """A message's text as plain text, people mentioned by id named."""
        names: dict[str, str] = {}
        for user in unlabeled_users(wire):
            try:
                name = await self.directory.name_of(user)
            except UnknownPerson:
                name = None
            if name:
                names[user] = name
        return plain_text(wire, names).text

    async def _with_person(self, request: CommandRequest) -> CommandRequest:
        """The command with the person it names (a role holder, an action owner) as a user
        id, and their name; a name typed without picking it is looked up."""
        command = request.command
        user = command.user if isinstance(command, Command) else None
        if not isinstance(command, Command) or not user:
            return request
        if user.startswith("@"):
            person = await self.directory.find(user)
            return replace(
                request, command=replace(command, user=person.id), people={person.id: person.name}
            )
        if request.people and user in request.people:
            return request
        name = await self.directory.name_of(user)
        return replace(request, people={user: name}) if name else request
