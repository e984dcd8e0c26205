"""`/incident list`: open incidents newest first, then the week's resolved ones; capped and
counted; a private incident in full only in its own channel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.incidents.commands import CommandError, parse_command
from bot.incidents.overview import IncidentList, incident_list
from storage.unit_of_work import unit_of_work


def _listed(run, text: str = "list", incident_id: int | None = None) -> IncidentList:
    shown = run(text, incident_id).shown
    assert isinstance(shown, IncidentList)
    return shown


def test_list_is_open_incidents_newest_first_with_age_and_commander(run, clock) -> None:
    first = run("declare Orders API slow sev2").incident.id
    clock.advance(timedelta(minutes=10))
    second = run("declare Checkout errors sev1").incident.id
    run("role commander <@U0BOB>", second)
    clock.advance(timedelta(minutes=5))

    shown = _listed(run)
    assert [(r.id, r.severity, r.status, r.title) for r in shown.incidents] == [
        (second, "sev1", "investigating", "Checkout errors"),
        (first, "sev2", "investigating", "Orders API slow"),
    ]
    assert [r.age for r in shown.incidents] == [timedelta(minutes=5), timedelta(minutes=15)]
    assert shown.incidents[0].commander == "U0BOB"  # no name known for bob: the id stays
    assert (shown.more, shown.recent) == (0, False)


def test_list_all_adds_the_last_week_resolved_after_the_open_ones(run, clock) -> None:
    old = run("declare Disk full on db-3 sev3").incident.id
    run("resolve", old)
    clock.advance(timedelta(days=6))
    recent = run("declare Old DNS blip sev3").incident.id
    clock.advance(timedelta(minutes=20))
    run("resolve", recent)
    clock.advance(timedelta(days=1, hours=1))
    still_open = run("declare Queue backlog sev4").incident.id  # opened after both

    assert [r.id for r in _listed(run).incidents] == [still_open]
    everything = _listed(run, "list all")
    # `old` was resolved 7 days and an hour ago: outside the week.
    assert [r.id for r in everything.incidents] == [still_open, recent]
    resolved = everything.incidents[1]
    assert (resolved.status, resolved.age) == ("resolved", timedelta(minutes=20))
    assert resolved.resolved_ago == timedelta(days=1, hours=1)


def test_list_is_capped_and_says_how_many_more(run, sessions, clock) -> None:
    ids = []
    for n in range(5):
        ids.append(run(f"declare Incident number {n} sev3").incident.id)
        clock.advance(timedelta(minutes=1))
    with unit_of_work(sessions) as uow:
        shown = incident_list(uow.session, clock.now(), limit=3)
    assert [r.id for r in shown.incidents] == ids[::-1][:3]
    assert shown.more == 2


def test_a_private_incident_is_shown_in_full_only_in_its_own_channel(run) -> None:
    public = run("declare Orders API slow sev2").incident.id
    secret = run("declare Leaked API key sev2 --private").incident.id

    elsewhere = {r.id: r for r in _listed(run).incidents}
    assert elsewhere[secret].hidden
    assert (elsewhere[secret].title, elsewhere[secret].channel_id) == (None, None)
    assert elsewhere[secret].severity == "sev2"
    assert not elsewhere[public].hidden

    inside = {r.id: r for r in _listed(run, "list", secret).incidents}
    assert not inside[secret].hidden and inside[secret].title == "Leaked API key"
    assert {r.id: r.hidden for r in _listed(run, "list", public).incidents}[secret]


def test_list_takes_all_or_nothing() -> None:
    assert parse_command("list").read_only and parse_command("list ALL").target == "all"
    with pytest.raises(CommandError, match="Usage: `/incident list \\[all\\]`"):
        parse_command("list everything")
