"""What storage tests share: an incident for their rows to belong to."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.db import transaction
from storage.models import Incident

NOW = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def stored_incident(sessions) -> int:
    """Store a bare incident; return its id."""
    with transaction(sessions) as session:
        row = Incident(
            title="t", severity="sev1", playbook_id="default", created_at=NOW, updated_at=NOW
        )
        session.add(row)
        session.flush()
        return row.id
