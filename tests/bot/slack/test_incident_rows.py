"""`IncidentRows.read`: what a card or a postmortem draft reads for Slack makes no writer
wait, however long it takes (a storm incident's draft takes seconds)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.slack.incident_rows import IncidentRows
from storage.db import transaction
from storage.models import Incident

AT = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def _open(sessions: sessionmaker[Session], title: str) -> None:
    with transaction(sessions) as session:
        session.add(
            Incident(
                title=title, severity="sev2", playbook_id="default", created_at=AT, updated_at=AT
            )
        )


def test_a_slow_read_for_slack_lets_an_alert_commit_meanwhile(
    sessions: sessionmaker[Session],
) -> None:
    _open(sessions, "Matching engine down")

    def slow_read(session: Session) -> list[str]:
        before = list(session.scalars(select(Incident.title)))
        writer = threading.Thread(target=_open, args=(sessions, "Order gateway errors"))
        writer.start()
        writer.join(timeout=10)  # a transaction of the read's own would hold it until the end
        assert not writer.is_alive(), "the writer waited for the read"
        return before

    seen = asyncio.run(IncidentRows(sessions).read(slow_read))

    assert seen == ["Matching engine down"]
    with sessions() as session:
        assert sorted(session.scalars(select(Incident.title))) == [
            "Matching engine down",
            "Order gateway errors",
        ]
