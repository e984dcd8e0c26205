"""Use case: a reminder, an escalation or a stage's timebox comes due."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents import postmortem_life, reminders
from bot.incidents.context import Domain
from bot.incidents.records import Outcome
from storage.unit_of_work import UnitOfWork

JOBS = ("reminder", "ack", "timebox", "postmortem", "archive")


@dataclass(frozen=True)
class Due:
    """What came due: `reminder` (status update), `ack` (nobody acknowledged), `timebox`
    (of `stage_id`), `postmortem` (remind its owner) or `archive` (the channel, after the
    postmortem was published), for one incident."""

    job: str
    incident_id: int
    stage_id: str | None = None


def fire_reminder(uow: UnitOfWork, domain: Domain, due: Due) -> Outcome | None:
    """Remind, escalate or move the playbook on; None when it no longer applies (resolved,
    acknowledged meanwhile, an update came)."""
    match due.job:
        case "reminder":
            return reminders.status_update_due(uow, domain, due.incident_id)
        case "ack":
            return reminders.unacknowledged_due(uow, domain, due.incident_id)
        case "timebox":
            assert due.stage_id is not None
            return reminders.timebox_due(uow, domain, due.incident_id, due.stage_id)
        case "postmortem":
            return reminders.postmortem_due(uow, domain, due.incident_id)
        case "archive":
            return postmortem_life.archive_due(uow, domain, due.incident_id)
    raise ValueError(f"no reminder job {due.job!r}")
