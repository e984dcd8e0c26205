"""When warroom pages: the key each page goes under, and the pages ack and resolve reach.

The paging tool merges a trigger into the open alert its dedup key names. A second
trigger under the first key, once that alert is acknowledged, would page nobody while
the channel said someone was paged. So each page after the first goes out as a new alert
under a key of its own (`page_key(id, n)`). The one exception: the last page is still
open and nobody has acknowledged the incident, and this page is no escalation; its people
are still being paged, so nothing is sent and the channel is told so.

What became of a page sent is told by the route that sends it, once the tool answered
(`bot.incidents.notices.Paged`), never before.
"""

from __future__ import annotations

from bot.incidents import effects
from bot.incidents.notices import HELD, Paged
from bot.incidents.paging import page_key
from bot.incidents.records import Recorder, milestones_of
from storage.models import Incident


def _incident(rec: Recorder) -> tuple[Incident, int]:
    incident = rec.incident
    assert incident is not None and incident.id is not None
    return incident, incident.id


def trigger(rec: Recorder, *, escalation: bool = False, waited_seconds: int | None = None) -> None:
    """Page for the incident (drills never page)."""
    incident, incident_id = _incident(rec)
    if incident.drill:
        return
    acknowledged = "acknowledged" in milestones_of(rec.session, incident_id)
    if incident.pages and incident.page_open and not acknowledged and not escalation:
        key = page_key(incident_id, incident.pages)
        rec.event(
            "paging",
            f"not paged again: {key} is still open and not acknowledged",
            actor=None,
            source="system",
            data={"key": key},
        )
        rec.effect(effects.PostNotice(notice=Paged(outcome=HELD, key=key, page=incident.pages)))
        return
    incident.pages += 1
    incident.page_open = True
    rec.effect(
        effects.Page(
            action="trigger",
            escalation=escalation,
            page=incident.pages,
            waited_seconds=waited_seconds,
        )
    )
    rec.touch()


def acknowledge(rec: Recorder) -> None:
    """Acknowledge every page of the incident in the tool, if one is open."""
    incident, _ = _incident(rec)
    if incident.page_open and not incident.drill:
        rec.effect(effects.Page(action="acknowledge", page=incident.pages))


def resolve(rec: Recorder) -> None:
    """Resolve every page of the incident in the tool, if one is open."""
    incident, _ = _incident(rec)
    if incident.page_open and not incident.drill:
        rec.effect(effects.Page(action="resolve", page=incident.pages))
        incident.page_open = False
        rec.touch()
