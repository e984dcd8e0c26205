"""One entry point for `/incident` commands: parse, check, apply, record once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.incidents import (
    effects,
    followups,
    lifecycle,
    maintenance,
    notes,
    opening,
    postmortem_life,
    privacy,
    stages,
)
from bot.incidents.commands import JOINED, Command, help_text
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.overview import incident_list
from bot.incidents.records import Outcome, Recorder
from bot.incidents.roles import assign_role
from bot.incidents.snapshot import snapshot
from bot.incidents.views import CatchUpShown, catchup_shown, tasks_shown, timeline_shown
from storage.catchups import first_catchup
from storage.models import Incident, TimelineEvent
from storage.unit_of_work import UnitOfWork

# Verbs that need no incident: they work in any channel.
ANYWHERE = frozenset({"declare", "drill", "help", "list", "maintenance"})


_FIND_KEYS = select(col(TimelineEvent.idempotency_key)).where(
    col(TimelineEvent.idempotency_key).in_(bindparam("p_keys", expanding=True))
)


def check_deliveries(uow: UnitOfWork, keys: list[str]) -> None:
    """Look up many delivery keys in one query, so operations sharing a transaction do not
    each pay for their own `already_done` lookup."""
    if not keys:
        return
    found = set(uow.connection().scalars(_FIND_KEYS, {"p_keys": keys}))
    uow.new_delivery_keys.update(set(keys) - found)


def already_done(uow: UnitOfWork, key: str | None) -> bool:
    """Tell whether a request with this idempotency key was already recorded."""
    if key is None:
        return False
    if key in uow.new_delivery_keys:
        # Checked unrecorded up front; used once, so a second delivery of the same key in
        # the transaction asks the database, where the first one's entry then is.
        uow.new_delivery_keys.discard(key)
        return False
    uow.flush()  # an earlier operation of this transaction may have recorded it
    query = select(col(TimelineEvent.id)).where(col(TimelineEvent.idempotency_key) == key)
    return uow.session.scalar(query) is not None


def execute(
    uow: UnitOfWork,
    domain: Domain,
    command: Command,
    *,
    incident: Incident | None,
    actor: str,
    key: str | None = None,
) -> Outcome:
    """Apply a parsed command as `actor`; raise DomainError (nothing changed) when refused.

    `key` identifies the delivery (Slack's trigger id): a retry of the same request
    returns a duplicate outcome and records nothing; a concurrent delivery of it makes the
    unit of work's flush fail.
    """
    if already_done(uow, key):
        return Outcome(incident, duplicate=True)
    if command.verb == "help":
        return Outcome(incident, private=help_text(postmortem_life.help_lines()))
    if command.verb == "declare":
        return _declare(uow, domain, command, actor=actor, key=key)
    if command.verb == "drill":
        return _drill(uow, domain, command, actor=actor, key=key)
    if command.verb == "maintenance":
        return _maintenance(uow, domain, command, incident=incident, actor=actor)
    if command.verb == "list":
        # Asked in an incident's own channel, the asker is in it: that one may be private.
        shown = incident_list(
            uow.session,
            domain.clock.now(),
            recent=command.target == "all",
            member_of=incident.id if incident is not None else None,
        )
        return Outcome(incident, shown=shown)
    if command.verb == "catchup" and command.target == JOINED:
        return _catchup_on_join(uow, domain, incident, actor=actor)
    if incident is None:
        raise DomainError(
            f"`{command.verb}` works in an incident channel; run it there, or "
            "`/incident declare <title>` to open one"
        )
    if command.verb == "timeline":
        uow.flush()  # what this transaction recorded so far belongs in it
        return Outcome(incident, shown=timeline_shown(uow.session, incident, domain.tz))
    if command.verb == "catchup":
        return Outcome(incident, shown=_catchup(uow, domain, incident))
    if command.verb == "action" and command.target == "list":
        uow.flush()  # a follow-up this transaction recorded belongs in it
        today = domain.clock.now().astimezone(domain.tz).date()
        return Outcome(incident, private=followups.listing(uow.session, incident, today))
    if command.verb == "tasks" or (command.verb == "stage" and command.target is None):
        assert incident.id is not None
        found = snapshot(uow.session, incident.id)
        assert found is not None
        return Outcome(incident, shown=tasks_shown(found))
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz, key=key)
    # The echo goes first in the outbox so the channel reads command, then its effects.
    echo = rec.effect(effects.PostMessage(text="", actor=actor))
    if command.verb == "postmortem" and command.target is not None:
        reply = _postmortem_step(rec, domain, command, actor=actor)
    else:
        reply = _apply(rec, command, actor, tracker=domain.tracker)
    # Whatever the command did, the playbook's checklist hears of it (`update` posts the
    # first status update, `cause` records the cause...); closing a follow-up is no
    # `action` task's doing.
    verb = f"action {command.target}" if command.verb == "action" and command.target else None
    stages.command_done(rec, verb or command.verb, command.role or command.status, actor=actor)
    rec.amend(echo, text=reply)
    rec.close()
    rec.outcome.reply = reply
    return rec.outcome


def _postmortem_step(rec: Recorder, domain: Domain, c: Command, *, actor: str) -> str:
    match c.target:
        case "owner":
            return postmortem_life.set_owner(rec, c.user or "", actor=actor)
        case "review":
            return postmortem_life.review(rec, actor=actor)
        case "publish":
            return postmortem_life.publish(rec, domain, actor=actor)
    raise DomainError(f"`postmortem {c.target}` is not supported here")


def _catchup(uow: UnitOfWork, domain: Domain, incident: Incident) -> CatchUpShown:
    uow.flush()  # what this transaction recorded so far belongs in it
    assert incident.id is not None
    found = snapshot(uow.session, incident.id)
    assert found is not None
    return catchup_shown(uow.session, incident, found, domain.tz, domain.clock.now())


def _catchup_on_join(
    uow: UnitOfWork, domain: Domain, incident: Incident | None, *, actor: str
) -> Outcome:
    """The catch-up for someone who joined the incident's channel after it opened, once.

    Those the opening itself invited (the declarer, the playbook's invitees and role
    holders) joined as it opened: there is nothing yet for them to catch up on. A channel
    that is no incident's gets nothing, not even a refusal: nobody asked.
    """
    if incident is None or incident.id is None or actor in opening.opening_invitees(incident):
        return Outcome(incident)
    if not first_catchup(
        session=uow.session, incident_id=incident.id, user_id=actor, now=domain.clock.now()
    ):
        return Outcome(incident)
    return Outcome(incident, shown=_catchup(uow, domain, incident))


def _apply(rec: Recorder, command: Command, actor: str, *, tracker: str | None) -> str:
    c = command
    match c.verb:
        case "ack":
            return lifecycle.ack(rec, actor=actor)
        case "sev":
            return lifecycle.set_severity(rec, c.severity or "", actor=actor)
        case "status":
            return lifecycle.set_status(rec, c.status or "", c.text, actor=actor)
        case "mitigate":
            return lifecycle.mitigate(rec, c.text, actor=actor)
        case "resolve":
            return lifecycle.resolve(rec, c.text, actor=actor)
        case "reopen":
            return lifecycle.reopen(rec, actor=actor)
        case "update":
            return notes.update(rec, c.text or "", actor=actor)
        case "note":
            return notes.note(rec, c.text or "", actor=actor)
        case "log":
            return notes.log(rec, c.clock or "", c.text or "", actor=actor)
        case "time":
            return notes.set_time(rec, c.milestone or "", c.clock or "", actor=actor)
        case "impact":
            return notes.set_impact(rec, c.text or "", actor=actor)
        case "cause":
            return notes.set_cause(rec, c.text or "", actor=actor)
        case "action" if c.target == "done":
            return followups.done(rec, c.number or 0, actor=actor)
        case "action" if c.target == "drop":
            return followups.drop(rec, c.number or 0, c.text or "", actor=actor)
        case "action":
            return followups.add(rec, c.text or "", c.user, c.due, actor=actor, tracker=tracker)
        case "statuspage":
            return notes.statuspage(rec, c.status or "", c.text or "", actor=actor)
        case "public-title":
            return privacy.set_public_title(rec, c.text or "", actor=actor)
        case "role":
            assign_role(rec, c.role or "", c.user or "", actor=actor)
            return f"{c.role} is now {c.user}"
        case "stage":
            return stages.advance(rec, None if c.target == "next" else c.target, actor=actor)
        case "task":
            return stages.task_done(rec, c.number or 0, actor=actor)
        case "postmortem":
            rec.event("postmortem", "postmortem draft requested", actor=actor)
            rec.effect(effects.PostPostmortem())
            rec.effect(effects.SendWebhook(event="postmortem.ready"))
            return "Regenerating the postmortem draft"
    raise DomainError(f"`{c.verb}` is not supported here")


def _check_delivery(uow: UnitOfWork, key: str) -> None:
    """Write the operation's rows now: a concurrent delivery of the same key fails here."""
    try:
        uow.flush()
    except IntegrityError as error:
        raise DuplicateDelivery(key) from error


class DuplicateDelivery(Exception):
    """The same delivery is being recorded by another transaction; roll back and ignore."""


def _declare(
    uow: UnitOfWork, domain: Domain, command: Command, *, actor: str, key: str | None
) -> Outcome:
    if not command.text:
        raise DomainError("`declare` needs a title. Usage: `/incident declare <title> [sev1-4]`")
    if command.target and domain.catalog.get(command.target) is None:
        known = ", ".join(p.id for p in domain.catalog.all())
        raise DomainError(f"No playbook `{command.target}`; known: {known}")
    return opening.declare(
        uow,
        domain,
        title=command.text,
        severity=command.severity,
        actor=actor,
        playbook_id=command.target,
        key=key,
        private=command.private,
    )


def _drill(
    uow: UnitOfWork, domain: Domain, command: Command, *, actor: str, key: str | None
) -> Outcome:
    playbook = domain.catalog.get(command.target or "")
    if playbook is None:
        known = ", ".join(p.id for p in domain.catalog.all())
        raise DomainError(f"No playbook `{command.target}`; known: {known}")
    return opening.declare(
        uow,
        domain,
        title=playbook.title,  # the drill flag, card and channel prefix say it is practice
        # What the playbook's alerts would open with when they say nothing.
        severity=playbook.severity_override or playbook.severity,
        actor=actor,
        playbook_id=playbook.id,
        drill=True,
        key=key,
    )


def record_pin(
    uow: UnitOfWork,
    domain: Domain,
    incident: Incident,
    *,
    text: str,
    author: str | None,
    at: datetime,
    actor: str | None,
    key: str,
) -> Outcome:
    """Add a pinned message to the timeline once, however often it is pinned or reacted to."""
    if already_done(uow, key):
        return Outcome(incident, duplicate=True)
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz, key=key)
    notes.pin(rec, text, author=author, at=at, actor=actor)
    rec.close()
    _check_delivery(uow, key)
    return rec.outcome


def _maintenance(
    uow: UnitOfWork, domain: Domain, command: Command, *, incident: Incident | None, actor: str
) -> Outcome:
    if command.target == "list":
        return Outcome(incident, private=maintenance.listing(uow.session, domain))
    if command.target == "cancel":
        return maintenance.cancel(uow, domain, command.number or 0, actor=actor)
    return maintenance.schedule(
        uow,
        domain,
        start=command.clock or "",
        duration=command.duration or "",
        title=command.text or "",
        actor=actor,
    )
