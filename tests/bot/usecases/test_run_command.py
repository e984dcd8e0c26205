"""Commands sharing one transaction (a burst of slash commands): each recorded once, in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.composition.runtime import Runtime
from bot.incidents.commands import parse_command
from bot.incidents.effects import POST_MESSAGE
from bot.incidents.views import TimelineShown
from bot.outbox.batching import GroupCommit
from bot.usecases.run_command import CommandRequest, run_commands
from storage.models import Incident
from storage.unit_of_work import unit_of_work, within
from tests.bot.incidents.conftest import Store
from tests.bot.web.conftest import make_settings


@pytest.fixture
def runtime(database, engine, sessions, domain) -> Runtime:
    return Runtime(make_settings(database[1], slack=True), engine, sessions, domain)


@pytest.fixture
def store(sessions) -> Store:
    return Store(sessions)


@pytest.fixture
def incident(runtime, sessions, store) -> Incident:
    """A declared incident, as `/incident declare` leaves it."""
    with unit_of_work(sessions) as uow:
        run_commands(
            uow,
            runtime.domain,
            [CommandRequest(parse_command("declare Fees wrong sev2"), "U0ALICE")],
        )
    (declared,) = store.incidents()
    return declared


def test_a_batch_records_each_delivery_once_even_when_repeated_inside_it(
    runtime, sessions, store, incident
) -> None:
    with unit_of_work(sessions) as uow:
        run_commands(
            uow,
            runtime.domain,
            [
                CommandRequest(
                    parse_command("note first"), "U0ALICE", incident_id=incident.id, key="k1"
                )
            ],
        )

    jobs = [
        # k1 was recorded by an earlier batch; k2 comes twice in this one (Slack's retry
        # arriving while the first delivery waits for the same writer).
        ("note first", "k1"),
        ("note second", "k2"),
        ("note second", "k2"),
        ("note third", "k3"),
        ("note fourth", None),
    ]
    with unit_of_work(sessions) as uow:
        replies = run_commands(
            uow,
            runtime.domain,
            [
                CommandRequest(parse_command(text), "U0BOB", incident_id=incident.id, key=key)
                for text, key in jobs
            ],
        )

    assert [reply.private for reply in replies] == [None] * 5
    notes = [event.text for event in store.events(incident.id) if event.kind == "note"]
    assert notes == ["first", "second", "third", "fourth"]


async def test_a_refused_command_in_a_burst_is_answered_and_the_others_recorded(
    runtime, sessions, store, incident
) -> None:
    # Commands arriving together share a transaction, as the Slack listeners run them.
    def work(session, requests):
        with within(session) as uow:
            return run_commands(uow, runtime.domain, requests)

    batches = GroupCommit(sessions, work, linger=0.05)
    texts = ["note before", "stage nowhere", "note after"]
    replies = await asyncio.gather(
        *(
            batches.submit(
                CommandRequest(parse_command(text), "U0BOB", incident_id=incident.id, key=f"b{n}")
            )
            for n, text in enumerate(texts)
        )
    )

    assert replies[0].private is None and replies[2].private is None
    assert replies[1].private and "nowhere" in replies[1].private
    notes = [event.text for event in store.events(incident.id) if event.kind == "note"]
    assert notes == ["before", "after"]
    # The refused command left nothing behind, not even the echo it had begun.
    echoes = [op.payload["text"] for op in store.outbox(incident.id) if op.kind == POST_MESSAGE]
    assert echoes[-2:] == ["Noted: before", "Noted: after"] and "" not in echoes


def test_a_command_is_recorded_at_the_time_slack_delivered_it(
    runtime, sessions, store, incident, clock
) -> None:
    delivered = clock.now()
    clock.advance(timedelta(seconds=3))  # queued behind a burst, or the writer lock

    for batch in (["note alone"], ["note shared one", "note shared two"]):
        with unit_of_work(sessions) as uow:
            run_commands(
                uow,
                runtime.domain,
                [
                    CommandRequest(
                        parse_command(text), "U0BOB", incident_id=incident.id, received_at=delivered
                    )
                    for text in batch
                ],
            )

    notes = {e.text: e.occurred_at for e in store.events(incident.id) if e.kind == "note"}
    assert notes == dict.fromkeys(["alone", "shared one", "shared two"], delivered)


def test_a_command_in_a_batch_reads_what_the_commands_before_it_recorded(
    runtime, sessions, incident
) -> None:
    # Scheduling maintenance first: its own writes must not hold the note back from the
    # timeline read two commands later in the same transaction.
    texts = ["maintenance 2021-03-12 02:00 2h Matching engine upgrade", "note before", "timeline"]
    with unit_of_work(sessions) as uow:
        replies = run_commands(
            uow,
            runtime.domain,
            [
                CommandRequest(parse_command(text), "U0BOB", incident_id=incident.id)
                for text in texts
            ],
        )

    assert replies[0].private and "Maintenance #1 scheduled" in replies[0].private
    timeline = replies[2].shown
    assert isinstance(timeline, TimelineShown)
    assert [e.text for e in timeline.entries if e.kind == "note"] == ["before"]
