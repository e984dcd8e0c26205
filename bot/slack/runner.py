"""Run domain operations for Slack listeners: one transaction each, replies for the user."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import Command, CommandError, parse_command
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.service import DuplicateDelivery, check_deliveries, execute, record_pin
from bot.slack.blocks import CardView
from bot.slack.cards import card_view
from storage import deferred
from storage.db import transaction
from storage.models import Incident
from storage.people import remember

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    ":warning: warroom cannot reach its database right now, so nothing was recorded. "
    "Try again in a minute."
)


@dataclass(frozen=True)
class Reply:
    """What to tell the user who asked, privately (None: nothing)."""

    private: str | None = None


# session.info entries
_HELD = "warroom.held_incidents"
_CHANNELS = "warroom.incident_by_channel"
_BY_CHANNEL = (
    select(Incident.id)
    .where(Incident.channel_id == bindparam("p_channel"))
    .order_by(Incident.id.desc())
    .limit(1)
)


def incident_for_channel(session: Session, channel_id: str | None) -> Incident | None:
    """The incident whose channel this is."""
    if not channel_id:
        return None
    # The id first, then the row through the session: commands sharing a transaction in
    # one channel load the incident (and its large playbook snapshot) once.
    # A channel's incident does not change within a transaction: ask once per channel.
    known: dict[str, int] = session.info.setdefault(_CHANNELS, {})
    incident_id = known.get(channel_id)
    if incident_id is None:
        found = session.connection().execute(_BY_CHANNEL, {"p_channel": channel_id}).first()
        if found is None:
            return None
        incident_id = known[channel_id] = found.id
    return _incident(session, incident_id)


def _incident(session: Session, incident_id: int) -> Incident | None:
    """The incident by id, kept loaded for the rest of the transaction."""
    held: dict[int, Incident] = session.info.setdefault(_HELD, {})
    incident = held.get(incident_id)
    if incident is None:
        # The session's identity map holds rows weakly: without this reference the row
        # (and its large playbook snapshot) is collected after each command and loaded
        # again for the next one in the batch.
        incident = session.get(Incident, incident_id)
        if incident is not None:
            held[incident_id] = incident
    return incident


@dataclass(frozen=True)
class CommandJob:
    """One `/incident` command (or button) to apply as `user_id`."""

    command: Command | str
    user_id: str
    channel_id: str | None = None
    incident_id: int | None = None
    key: str | None = None
    user_name: str | None = None
    people: dict[str, str] | None = None
    received_at: datetime | None = None  # when Slack delivered it (default: when it runs)


def run_command(
    runtime: Runtime,
    command: Command | str,
    *,
    user_id: str,
    channel_id: str | None = None,
    incident_id: int | None = None,
    key: str | None = None,
    user_name: str | None = None,
    people: dict[str, str] | None = None,
) -> Reply:
    """Apply one `/incident` command (or button) as `user_id`; errors come back as a Reply."""
    job = CommandJob(
        command,
        user_id=user_id,
        channel_id=channel_id,
        incident_id=incident_id,
        key=key,
        user_name=user_name,
        people=people,
    )
    try:
        with transaction(runtime.sessions) as session:
            (reply,) = run_commands(runtime, session, [job])
    except SQLAlchemyError as error:
        return database_down(job, error)
    runtime.wake_dispatcher()
    return reply


def run_commands(runtime: Runtime, session: Session, jobs: list[CommandJob]) -> list[Reply]:
    """Apply commands in the caller's transaction; one reply per job, in order.

    One command runs in a savepoint of its own: refused, it leaves no trace. Several run
    without savepoints and are flushed together at the end (a savepoint and a flush per
    command cost more than the command); if any is refused, or a delivery turns out to be
    recorded meanwhile, `BatchRefused` is raised, the caller rolls the whole transaction
    back and runs each command again on its own. A database failure is raised as is.
    """
    check_deliveries(session, [job.key for job in jobs if job.key is not None])
    if len(jobs) == 1:
        return [_apply(runtime, session, jobs[0])]
    replies = [_apply(runtime, session, job, alone=False) for job in jobs]
    try:
        deferred.flush(session)
    except IntegrityError as error:
        raise BatchRefused("a delivery of this batch was recorded meanwhile") from error
    return replies


class BatchRefused(Exception):
    """A command of a shared transaction was refused: roll back, run each on its own."""


def database_down(job: CommandJob, error: Exception) -> Reply:
    """Slack was acked already: tell the responder, or the command vanishes silently."""
    verb = job.command.verb if isinstance(job.command, Command) else "command"
    log.error("database error running /incident %s: %r", verb, error)
    return Reply(DATABASE_DOWN)


def _apply(runtime: Runtime, session: Session, job: CommandJob, *, alone: bool = True) -> Reply:
    """One command. `alone`: in a savepoint of its own, a refusal answered; else (sharing a
    transaction with others, flushed by the caller) a refusal raises BatchRefused."""
    try:
        parsed = parse_command(job.command) if isinstance(job.command, str) else job.command
    except CommandError as error:
        return Reply(str(error))
    domain = _domain(runtime, job)
    now = domain.clock.now()
    # Outside the command's savepoint: a refused command still taught us the names.
    for person, name in {**(job.people or {}), job.user_id: job.user_name}.items():
        remember(session=session, user_id=person, name=name, now=now)
    try:
        with session.begin_nested() if alone else nullcontext():
            outcome = execute(
                session,
                domain,
                parsed,
                incident=_job_incident(session, job),
                actor=job.user_id,
                key=job.key,
                check_now=alone,
            )
    except DomainError as error:
        if not alone:
            raise BatchRefused(str(error)) from error
        return Reply(str(error))
    except (DuplicateDelivery, IntegrityError):
        if not alone:
            raise  # the shared transaction is spoilt: the caller runs each command alone
        # The same delivery is being (or was) recorded by another request.
        return Reply(None)
    if outcome.duplicate:
        return Reply(None)
    if parsed.verb in ("declare", "drill"):
        return Reply(outcome.reply)
    return Reply(outcome.private)


def _domain(runtime: Runtime, job: CommandJob) -> Domain:
    # A command waits for its transaction (a batch, the writer lock): its timeline entry
    # still says when the responder sent it (a clock stopped at that instant).
    if job.received_at is None:
        return runtime.domain
    return replace(runtime.domain, clock=SimulatedClock(job.received_at))


def _job_incident(session: Session, job: CommandJob) -> Incident | None:
    if job.incident_id is not None:
        return _incident(session, job.incident_id)
    return incident_for_channel(session, job.channel_id)


def run_pin(
    runtime: Runtime,
    *,
    channel_id: str,
    ts: str,
    text: str,
    author: str | None,
    actor: str | None,
) -> bool:
    """Add a pinned message to its incident's timeline; False if the channel has none."""
    try:
        with transaction(runtime.sessions) as session:
            incident = incident_for_channel(session, channel_id)
            if incident is None:
                return False
            record_pin(
                session,
                runtime.domain,
                incident,
                text=text,
                author=author,
                at=datetime.fromtimestamp(float(ts), UTC),
                actor=actor,
                key=f"pin:{channel_id}:{ts}",
            )
    except (DuplicateDelivery, IntegrityError):
        return True
    except SQLAlchemyError as error:
        log.error("database error recording the pin %s in %s: %r", ts, channel_id, error)
        return False
    return True


def open_cards(runtime: Runtime) -> list[CardView]:
    """Cards of every open incident, newest first (App Home)."""
    with runtime.sessions() as session:
        rows = session.scalars(
            select(Incident).where(Incident.status != "resolved").order_by(Incident.id.desc())
        )
        return [card_view(session, row) for row in rows]
