"""What became of an operation, kept where people look: its timeline entry and its notice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.incidents.effect_codec import encode
from bot.incidents.effects import PostNotice
from bot.incidents.notices import Notice
from storage import outbox
from storage.models import TimelineEvent


def tell(
    session: Session,
    incident_id: int,
    op_id: int,
    kind: str,
    entry: str,
    text: str | None,
    notice: Notice | None,
    now: datetime,
) -> None:
    """Keep what became of an operation in the timeline (unless `text` is None) and queue
    its notice, in the transaction that records the operation's end: told once, however
    often it is read."""
    if text is not None:
        session.add(
            TimelineEvent(
                incident_id=incident_id,
                occurred_at=now,
                recorded_at=now,
                kind=entry,
                text=text,
                source="system",
                data={"op": op_id, "kind": kind},
            )
        )
    if notice is not None:
        effect = PostNotice(incident_id=incident_id, notice=notice)
        outbox.enqueue(
            session=session,
            kind=effect.kind,
            version=effect.version,
            payload=encode(effect),
            incident_id=incident_id,
            now=now,
        )


def storable(text: str) -> str:
    """Text any database keeps: a lone surrogate replaced, NUL bytes dropped (an error's
    text can quote the very row that could not be encoded)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
