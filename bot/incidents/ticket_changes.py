"""A follow-up's ticket closed or reopened in its tracker, applied to the follow-up here.

Trackers report every issue event of a project, most about tickets warroom never filed:
those change nothing and are no error. A change already true here (ours coming back, a
repeated delivery) records nothing a second time. Nothing is sent back to the tracker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.incidents import effects
from bot.incidents.context import Domain
from bot.incidents.followups import DONE, REOPENED
from bot.incidents.records import Outcome, Recorder
from storage import followups as stored
from storage.unit_of_work import UnitOfWork

SOURCE = "tracker"  # the timeline's `source` for what a tracker reported
TRACKER_NAMES = {"github": "GitHub", "jira": "Jira", "linear": "Linear"}


@dataclass(frozen=True)
class ChangeApplied:
    """What one reported change did: `applied`, or the `reason` it changed nothing."""

    applied: bool
    incident_id: int | None = None
    number: int | None = None
    reason: str | None = None
    outcome: Outcome | None = None


def apply_ticket_change(
    uow: UnitOfWork,
    domain: Domain,
    *,
    tracker: str,
    key: str,
    state: str,
    actor: str | None = None,
    at: datetime | None = None,
) -> ChangeApplied:
    """Mark the follow-up of ticket `key` done (`state` "done") or open again ("open")."""
    session = uow.session
    row = stored.by_ticket(session=session, tracker=tracker, key=key)
    if row is None:
        return ChangeApplied(False, reason=f"{key} is no follow-up's ticket")
    where = (row.incident_id, row.number)
    wanted = "done" if state == "done" else "open"
    if row.status == wanted or (wanted == "done" and row.status == "dropped"):
        return ChangeApplied(False, *where, reason=f"follow-up {row.number} is {row.status}")
    incident = uow.incident(row.incident_id)
    if incident is None:
        return ChangeApplied(False, *where, reason=f"incident #{row.incident_id} is gone")
    now = domain.clock.now()
    name = TRACKER_NAMES.get(tracker, tracker)
    by = f" by {actor}" if actor else ""
    rec = Recorder(uow, incident, now, domain.tz)
    # The channel hears it only while the incident is open: after that, the follow-ups
    # are the postmortem's business, and the channel has gone quiet.
    told = rec.effect(effects.PostMessage(text="")) if incident.status != "resolved" else None
    if wanted == "done":
        stored.set_status(row, "done", by=actor, now=at or now)
        kind, text = DONE, f"follow-up {row.number} done: {key} closed in {name}{by}"
        said = f"Follow-up {row.number} done: {key} was closed in {name}{by} ({row.text})"
    else:
        stored.set_status(row, "open", by=actor, now=now)
        kind, text = REOPENED, f"follow-up {row.number} reopened: {key} reopened in {name}{by}"
        said = f"Follow-up {row.number} is open again: {key} was reopened in {name}{by}"
    data = {"number": row.number, "tracker": tracker, "key": key}
    rec.event(kind, text, actor=actor, source=SOURCE, at=at, data=data)
    if told is not None:
        rec.amend(told, text=said)
    rec.close()
    return ChangeApplied(True, *where, outcome=rec.outcome)
