"""Follow-ups: `action <text> [@owner] [due YYYY-MM-DD]`, `action list|done <n>|drop <n> <why>`,
and a ticket closed or reopened in its tracker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.incidents.commands import CommandError, help_text, parse_command
from bot.incidents.errors import DomainError
from bot.incidents.followups import business_days_after
from bot.incidents.ticket_changes import apply_ticket_change
from bot.incidents.views import is_bookkeeping
from storage import followups
from storage.models import Followup
from storage.unit_of_work import unit_of_work

# The reference clock: Wednesday 2021-03-10, 17:56 in Hong Kong.


@pytest.fixture
def sev2(run) -> int:
    outcome = run("declare Spot trading errors sev2")
    assert outcome.incident is not None and outcome.incident.id is not None
    return outcome.incident.id


def rows(sessions, incident_id: int) -> list[Followup]:
    with sessions() as session:
        return followups.followups(session=session, incident_id=incident_id)


# --- the grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("action Add redundancy", ("Add redundancy", None, None)),
        ("action Add redundancy <@U0BOB|bob>", ("Add redundancy", "U0BOB", None)),
        ("action Add redundancy @bob due 2021-04-01", ("Add redundancy", "@bob", "2021-04-01")),
        ("action Add redundancy due 2021-04-01 @bob", ("Add redundancy", "@bob", "2021-04-01")),
        ("action Add redundancy DUE 2021-04-01", ("Add redundancy", None, "2021-04-01")),
        # Words that only start like a change are a follow-up's text.
        ("action drop the legacy API", ("drop the legacy API", None, None)),
        ("action done-ness review", ("done-ness review", None, None)),
        ("action list the owners of each service", ("list the owners of each service", None, None)),
    ],
)
def test_action_reads_text_owner_and_due(text: str, expected: tuple) -> None:
    command = parse_command(text)
    assert (command.text, command.user, command.due) == expected
    assert command.target is None and not command.read_only


def test_action_list_done_and_drop_read_their_number_and_reason() -> None:
    listed = parse_command("action list")
    assert (listed.target, listed.read_only) == ("list", True)
    done = parse_command("action done 2")
    assert (done.target, done.number, done.read_only) == ("done", 2, False)
    dropped = parse_command("action drop 3 covered by the platform plan")
    assert (dropped.target, dropped.number, dropped.text) == (
        "drop",
        3,
        "covered by the platform plan",
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("action", "`action` needs some text"),
        ("action Fix it due friday", "`friday` is not a due date (YYYY-MM-DD)"),
        ("action Fix it due 2021-4-1", "`2021-4-1` is not a due date (YYYY-MM-DD)"),
        ("action Fix it due 2021-02-30", "`2021-02-30` is not a date in the calendar"),
        ("action done", "`action done` needs a follow-up number"),
        ("action done 0", "`action done` needs a follow-up number"),
        ("action done 2 now", "`action done` takes only the follow-up number"),
        ("action drop", "`action drop` needs a follow-up number"),
        ("action drop 2", "`action drop` needs the reason it is dropped"),
    ],
)
def test_malformed_actions_say_the_right_form(text: str, error: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert raised.value.message == error
    assert "`/incident action <text> [@owner] [due YYYY-MM-DD]" in str(raised.value)


def test_help_documents_the_default_due_dates() -> None:
    assert (
        "A follow-up with no `due` date is due in business days: "
        "5 for sev1, 10 for sev2, 20 for sev3, 20 for sev4." in help_text()
    )


def test_business_days_skip_weekends() -> None:
    wednesday = date(2021, 3, 10)
    assert business_days_after(wednesday, 2) == date(2021, 3, 12)  # Friday
    assert business_days_after(wednesday, 3) == date(2021, 3, 15)  # Monday
    assert business_days_after(date(2021, 3, 13), 1) == date(2021, 3, 15)  # Saturday -> Monday


# --- recording, listing, closing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "due"),
    [
        ("sev1", "2021-03-17"),
        ("sev2", "2021-03-24"),
        ("sev3", "2021-04-07"),
        ("sev4", "2021-04-07"),
    ],
)
def test_a_follow_up_is_due_by_default_after_its_severity_s_business_days(
    run, sessions, severity: str, due: str
) -> None:
    incident_id = run(f"declare Spot trading errors {severity}").incident.id
    outcome = run("action Add multi-region redundancy <@U0BOB>", incident_id)
    assert outcome.reply == f"Follow-up 1: Add multi-region redundancy — owner U0BOB, due {due}"
    [row] = rows(sessions, incident_id)
    assert (row.number, row.text, row.owner, row.due, row.status, row.created_by) == (
        1,
        "Add multi-region redundancy",
        "U0BOB",
        date.fromisoformat(due),
        "open",
        "U0ALICE",
    )


def test_follow_ups_are_numbered_within_their_incident(run, sessions, sev2) -> None:
    other = run("declare Margin calls late sev3").incident.id
    run("action First", sev2)
    run("action Elsewhere", other)
    run("action Second due 2021-03-10", sev2)  # today is not past
    assert [(r.number, r.text, r.due) for r in rows(sessions, sev2)] == [
        (1, "First", date(2021, 3, 24)),
        (2, "Second", date(2021, 3, 10)),
    ]
    assert [r.number for r in rows(sessions, other)] == [1]


def test_each_change_is_a_timeline_entry_kept_out_of_the_postmortem_timeline(
    run, store, sev2
) -> None:
    run("action Add redundancy <@U0BOB> due 2021-04-01", sev2)
    run("action Review customers", sev2)
    run("action done 1", sev2, actor="U0BOB")
    run("action drop 2 support already did it", sev2)
    events = [e for e in store.events(sev2) if e.kind.startswith("action")]
    assert [(e.kind, e.text, e.actor) for e in events] == [
        ("action", "Add redundancy (owner U0BOB), due 2021-04-01", "U0ALICE"),
        ("action", "Review customers, due 2021-03-24", "U0ALICE"),
        ("action_done", "follow-up 1 done: Add redundancy", "U0BOB"),
        (
            "action_dropped",
            "follow-up 2 dropped: Review customers (why: support already did it)",
            "U0ALICE",
        ),
    ]
    # The recording stays in the postmortem's timeline; what became of it is the action
    # items table's business.
    assert [is_bookkeeping(e.kind, e.data) for e in events] == [False, False, True, True]


def test_done_and_drop_keep_who_when_and_why(run, sessions, clock, sev2) -> None:
    run("action Add redundancy", sev2)
    run("action Review customers", sev2)
    clock.advance(timedelta(days=2))
    done = run("action done 1", sev2, actor="U0BOB")
    dropped = run("action drop 2 support already did it", sev2)
    assert done.reply == "Follow-up 1 done: Add redundancy"
    assert dropped.reply == "Follow-up 2 dropped: Review customers. Why: support already did it"
    first, second = rows(sessions, sev2)
    assert (first.status, first.closed_at, first.closed_by) == ("done", clock.now(), "U0BOB")
    assert (second.status, second.closed_by, second.drop_reason) == (
        "dropped",
        "U0ALICE",
        "support already did it",
    )


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("action done 3", "Incident #{id} has no follow-up 3: it has 1 (1 to 1)"),
        ("action drop 3 nope", "Incident #{id} has no follow-up 3: it has 1 (1 to 1)"),
        ("action done 1", "Follow-up 1 is already done"),
        ("action Fix it due 2021-03-09", "The due date 2021-03-09 is in the past (today is "),
    ],
)
def test_refusals_say_why_and_record_nothing(
    run, store, sessions, sev2, command: str, error: str
) -> None:
    run("action Add redundancy", sev2)
    run("action done 1", sev2)
    before = (len(store.events(sev2)), len(store.outbox(sev2)))
    with pytest.raises(DomainError) as raised:
        run(command, sev2)
    assert str(raised.value).startswith(error.format(id=sev2))
    assert (len(store.events(sev2)), len(store.outbox(sev2))) == before
    [row] = rows(sessions, sev2)
    assert (row.status, row.closed_by) == ("done", "U0ALICE")


def test_no_follow_up_yet_is_said_as_such(run, sev2) -> None:
    with pytest.raises(DomainError, match="has no follow-up 1: it has none yet"):
        run("action done 1", sev2)


def test_action_list_answers_privately_and_records_nothing(run, store, clock, sev2) -> None:
    run("action Add redundancy <@U0BOB> due 2021-03-12", sev2)
    run("action Review customers", sev2)
    run("action drop 2 support already did it", sev2)
    clock.advance(timedelta(days=3))  # Saturday: follow-up 1 is overdue
    before = (len(store.events(sev2)), len(store.outbox(sev2)))
    outcome = run("action list", sev2)
    assert outcome.reply is None
    assert outcome.private == (
        f"Follow-ups of incident #{sev2}:\n"
        "1. [open] Add redundancy — owner U0BOB — due 2021-03-12 (overdue)\n"
        "2. [dropped] Review customers — due 2021-03-24 — why dropped: support already did it"
    )
    assert (len(store.events(sev2)), len(store.outbox(sev2))) == before


def test_a_tracker_gets_a_ticket_queued_for_each_new_follow_up(run, store, domain, sev2) -> None:
    run("action Before the tracker", sev2)
    domain.tracker = "github"
    run("action Add redundancy", sev2)
    run("action done 2", sev2)
    tickets = [op for op in store.outbox(sev2) if op.kind == "tracker.create"]
    assert [(op.lane, op.payload) for op in tickets] == [
        ("tracker", {"incident_id": sev2, "number": 2})
    ]


# --- a ticket closed or reopened in its tracker ------------------------------------------


def _ticketed(run, sessions, incident_id: int) -> None:
    run("action Add redundancy", incident_id)
    with unit_of_work(sessions) as uow:
        followups.set_ticket(
            session=uow.session,
            incident_id=incident_id,
            number=1,
            tracker="github",
            key="acme/ops#12",
            url="https://github.com/acme/ops/issues/12",
        )


def _change(sessions, domain, key: str = "acme/ops#12", state: str = "done", **more):
    with unit_of_work(sessions) as uow:
        return apply_ticket_change(
            uow, domain, tracker="github", key=key, state=state, actor="octocat", **more
        )


def test_a_closed_ticket_marks_its_follow_up_done_and_tells_the_channel(
    run, sessions, store, domain, sev2
) -> None:
    _ticketed(run, sessions, sev2)
    closed_at = datetime(2021, 3, 11, 2, 0, tzinfo=UTC)
    result = _change(sessions, domain, at=closed_at)
    assert (result.applied, result.incident_id, result.number) == (True, sev2, 1)
    [row] = rows(sessions, sev2)
    assert (row.status, row.closed_by, row.closed_at) == ("done", "octocat", closed_at)
    last = store.events(sev2)[-1]
    assert (last.kind, last.text, last.source, last.occurred_at) == (
        "action_done",
        "follow-up 1 done: acme/ops#12 closed in GitHub by octocat",
        "tracker",
        closed_at,
    )
    told = store.outbox(sev2)[-1]
    assert (told.kind, told.payload["text"]) == (
        "message.post",
        "Follow-up 1 done: acme/ops#12 was closed in GitHub by octocat (Add redundancy)",
    )


def test_a_reopened_ticket_opens_its_follow_up_again(run, sessions, store, domain, sev2) -> None:
    _ticketed(run, sessions, sev2)
    _change(sessions, domain)
    result = _change(sessions, domain, state="open")
    assert result.applied
    [row] = rows(sessions, sev2)
    assert (row.status, row.closed_at, row.closed_by) == ("open", None, None)
    assert store.events(sev2)[-1].kind == "action_reopened"


def test_the_channel_of_a_resolved_incident_is_not_told(run, sessions, store, domain, sev2) -> None:
    _ticketed(run, sessions, sev2)
    run("resolve all good", sev2)
    before = len(store.outbox(sev2))
    assert _change(sessions, domain).applied
    assert len(store.outbox(sev2)) == before
    assert store.events(sev2)[-1].kind == "action_done"


def test_unknown_tickets_and_changes_already_true_record_nothing(
    run, sessions, store, domain, sev2
) -> None:
    _ticketed(run, sessions, sev2)
    unknown = _change(sessions, domain, key="acme/ops#999")
    assert (unknown.applied, unknown.reason) == (False, "acme/ops#999 is no follow-up's ticket")
    assert not _change(sessions, domain, state="open").applied  # open already
    _change(sessions, domain)
    before = len(store.events(sev2))
    again = _change(sessions, domain)  # a repeated delivery
    assert (again.applied, again.reason) == (False, "follow-up 1 is done")
    assert len(store.events(sev2)) == before
    with sessions() as session:
        assert session.exec(select(Followup)).all()[0].status == "done"
