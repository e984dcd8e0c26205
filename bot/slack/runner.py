"""Run domain operations for Slack listeners: one transaction each, replies for the user."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from bot.incidents.commands import Command, CommandError, parse_command
from bot.incidents.errors import DomainError
from bot.incidents.service import DuplicateDelivery, execute, record_pin
from bot.runtime import Runtime
from bot.slack.blocks import CardView
from bot.slack.cards import card_view
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


def incident_for_channel(session: Session, channel_id: str | None) -> Incident | None:
    """The incident whose channel this is."""
    if not channel_id:
        return None
    return session.scalar(
        select(Incident).where(Incident.channel_id == channel_id).order_by(Incident.id.desc())
    )


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
    try:
        parsed = parse_command(command) if isinstance(command, str) else command
    except CommandError as error:
        return Reply(str(error))
    try:
        with transaction(runtime.sessions) as session:
            now = runtime.domain.clock.now()
            for person, name in {**(people or {}), user_id: user_name}.items():
                remember(session=session, user_id=person, name=name, now=now)
            incident = (
                session.get(Incident, incident_id)
                if incident_id is not None
                else incident_for_channel(session, channel_id)
            )
            outcome = execute(
                session, runtime.domain, parsed, incident=incident, actor=user_id, key=key
            )
    except DomainError as error:
        return Reply(str(error))
    except (DuplicateDelivery, IntegrityError):
        # The same delivery is being (or was) recorded by another request.
        return Reply(None)
    except SQLAlchemyError as error:
        # Slack was acked already: tell the responder, or the command vanishes silently.
        log.error("database error running /incident %s: %r", parsed.verb, error)
        return Reply(DATABASE_DOWN)
    runtime.wake_dispatcher()
    if outcome.duplicate:
        return Reply(None)
    if parsed.verb in ("declare", "drill"):
        return Reply(outcome.reply)
    return Reply(outcome.private)


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
