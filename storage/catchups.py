"""Who was sent an incident's catch-up on joining its channel: once per person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from storage.models import CatchUpSent


def first_catchup(*, session: Session, incident_id: int, user_id: str, now: datetime) -> bool:
    """Note that `user_id` is sent the catch-up now; False if they were sent it before.

    A concurrent delivery of the same join makes the transaction's flush fail on the
    primary key, and that transaction sends nothing.
    """
    sent = session.scalar(
        select(col(CatchUpSent.user_id)).where(
            col(CatchUpSent.incident_id) == incident_id, col(CatchUpSent.user_id) == user_id
        )
    )
    if sent is not None:
        return False
    session.add(CatchUpSent(incident_id=incident_id, user_id=user_id, sent_at=now))
    return True
