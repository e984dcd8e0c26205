"""Use case: run `/incident` commands (typed, clicked or submitted) in a unit of work."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import Command, CommandError, parse_command
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.service import DuplicateDelivery, check_deliveries, execute
from bot.incidents.views import Shown
from storage.models import Incident
from storage.people import remember
from storage.unit_of_work import UnitOfWork, unit_of_work


@dataclass(frozen=True)
class Reply:
    """What to tell the user who asked, privately: text, or a view the adapter words
    (both None: nothing)."""

    private: str | None = None
    shown: Shown | None = None


@dataclass(frozen=True)
class CommandRequest:
    """One `/incident` command (or button, or modal) to apply as `user_id`."""

    command: Command | str
    user_id: str
    channel_id: str | None = None
    incident_id: int | None = None
    key: str | None = None
    user_name: str | None = None
    people: dict[str, str] | None = None
    received_at: datetime | None = None  # when Slack delivered it (default: when it runs)


class BatchRefused(Exception):
    """A command of a shared transaction was refused: roll back, run each on its own."""


def run_commands(uow: UnitOfWork, domain: Domain, requests: list[CommandRequest]) -> list[Reply]:
    """Apply commands in one unit of work; one reply per request, in order.

    One command runs in a savepoint of its own: refused, it leaves no trace. Several share
    the unit of work without savepoints and are flushed together (a savepoint and a flush
    per command cost more than the command); if any is refused, or a delivery turns out to
    be recorded meanwhile, `BatchRefused` is raised: roll the transaction back and run each
    on its own. A database failure is raised as is.
    """
    check_deliveries(uow, [r.key for r in requests if r.key is not None])
    if len(requests) == 1:
        return [_apply(uow, domain, requests[0])]
    replies = [_apply(uow, domain, request, alone=False) for request in requests]
    try:
        uow.flush()
    except IntegrityError as error:
        raise BatchRefused("a delivery of this batch was recorded meanwhile") from error
    return replies


def run_command(sessions: sessionmaker[Session], domain: Domain, request: CommandRequest) -> Reply:
    """Apply one command in a transaction of its own."""
    with unit_of_work(sessions) as uow:
        (reply,) = run_commands(uow, domain, [request])
    return reply


def _apply(
    uow: UnitOfWork, domain: Domain, request: CommandRequest, *, alone: bool = True
) -> Reply:
    """One command. `alone`: in a savepoint of its own, a refusal answered; else (sharing the
    unit of work with others, flushed by the caller) a refusal raises BatchRefused."""
    try:
        if isinstance(request.command, str):
            parsed = parse_command(request.command)
        else:
            parsed = request.command
    except CommandError as error:
        return Reply(str(error))
    domain = _at_arrival(domain, request)
    now = domain.clock.now()
    # Outside the command's savepoint: a refused command still taught us the names.
    for person, name in {**(request.people or {}), request.user_id: request.user_name}.items():
        remember(session=uow.session, user_id=person, name=name, now=now, seen=uow.people)
    try:
        if alone:
            with uow.savepoint():
                outcome = _execute(uow, domain, parsed, request)
        else:
            outcome = _execute(uow, domain, parsed, request)
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
    return Reply(outcome.private, outcome.shown)


def _execute(uow: UnitOfWork, domain: Domain, command: Command, request: CommandRequest):
    return execute(
        uow,
        domain,
        command,
        incident=_incident(uow, request),
        actor=request.user_id,
        key=request.key,
    )


def _at_arrival(domain: Domain, request: CommandRequest) -> Domain:
    # A command waits for its transaction (a batch, the writer lock): its timeline entry
    # still says when the responder sent it (a clock stopped at that instant).
    if request.received_at is None:
        return domain
    return replace(domain, clock=SimulatedClock(request.received_at))


def _incident(uow: UnitOfWork, request: CommandRequest) -> Incident | None:
    if request.incident_id is not None:
        return uow.incident(request.incident_id)
    return uow.incident_for_channel(request.channel_id)
