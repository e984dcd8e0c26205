"""Keep a postmortem the team edited (through the API or a Markdown file in Slack)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.incidents.untrusted import clean_text
from bot.postmortem.edits import edited_headings

MAX_CHARS = 512 * 1024
"""Longest edited postmortem kept (characters): ten times the reference incident's draft."""

ORIGINS = {"api": "via API", "slack_file": "from a file in Slack"}


class EditRefused(ValueError):
    """The text cannot be kept as the postmortem (empty, too long, not storable)."""


class AlreadySaved(Exception):
    """This very edit (same delivery key) was kept already."""


class NoDraft(Exception):
    """The incident is not resolved, so it has no draft to edit."""


def check_text(text: str) -> str:
    """The text as it will be stored, or EditRefused saying why it cannot be."""
    if clean_text(text) != text:
        raise EditRefused("the text holds a NUL character or a lone surrogate")
    if not text.strip():
        raise EditRefused("the text is empty: delete sections, not the whole postmortem")
    if len(text) > MAX_CHARS:
        raise EditRefused(f"the text is longer than {MAX_CHARS} characters")
    return text


def save_edit(
    session: Session,
    incident_id: int,
    text: str,
    *,
    by: str | None,
    via: str,
    now: datetime,
    tz: ZoneInfo,
    template_dir: Path | None = None,
    name: str | None = None,
    key: str | None = None,
) -> tuple[str, ...]:
    """Keep `text` as the team's postmortem of a resolved incident, note it on the
    timeline, and return the headings of the sections it changed or added.

    `key` identifies the delivery (a Slack file): the same key again raises AlreadySaved.
    Raises LookupError (no such incident), NoDraft (not resolved) or EditRefused.
    """
    from sqlmodel import col, select

    from storage.models import Incident, TimelineEvent
    from storage.postmortem_drafts import draft_of, save_edit

    incident = session.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"no incident #{incident_id}")
    if incident.status != "resolved":
        raise NoDraft(f"incident #{incident_id} is not resolved: it has no postmortem draft yet")
    check_text(text)
    if key is not None:
        kept = select(col(TimelineEvent.id)).where(col(TimelineEvent.idempotency_key) == key)
        if session.exec(kept).first() is not None:
            raise AlreadySaved(key)
    row = draft_of(session=session, incident_id=incident_id)
    if row is None or not incident.postmortem:
        # Resolved, but the draft is not posted yet (its effect waits in the outbox), or
        # it was stored before edits were kept: the edit needs a generated base.
        from bot.postmortem import store_draft

        store_draft(session, incident_id, tz=tz, template_dir=template_dir)
        row = draft_of(session=session, incident_id=incident_id)
        assert row is not None
    changed = edited_headings(row.generated, text)
    save_edit(session=session, incident_id=incident_id, text=text, by=by, via=via, now=now)
    incident.postmortem = text
    where = ORIGINS[via] + (f" ({name})" if name else "")
    session.add(
        TimelineEvent(
            incident_id=incident_id,
            occurred_at=now,
            recorded_at=now,
            kind="postmortem_edited",
            actor=by,
            text=f"postmortem edited {where}",
            data={"via": via, "sections": list(changed)},
            source="system" if via == "api" else "command",
            idempotency_key=key,
        )
    )
    return changed
