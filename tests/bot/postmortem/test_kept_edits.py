"""The reference incident's postmortem, edited by the team, through regeneration and reopen."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.postmortem import current_draft, store_draft
from bot.postmortem.saved import save_edit
from storage.db import transaction
from storage.models import PostmortemDraft
from tests.bot.postmortem.conftest import HKT, at_hkt

OURS = "## Summary\n\nThe matching engine's dependency ran out of file handles.\n"


def _summary(text: str) -> str:
    return "## Summary" + text.split("## Summary")[1].split("\n## ")[0] + "\n"


def test_the_team_summary_survives_regeneration_reopen_and_resolve(
    reference: int, run, sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    with transaction(sessions) as session:
        _, first = store_draft(session, reference, tz=HKT)
    edited = first.replace(_summary(first), OURS + "\n")
    with transaction(sessions) as session:
        changed = save_edit(
            session, reference, edited, by="U0BOB", via="api", now=clock.now(), tz=HKT
        )
    assert changed == ("Summary",)

    at_hkt(clock, "18:30")
    run("reopen", reference)
    with sessions() as session:
        reopened = current_draft(session, reference, tz=HKT)
    assert OURS in reopened and "reopened" in reopened
    run("note rolled forward the fix", reference)
    run("resolve fixed for good", reference)
    with transaction(sessions) as session:
        _, final = store_draft(session, reference, tz=HKT)
    with sessions() as session:
        assert current_draft(session, reference, tz=HKT) == final
        row = session.get(PostmortemDraft, reference)
        assert row is not None and (row.edited_by, row.edited_via) == ("U0BOB", "api")
        assert row.edited == final and OURS not in row.generated

    assert OURS in final
    assert "rolled forward the fix" in final
    assert final.replace(OURS + "\n", _summary(row.generated)) == row.generated


def test_without_edits_the_stored_draft_is_the_generated_one(
    reference: int, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        _, text = store_draft(session, reference, tz=HKT)
    with sessions() as session:
        row = session.get(PostmortemDraft, reference)
        assert row is not None and row.generated == text and row.edited is None
        assert current_draft(session, reference, tz=HKT) == text


def test_a_draft_stored_while_reopened_is_not_served_after_the_next_resolve(
    reference: int, run, sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    # The first resolve's draft is carried out only after the reopen (a busy outbox): it is
    # stored while the incident is open again, and tells the first resolve's ending.
    at_hkt(clock, "18:30")
    run("reopen", reference)
    with transaction(sessions) as session:
        _, stale = store_draft(session, reference, tz=HKT)
    assert "service restored" in _summary(stale)
    at_hkt(clock, "18:40")
    run("resolve rolled back deploy 4512", reference)
    # Before the second resolve's draft is stored, readers get the new ending.
    with sessions() as session:
        shown = current_draft(session, reference, tz=HKT)
    assert "rolled back deploy 4512" in _summary(shown)
