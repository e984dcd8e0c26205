"""`/incident catchup`: where an incident stands, from its stored record alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.incidents.commands import JOINED, Command
from bot.incidents.errors import DomainError
from bot.incidents.service import execute
from bot.incidents.views import CatchUpShown, Entry
from bot.slack.replies import shown_text
from storage.models import CatchUpSent, Incident
from storage.people import remember
from storage.unit_of_work import unit_of_work


def test_catchup_tells_stage_open_tasks_roles_by_name_last_update_and_latest_entries(
    run, store, sessions, clock
) -> None:
    incident_id = run("drill trading-engine-outage").incident.id
    with unit_of_work(sessions) as uow:
        remember(session=uow.session, user_id="U0BOB", name="bob", now=clock.now())
    clock.advance(timedelta(minutes=1))
    run("ack", incident_id, actor="U0BOB")  # bob commands; enters "respond"
    run("task done 1", incident_id, actor="U0BOB")
    clock.advance(timedelta(minutes=2))
    run("update Matching engine restarted, watching errors", incident_id, actor="U0BOB")
    clock.advance(timedelta(minutes=4))
    run("note error rate falling", incident_id, actor="U0ALICE")
    clock.advance(timedelta(minutes=1, seconds=30))
    before = len(store.events(incident_id))

    shown = run("catchup", incident_id, actor="U0CAROL").shown

    assert isinstance(shown, CatchUpShown)
    assert (shown.severity, shown.status) == ("sev1", "investigating")
    assert shown.stage == "Emergency response"
    assert shown.open_tasks and all(n != 1 for n, _ in shown.open_tasks)
    assert ("commander", "bob") in shown.roles
    assert shown.last_update == Entry(
        "17:59", "update", "Matching engine restarted, watching errors", "bob"
    )
    assert shown.update_age == "5m 30s"
    assert len(shown.entries) == 5
    assert shown.entries[-1] == Entry("18:03", "note", "error rate falling", "U0ALICE")
    assert len(store.events(incident_id)) == before  # reading records nothing
    text = shown_text(shown)
    assert "*Stage* Emergency response" in text
    assert "commander bob" in text
    assert "*Last update* 5m 30s ago (`17:59`): Matching engine restarted" in text
    assert text.endswith("`18:03` note: error rate falling — U0ALICE")


def test_catchup_says_when_no_update_was_posted_and_needs_an_incident(run) -> None:
    incident_id = run("declare Spot trading errors sev2").incident.id
    shown = run("catchup", incident_id).shown
    assert isinstance(shown, CatchUpShown)
    assert (shown.last_update, shown.update_age) == (None, None)
    assert "*Last update* none posted yet" in shown_text(shown)
    with pytest.raises(DomainError, match="works in an incident channel"):
        run("catchup")


def test_a_late_joiner_is_caught_up_once_and_those_the_opening_invited_are_not(
    run, sessions, domain
) -> None:
    incident_id = run("declare Spot trading errors sev2", actor="U0ALICE").incident.id
    run("update Looking at the matching engine", incident_id, actor="U0ALICE")

    def joined(user: str, incident: int | None = incident_id) -> object:
        with unit_of_work(sessions) as uow:
            found = uow.session.get(Incident, incident) if incident else None
            command = Command("catchup", target=JOINED)
            return execute(uow, domain, command, incident=found, actor=user).shown

    assert joined("U0ALICE") is None  # the declarer: invited as it opened
    first = joined("U0BOB")
    assert isinstance(first, CatchUpShown)
    assert first.last_update is not None
    assert first.last_update.text == "Looking at the matching engine"
    assert joined("U0BOB") is None  # once per person per incident
    assert joined("U0BOB", incident=None) is None  # no incident's channel: not a word
    with sessions() as session:
        rows = session.scalars(select(CatchUpSent)).all()
        assert [(row.incident_id, row.user_id) for row in rows] == [(incident_id, "U0BOB")]
