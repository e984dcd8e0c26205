"""An incident's postmortem as last generated and as the team edited it (`postmortem_drafts`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import PostmortemDraft

VIA = ("api", "slack_file")


def draft_of(*, session: Session, incident_id: int) -> PostmortemDraft | None:
    """The incident's stored draft row, if a draft was ever generated."""
    return session.get(PostmortemDraft, incident_id)


def save_generated(
    *, session: Session, incident_id: int, generated: str, current: str | None
) -> PostmortemDraft:
    """Keep a new generation as the base of the next merge; `current` is the merged text,
    kept as the team's when the team had edited (so its untouched sections stay equal to
    what was generated and keep being refreshed)."""
    row = session.get(PostmortemDraft, incident_id)
    if row is None:
        row = PostmortemDraft(incident_id=incident_id, generated=generated)
    row.generated = generated
    if row.edited is not None and current is not None:
        row.edited = current
    session.add(row)
    return row


def save_edit(
    *, session: Session, incident_id: int, text: str, by: str | None, via: str, now: datetime
) -> PostmortemDraft:
    """Keep the team's edited text; the row must exist (a draft was generated)."""
    if via not in VIA:
        raise ValueError(f"unknown edit origin {via!r}")
    row = session.get(PostmortemDraft, incident_id)
    if row is None:
        raise LookupError(f"incident #{incident_id} has no generated postmortem draft")
    row.edited, row.edited_by, row.edited_at, row.edited_via = text, by, now, via
    session.add(row)
    return row
