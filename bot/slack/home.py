"""The App Home: every open incident's card."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from bot.slack.blocks import CardView
from bot.slack.cards import card_view
from storage.models import Incident


def open_cards(sessions: sessionmaker[Session]) -> list[CardView]:
    """Cards of every open incident, newest first."""
    with sessions() as session:
        rows = session.scalars(
            select(Incident)
            .where(col(Incident.status) != "resolved")
            .order_by(col(Incident.id).desc())
        )
        return [card_view(session, row) for row in rows]
