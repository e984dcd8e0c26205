"""Read what the incident card shows from the stored incident."""

from __future__ import annotations

from sqlmodel import Session

from bot.incidents.snapshot import IncidentSnapshot, snapshots
from storage.models import Incident


def card_view(session: Session, incident: Incident) -> IncidentSnapshot:
    """The card's content for one incident, as stored now: its snapshot."""
    return snapshots(session, [incident])[0]
