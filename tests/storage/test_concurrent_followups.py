"""Follow-ups recorded at the same moment by many responders of one incident are all kept,
numbered one after the other (on PostgreSQL two transactions could read the same highest
number, and the later one was dropped as if it were a duplicate delivery)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.usecases.run_command import CommandRequest, run_command
from storage.models import Followup, Incident, TimelineEvent


def test_twenty_follow_ups_recorded_at_once_are_all_kept_in_order(sessions, domain) -> None:
    run_command(sessions, domain, CommandRequest("declare Matching engine down sev1", "U0ALICE"))
    with sessions() as session:
        incident_id = session.scalar(select(Incident.id))

    def record(n: int) -> None:
        request = CommandRequest(
            f"action Fix the thing number {n}", f"U0USER{n:02d}", incident_id=incident_id
        )
        run_command(sessions, domain, request)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(record, range(20)))

    with sessions() as session:
        rows = list(session.scalars(select(Followup).where(Followup.incident_id == incident_id)))
        entries = {
            e.data["number"]: e.text
            for e in session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "action"
                )
            )
        }
    assert sorted(r.number for r in rows) == list(range(1, 21))
    assert sorted(r.text for r in rows) == sorted(f"Fix the thing number {n}" for n in range(20))
    # Each one in the timeline under the number it got.
    assert {n: text.split(",")[0] for n, text in entries.items()} == {
        r.number: r.text for r in rows
    }
