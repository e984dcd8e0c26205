"""A postmortem's life after resolve: its owner, due date, review and publication.

Each resolved incident has one postmortem record (made at resolve; for an incident
resolved before the record existed, when first needed). Its owner defaults to the
commander; it is due a number of days after resolve set by severity (`DEFAULT_DUE`,
overridden by the playbook's `postmortem_due`), and goes draft -> in_review -> published.
Until it is published the owner is reminded in the channel on the due date and every
business day after (`REMIND_AT`, team time). Publishing writes and posts the final
version and, `Domain.archive_after` later, the channel is archived.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.incidents import effects
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.followups import business_days_after
from bot.incidents.notices import ChannelArchiving, PostmortemDue
from bot.incidents.records import Outcome, Recorder
from bot.incidents.roles import current_roles
from bot.incidents.stages import playbook_of
from storage import postmortems as stored
from storage.models import Incident, Postmortem
from storage.unit_of_work import UnitOfWork

# When a postmortem is due after resolve, by severity, following the published practice
# (a review within 3 days of a SEV-1, 5 business days of a SEV-2): `Nd` counts calendar
# days, `Nbd` business days (Monday to Friday).
DEFAULT_DUE = {"sev1": "3d", "sev2": "5bd", "sev3": "10bd", "sev4": "10bd"}
# Reminders go out at this time of day in the team's time zone.
REMIND_AT = time(9, 0)
DAY = 86_400
# Timeline kinds about the postmortem itself: its own timeline leaves them out.
OWNER, REVIEW, PUBLISHED, REMINDED, ARCHIVED = (
    "postmortem_owner",
    "postmortem_review",
    "postmortem_published",
    "postmortem_reminder",
    "channel_archived",
)
KINDS = frozenset({OWNER, REVIEW, PUBLISHED, REMINDED, ARCHIVED})


def due_rule(incident: Incident) -> str:
    """`Nd` or `Nbd`: the playbook's `postmortem_due` for the severity, else its older
    `reminders.postmortem_due` (whole days), else the default table."""
    if incident.playbook_snapshot:
        playbook = playbook_of(incident)
        configured = playbook.postmortem_due
        if isinstance(configured, str):
            return configured
        if isinstance(configured, dict) and incident.severity in configured:
            return configured[incident.severity]
        legacy = playbook.reminders.postmortem_due
        if legacy is not None and configured is None:
            return f"{max(1, legacy.days)}d"
    return DEFAULT_DUE.get(incident.severity, DEFAULT_DUE["sev4"])


def due_date(rule: str, resolved_at: datetime, tz: tzinfo) -> date:
    """The day a postmortem following `rule` is due, counted from the resolve's local day."""
    day = resolved_at.astimezone(tz).date()
    if rule.endswith("bd"):
        return business_days_after(day, int(rule[:-2]))
    return day + timedelta(days=int(rule[:-1]))


def describe_due(rule: str) -> str:
    """`3 days`, `5 business days`."""
    if rule.endswith("bd"):
        return f"{rule[:-2]} business days"
    return f"{rule[:-1]} days"


def help_lines() -> list[str]:
    """What `/incident help` says of postmortems."""
    table = ", ".join(f"{describe_due(rule)} for {sev}" for sev, rule in DEFAULT_DUE.items())
    return [
        f"A postmortem is due after resolve (a playbook's `postmortem_due` may change it): {table}."
        " Its owner (the commander unless set) is reminded on the due date at "
        f"{REMIND_AT:%H:%M} and every business day after, until it is published.",
    ]


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


def ensure(rec: Recorder) -> Postmortem:
    """The incident's postmortem record, made now if it has none (resolved before 0019)."""
    incident = rec.incident
    assert incident is not None
    row = stored.postmortem_of(session=rec.session, incident_id=_id(incident))
    if row is not None:
        return row
    resolved_at = incident.resolved_at or rec.now
    return stored.add_postmortem(
        session=rec.session,
        incident_id=_id(incident),
        owner=current_roles(rec.session, _id(incident)).get("commander"),
        due=due_date(due_rule(incident), resolved_at, rec.tz),
        resolved_at=resolved_at,
        now=rec.now,
    )


def _remind_from(row: Postmortem, tz: tzinfo) -> datetime:
    local = datetime.combine(row.due, REMIND_AT, tzinfo=tz)
    return local.astimezone(UTC)


def on_resolve(rec: Recorder) -> None:
    """Make (or, after a reopen, renew) the postmortem record and schedule its reminders."""
    incident = rec.incident
    assert incident is not None
    row = ensure(rec)
    if row.resolved_at != rec.now and row.status != "published":
        # Resolved again after a reopen: due from this resolve.
        row.resolved_at = rec.now
        row.due = due_date(due_rule(incident), rec.now, rec.tz)
    if row.status == "published":
        return
    if not incident.drill:
        rec.effect(
            effects.Schedule(job="postmortem", due_at=_remind_from(row, rec.tz), every_seconds=DAY)
        )


