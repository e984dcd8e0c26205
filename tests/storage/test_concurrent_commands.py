"""Commands sent at the same moment by many responders of one incident take turns: every
follow-up kept and numbered one after the other, one acknowledgement and a clear refusal for
the rest. (On PostgreSQL two transactions read the same state at once: the later follow-up
was dropped as if it were a duplicate delivery, and two acks could both be recorded.)"""

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


def test_ten_acks_at_once_make_one_acknowledgement_and_nine_clear_refusals(
    sessions, domain
) -> None:
    run_command(sessions, domain, CommandRequest("declare Matching engine down sev1", "U0ALICE"))
    with sessions() as session:
        incident_id = session.scalar(select(Incident.id))

    def ack(n: int) -> str | None:
        request = CommandRequest("ack", f"U0USER{n:02d}", incident_id=incident_id)
        return run_command(sessions, domain, request).private

    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(ack, range(10)))

    with sessions() as session:
        acks = list(
            session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "ack"
                )
            )
        )
    assert len(acks) == 1
    # Everyone else is told who got there first, not left without an answer.
    refusals = [r for r in replies if r is not None and r.startswith("Already acknowledged by")]
    assert len(refusals) == 9, replies
    assert all(r == f"Already acknowledged by {acks[0].actor}" for r in refusals)
