"""Postmortem drafts: an incident's record gathered once (`build`) and rendered to Markdown."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.postmortem.data import Postmortem, build
from bot.postmortem.edits import merge
from bot.postmortem.markdown import render

__all__ = [
    "Postmortem",
    "build",
    "current_draft",
    "draft",
    "drafted",
    "headline",
    "keep_draft",
    "render",
    "store_draft",
]


def draft(
    session: Session, incident_id: int, *, tz: ZoneInfo, template_dir: Path | None = None
) -> str:
    """Draft an incident's postmortem as Markdown, times in `tz`."""
    return render(build(session, incident_id, tz=tz), template_dir=template_dir)


def store_draft(
    session: Session, incident_id: int, *, tz: ZoneInfo, template_dir: Path | None = None
) -> tuple[Postmortem, str]:
    """Draft the postmortem anew, keeping the sections the team edited, and store it;
    return its data and text."""
    pm, fresh = drafted(session, incident_id, tz=tz, template_dir=template_dir)
    return pm, keep_draft(session, incident_id, fresh)


def drafted(
    session: Session, incident_id: int, *, tz: ZoneInfo, template_dir: Path | None = None
) -> tuple[Postmortem, str]:
    """The postmortem's data and its fresh Markdown, from reads alone (the slow part of
    `store_draft`, which a read session can do without holding up any writer)."""
    pm = build(session, incident_id, tz=tz)
    return pm, render(pm, template_dir=template_dir)


def keep_draft(session: Session, incident_id: int, fresh: str) -> str:
    """Store a fresh draft as the incident's postmortem with the team's edited sections
    merged in (read here, in the storing transaction); return the text stored."""
    from storage.models import Incident
    from storage.postmortem_drafts import save_generated

    text = _with_edits(session, incident_id, fresh)
    save_generated(session=session, incident_id=incident_id, generated=fresh, current=text)
    incident = session.get(Incident, incident_id)
    assert incident is not None
    incident.postmortem = text
    return text


def current_draft(
    session: Session, incident_id: int, *, tz: ZoneInfo, template_dir: Path | None = None
) -> str:
    """The stored draft of a resolved incident (the team's edits in it), else a fresh one
    merged with the team's edits (raises LookupError)."""
    from storage.models import Incident

    incident = session.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"No incident #{incident_id}")
    if incident.postmortem and incident.status == "resolved":
        return incident.postmortem
    fresh = draft(session, incident_id, tz=tz, template_dir=template_dir)
    return _with_edits(session, incident_id, fresh)


def _with_edits(session: Session, incident_id: int, fresh: str) -> str:
    from storage.postmortem_drafts import draft_of

    row = draft_of(session=session, incident_id=incident_id)
    if row is None or row.edited is None:
        return fresh
    return merge(row.generated, row.edited, fresh).text


def headline(pm: Postmortem) -> str:
    """One line for Slack: the window, its length and what was hit."""
    services = ", ".join(pm.services) or "no service label"
    return (
        f"Postmortem draft for incident #{pm.incident_id} ({pm.title}): impact "
        f"{pm.impact.start} – {pm.impact.end}, {pm.impact.duration}; affected: {services}."
    )
