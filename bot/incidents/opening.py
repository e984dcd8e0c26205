"""Opening incidents: what every new incident gets, and incidents declared by a responder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.incidents import channel, effects, pages, privacy, reminders, stages
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.records import Outcome, Recorder
from bot.incidents.roles import assign_role
from playbooks import Playbook
from storage.models import Incident
from storage.unit_of_work import UnitOfWork

DEFAULT_SEVERITY = "sev3"


def open_incident(
    uow: UnitOfWork,
    domain: Domain,
    *,
    title: str,
    severity: str,
    playbook: Playbook,
    actor: str | None,
    grouping_key: str | None = None,
    started_at: datetime | None = None,
    source: str = "command",
    drill: bool = False,
    first: Callable[[Recorder], object] | None = None,
    key: str | None = None,
    recurrence_of: int | None = None,
    private: bool = False,
) -> Recorder:
    """Store a new incident with its milestones, roles and first stage; the Recorder is
    left open for the caller's own additions (close it). `key`: the delivery that asked;
    `recurrence_of`: the resolved incident of the same alert group it follows; `private`
    (or a private playbook) keeps it off every public surface."""
    now = domain.clock.now()
    incident = Incident(
        title=title,
        severity=severity,
        status="investigating",
        playbook_id=playbook.id,
        playbook_snapshot=playbook.snapshot(),
        grouping_key=grouping_key,
        drill=drill,
        private=private or playbook.private,
        public_title=playbook.public_title,
        opened_by=actor,
        recurrence_of=recurrence_of,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(incident)
    uow.session.flush()  # the id names the channel and keys every row below
    name = playbook.channel_name(
        title=title, on=now.astimezone(domain.tz).date(), incident_id=incident.id or 0
    )
    # Drills are told apart at a glance in the channel list.
    incident.channel_name = f"drill-{name}"[:80].rstrip("-_") if drill else name
    rec = Recorder(uow, incident, now, domain.tz, key=key)
    if first is not None:
        first(rec)  # the alert that opened it comes first in the timeline
    rec.milestone("started", started_at or now, source=source, actor=actor)
    rec.milestone("detected", now, source=source, actor=actor)
    rec.milestone("declared", now, source=source, actor=actor)
    prefix = "Drill declared" if drill else "Incident declared"
    opened = (
        f"{prefix}: {title} ({severity})" if source == "command" else f"Incident opened: {title}"
    )
    rec.event("declared", opened, actor=actor, source=source)
    again = f" (recurrence of #{recurrence_of})" if recurrence_of is not None else ""
    if again:
        rec.event(
            "recurrence",
            f"Recurrence of incident #{recurrence_of}: its alerts fired again",
            actor=actor,
            source=source,
            data={"incident": recurrence_of},
        )
    rec.effect(
        effects.OpenChannel(
            name=incident.channel_name or "",
            topic=channel.topic(incident),
            purpose=channel.purpose(incident, rec),
            invite=_invitees(incident.opened_by, playbook),
            private=incident.private,
        )
    )
    rec.effect(effects.PostCard())
    if not incident.private:
        rec.effect(
            effects.Broadcast(
                text=f"{'[DRILL] ' if drill else ''}{severity.upper()} incident #{incident.id} "
                f"opened: {title}{again}"
            )
        )
    elif domain.announce_private:
        rec.effect(effects.Broadcast(text=privacy.PRIVATE_OPENED, link=False))
    for role, person in playbook.roles.items():
        assign_role(rec, role, person, actor=None)
    if severity in ("sev1", "sev2"):
        pages.trigger(rec)
    # Drills send every incident event, flagged `drill: true` in the incident: a receiver
    # sees a drill open and resolve, or filters drills out, never half of one.
    rec.effect(effects.SendWebhook(event="incident.opened"))
    stages.start(rec, playbook)
    stages.milestone_reached(rec, "detected")
    reminders.schedule_on_open(rec)
    return rec


def declare(
    uow: UnitOfWork,
    domain: Domain,
    *,
    title: str,
    severity: str | None,
    actor: str,
    playbook_id: str | None = None,
    drill: bool = False,
    key: str | None = None,
    private: bool = False,
) -> Outcome:
    """Open an incident a responder declared (`private`: in a private channel, off every
    public surface)."""
    playbook = domain.catalog.get(playbook_id) if playbook_id else domain.catalog.select({})
    if playbook is None:
        known = ", ".join(p.id for p in domain.catalog.all())
        raise DomainError(f"No playbook `{playbook_id}`; known: {known}")
    rec = open_incident(
        uow,
        domain,
        title=title,
        severity=severity or playbook.severity_override or playbook.severity or DEFAULT_SEVERITY,
        playbook=playbook,
        actor=actor,
        drill=drill,
        key=key,
        private=private,
    )
    assert rec.incident is not None
    rec.effect(effects.PostMessage(text=f"declared this incident: {title}", actor=actor))
    rec.close()
    rec.outcome.reply = (
        f"Declared incident #{rec.incident.id}: {title}. Opening #{rec.incident.channel_name}…"
    )
    return rec.outcome


def _invitees(declarer: str | None, playbook: Playbook) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            [*([declarer] if declarer else []), *playbook.invite, *playbook.roles.values()]
        )
    )


def opening_invitees(incident: Incident) -> tuple[str, ...]:
    """Whom the incident's opening invited to its channel: the declarer, the playbook's
    invitees (user ids, emails, user groups, as the playbook names them) and role holders."""
    return _invitees(incident.opened_by, stages.playbook_of(incident))