def on_reopen(rec: Recorder) -> None:
    """An open incident has no postmortem due and keeps its channel: stop both jobs. A
    published postmortem tells an ending that no longer holds: it is a draft again (its
    file stays until it is published again, under the same name)."""
    assert rec.incident is not None
    rec.effect(effects.Unschedule(job="postmortem"))
    rec.effect(effects.Unschedule(job="archive"))
    row = stored.postmortem_of(session=rec.session, incident_id=_id(rec.incident))
    if row is not None and row.status == "published":
        row.status = "draft"


def _resolved(rec: Recorder, verb: str) -> Postmortem:
    incident = rec.incident
    assert incident is not None
    if incident.status != "resolved":
        raise DomainError(
            f"Incident #{incident.id} is not resolved yet: `postmortem {verb}` comes after "
            "`/incident resolve`"
        )
    return ensure(rec)


def set_owner(rec: Recorder, user: str, *, actor: str) -> str:
    """Give the postmortem an owner: they get its reminders."""
    row = _resolved(rec, "owner")
    row.owner = user
    rec.event(OWNER, f"postmortem owner is now {user}", actor=actor, data={"owner": user})
    return f"Postmortem owner is now {user}; due {row.due.isoformat()}"


def review(rec: Recorder, *, actor: str) -> str:
    """The draft is ready for review."""
    row = _resolved(rec, "review")
    if row.status == "in_review":
        raise DomainError("The postmortem is already in review")
    if row.status == "published":
        raise DomainError(
            "The postmortem is already published: `postmortem publish` publishes it again"
        )
    row.status, row.reviewed_at = "in_review", rec.now
    rec.event(REVIEW, "postmortem in review", actor=actor)
    return "Postmortem is in review; `/incident postmortem publish` when it is final"


def publish(rec: Recorder, domain: Domain, *, actor: str) -> str:
    """Publish (again): the final version is written and posted; reminders stop; the channel
    is archived `domain.archive_after` from now (moved on a re-publish)."""
    row = _resolved(rec, "publish")
    again = row.status == "published"
    row.status, row.published_at, row.published_by = "published", rec.now, actor
    rec.event(PUBLISHED, "postmortem published" + (" again" if again else ""), actor=actor)
    rec.effect(effects.Unschedule(job="postmortem"))
    rec.effect(effects.PublishPostmortem())
    rec.effect(effects.SendWebhook(event="postmortem.published"))
    archive = ""
    if domain.archive_after is not None:
        rec.effect(effects.Schedule(job="archive", due_at=rec.now + domain.archive_after))
        archive = f"; the channel is archived in {_days(domain.archive_after)}"
    return f"Postmortem {'published again' if again else 'published'}{archive}"


def _days(delay: timedelta) -> str:
    if delay % timedelta(days=1) == timedelta(0):
        days = delay.days
        return f"{days} day{'s' if days != 1 else ''}"
    hours = delay.total_seconds() / 3600
    return f"{hours:g} hours"


def remind(uow: UnitOfWork, domain: Domain, incident_id: int) -> Outcome | None:
    """The postmortem reminder fired: remind its owner on a business day, until published."""
    incident = uow.session.get(Incident, incident_id)
    if incident is None or incident.status != "resolved":
        return None
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    row = ensure(rec)
    today = rec.now.astimezone(rec.tz).date()
    if row.status == "published":
        rec.effect(effects.Unschedule(job="postmortem"))
        rec.close()
        return rec.outcome
    if today.weekday() >= 5 or today < row.due:
        return None  # weekends are quiet; the reminder comes back on Monday
    late = _business_days_between(row.due, today)
    text = f"postmortem due {row.due.isoformat()}"
    if late:
        text += f", {late} business days late"
    rec.event(REMINDED, text, actor=None, source="system", data={"owner": row.owner})
    rec.effect(
        effects.PostNotice(
            notice=PostmortemDue(owner=row.owner, due=row.due.isoformat(), late_days=late)
        )
    )
    rec.close()
    return rec.outcome


def _business_days_between(start: date, end: date) -> int:
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return count


def archive_due(uow: UnitOfWork, domain: Domain, incident_id: int) -> Outcome | None:
    """The archive job fired: archive the channel of a still-published, resolved incident."""
    incident = uow.session.get(Incident, incident_id)
    if incident is None or incident.status != "resolved" or incident.channel_id is None:
        return None
    row = stored.postmortem_of(session=uow.session, incident_id=incident_id)
    if row is None or row.status != "published":
        return None
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    rec.event(ARCHIVED, "channel archived", actor=None, source="system")
    rec.effect(effects.PostNotice(notice=ChannelArchiving(path=row.path, permalink=row.permalink)))
    rec.effect(effects.ArchiveChannel())
    rec.close()
    return rec.outcome
