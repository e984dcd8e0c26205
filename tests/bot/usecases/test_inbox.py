"""The inbox: what Slack was told we received is stored first, then carried out once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.incidents.commands import Command, parse_command
from bot.usecases.inbox import Inbound, PinRequest, accept, carry_out, decode
from bot.usecases.run_command import BatchRefused, CommandRequest, run_commands
from storage import inbox
from storage.models import InboxRequest, Incident
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import Store


@pytest.fixture
def store(sessions) -> Store:
    return Store(sessions)


@pytest.fixture
def incident(sessions, domain, store) -> Incident:
    with unit_of_work(sessions) as uow:
        run_commands(uow, domain, [CommandRequest(parse_command("declare Fees wrong"), "U0A")])
    (declared,) = store.incidents()
    return declared


def _note(incident: Incident, text: str, key: str, clock) -> Inbound:
    request = CommandRequest(
        parse_command(f"note {text}"),
        "U0BOB",
        incident_id=incident.id,
        key=f"command:{key}",
        received_at=clock.now(),
    )
    return Inbound(f"command:{key}", request, clock.now(), {"response_url": "https://x/1"})


def _stored(sessions) -> list[Inbound]:
    with sessions() as session:
        return [decode(row) for row in session.scalars(select(InboxRequest))]


def _notes(store: Store, incident: Incident) -> list[str]:
    return [e.text for e in store.events(incident.id) if e.kind == "note"]


def test_a_retried_delivery_is_found_by_its_row_and_not_stored_again(
    sessions, incident, clock
) -> None:
    first = _note(incident, "replica lagging", "t1", clock)
    with unit_of_work(sessions) as uow:
        (accepted,) = accept(uow, [first])
    with unit_of_work(sessions) as uow:
        again, twin, other = accept(
            uow, [first, _note(incident, "twin", "t2", clock), _note(incident, "twin", "t2", clock)]
        )

    assert accepted.new and not again.new and again.id == accepted.id
    assert twin.new and not other.new and other.id == twin.id
    assert [(i.key, i.reply_to) for i in _stored(sessions)] == [
        ("command:t1", {"response_url": "https://x/1"}),
        ("command:t2", {"response_url": "https://x/1"}),
    ]


def test_a_stored_request_reads_back_as_it_was_received(sessions, incident, clock) -> None:
    typed = _note(incident, "failover started", "t1", clock)
    clicked = Inbound(
        "action:t2:ack",
        CommandRequest(Command("ack"), "U0BOB", incident_id=incident.id, key="action:t2:ack"),
        clock.now(),
    )
    pinned = Inbound("event:Ev1", PinRequest("C1", "1615370160.000100", "U0A"), clock.now())
    with unit_of_work(sessions) as uow:
        accept(uow, [typed, clicked, pinned])

    back = _stored(sessions)
    assert [b.request for b in back] == [
        typed.request,
        CommandRequest(
            Command("ack"),
            "U0BOB",
            incident_id=incident.id,
            key="action:t2:ack",
            received_at=clock.now(),
        ),
        pinned.request,
    ]


def test_a_request_is_carried_out_once_however_often_it_is_handed_over(
    sessions, domain, store, incident, clock
) -> None:
    note = _note(incident, "ledger behind", "t1", clock)
    with unit_of_work(sessions) as uow:
        (accepted,) = accept(uow, [note])
    for _ in range(2):  # the live listener, then a recovery that found it pending
        with unit_of_work(sessions) as uow:
            carry_out(uow, domain, [(accepted.id, note.request)])

    assert _notes(store, incident) == ["ledger behind"]
    with sessions() as session:
        assert inbox.pending_count(session) == 0


def test_a_batch_with_a_request_carried_out_already_is_refused_whole(
    sessions, domain, store, incident, clock
) -> None:
    first, second = _note(incident, "one", "t1", clock), _note(incident, "two", "t2", clock)
    with unit_of_work(sessions) as uow:
        a, b = accept(uow, [first, second])
    with unit_of_work(sessions) as uow:
        carry_out(uow, domain, [(a.id, first.request)])

    with pytest.raises(BatchRefused), unit_of_work(sessions) as uow:
        carry_out(uow, domain, [(a.id, first.request), (b.id, second.request)])
    with unit_of_work(sessions) as uow:  # each alone, as the group commit then does
        replies = [carry_out(uow, domain, [item])[0] for item in [(b.id, second.request)]]

    assert [r.private for r in replies] == [None]
    assert _notes(store, incident) == ["one", "two"]


def test_claim_takes_only_what_no_live_worker_holds_and_a_gone_message_is_just_done(
    sessions, domain, incident, clock
) -> None:
    pin = Inbound("event:Ev1", PinRequest("C0GONE", "1615370160.000100", "U0A"), clock.now())
    with unit_of_work(sessions) as uow:
        (accepted,) = accept(uow, [pin])
    later = clock.now() + timedelta(seconds=30)
    with unit_of_work(sessions) as uow:
        taken = inbox.claim(
            uow.session,
            now=later,
            received_before=later,
            lease=timedelta(minutes=1),
            limit=10,
        )
        again = inbox.claim(
            uow.session,
            now=later,
            received_before=later,
            lease=timedelta(minutes=1),
            limit=10,
        )
    assert [row.id for row in taken] == [accepted.id] and again == []

    with unit_of_work(sessions) as uow:
        carry_out(uow, domain, [(accepted.id, None)])  # the message was deleted meanwhile
    with sessions() as session:
        assert inbox.pending_count(session) == 0


def test_requests_carried_out_long_ago_are_forgotten_and_pending_ones_kept(
    sessions, domain, incident, clock
) -> None:
    done, waiting = _note(incident, "done", "t1", clock), _note(incident, "waiting", "t2", clock)
    with unit_of_work(sessions) as uow:
        first, _ = accept(uow, [done, waiting])
    with unit_of_work(sessions) as uow:
        carry_out(uow, domain, [(first.id, done.request)])

    with unit_of_work(sessions) as uow:
        assert inbox.prune(uow.session, done_before=clock.now()) == 0  # done just now
    with unit_of_work(sessions) as uow:
        assert inbox.prune(uow.session, done_before=clock.now() + timedelta(days=2)) == 1
    assert [i.key for i in _stored(sessions)] == ["command:t2"]
