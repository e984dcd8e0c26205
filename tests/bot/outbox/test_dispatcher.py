"""The dispatcher core against a real database, with handlers that talk to no one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.effect_codec import decode, encode
from bot.incidents.effects import Effect, Invite, Page, PostMessage, PostNotice, UpdateCard
from bot.incidents.notices import DeliveryFailed, InviteRefused, Notice
from bot.incidents.service import execute
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.retries import MAX_BACKOFF, MAX_FAULTS
from bot.outbox.routes import Attempt, Remark, Route, Superseded, Together
from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp, TimelineEvent
from storage.unit_of_work import unit_of_work


@dataclass
class Recorded:
    """What the fake far side was asked to do."""

    runs: list[Effect] = field(default_factory=list)
    together: list[list[Effect]] = field(default_factory=list)

    async def run(self, effect: Effect, _attempt: Attempt) -> dict[str, Any]:
        self.runs.append(effect)
        return {"ran": getattr(effect, "text", effect.kind)}


@pytest.fixture
def incident_id(sessions: sessionmaker[Session], domain: Domain) -> int:
    """A declared incident whose own operations are already done: its chain is empty."""
    with unit_of_work(sessions) as uow:
        outcome = execute(
            uow,
            domain,
            parse_command("declare Matching engine down sev3"),
            incident=None,
            actor="U0ALICE",
        )
        assert outcome.incident is not None and outcome.incident.id is not None
        incident = outcome.incident.id
    with transaction(sessions) as session:
        session.execute(update(OutboxOp).values(state="done"))
    return incident


def enqueue(
    sessions: sessionmaker[Session],
    clock: SimulatedClock,
    incident_id: int,
    effect: Effect,
    *,
    version: int | None = None,
) -> None:
    """Write an effect to the outbox as the domain does."""
    with transaction(sessions) as session:
        outbox.enqueue(
            session=session,
            kind=effect.kind,
            version=effect.version if version is None else version,
            payload=encode(dataclasses.replace(effect, incident_id=incident_id)),
            incident_id=incident_id,
            now=clock.now(),
        )


def op_rows(sessions: sessionmaker[Session], incident_id: int, since: int) -> list[OutboxOp]:
    with sessions() as session:
        return list(
            session.scalars(
                select(OutboxOp)
                .where(OutboxOp.incident_id == incident_id, OutboxOp.id > since)
                .order_by(OutboxOp.id)
            )
        )


def told_failures(ops: list[OutboxOp]) -> list[Notice]:
    """The DeliveryFailed notices these operations post in the channel."""
    notices = [decode(op.kind, op.version, op.payload) for op in ops]
    assert all(isinstance(n, PostNotice) for n in notices), notices
    return [n.notice for n in notices if isinstance(n, PostNotice)]


def last_op_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return max(session.scalars(select(OutboxOp.id)).all())


async def test_an_unknown_version_fails_for_good_and_its_chain_goes_on(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    far_side = Recorded()
    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="from the future"), version=99)
    enqueue(sessions, clock, incident_id, PostMessage(text="after it"))
    routes = {PostMessage: Route(far_side.run), PostNotice: Route(far_side.run)}
    await Dispatcher(sessions, routes, clock=clock).drain()

    future, after, told = op_rows(sessions, incident_id, start)
    assert future.state == "failed"
    assert future.last_error == (
        "cannot read a 'message.post' operation of version 99: versions [1] are known"
    )
    assert after.state == "done" and after.result == {"ran": "after it"}
    assert [e.text for e in far_side.runs if isinstance(e, PostMessage)] == ["after it"]
    with sessions() as session:
        failed = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind == "delivery_failed",
            )
        ).all()
    assert [(e.text, e.data["kind"]) for e in failed] == [(future.last_error, "message.post")]
    # The channel is told once, after the operations that went on.
    assert told_failures([told]) == [DeliveryFailed(kind="message.post", reason=future.last_error)]


async def test_an_unknown_kind_and_a_payload_missing_a_field_fail_readably(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    start = last_op_id(sessions)
    with transaction(sessions) as session:
        for kind, payload in (
            ("fax.send", {"incident_id": incident_id}),
            ("message.post", {"incident_id": incident_id, "actor": "U0BOB"}),
        ):
            outbox.enqueue(
                session=session,
                kind=kind,
                payload=payload,
                incident_id=incident_id,
                now=clock.now(),
            )
    far_side = Recorded()
    await Dispatcher(sessions, {PostMessage: Route(far_side.run)}, clock=clock).drain()

    fax, message, *told = op_rows(sessions, incident_id, start)
    assert [n.kind for n in told_failures(told)] == ["fax.send", "message.post"]
    assert (fax.state, fax.last_error) == (
        "failed",
        "cannot read a 'fax.send' operation of version 1: the kind is unknown",
    )
    assert message.state == "failed"
    assert message.last_error is not None
    assert message.last_error.startswith("message.post v1: ")
    assert "text" in message.last_error
    assert far_side.runs == []


async def test_a_route_coalescing_hook_decides_what_runs_together_and_what_is_skipped(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    far_side = Recorded()
    seen: list[list[Effect | None]] = []

    def group_first_three(effect: PostMessage, following: Sequence[Effect | None]) -> Together:
        seen.append(list(following))
        return Together(3)

    def skip_unless_last(_effect: UpdateCard, following: Sequence[Effect | None]) -> Any:
        return Superseded() if any(isinstance(e, UpdateCard) for e in following) else None

    async def run_together(
        effects: list[PostMessage], _attempts: list[Attempt]
    ) -> list[dict[str, Any]]:
        far_side.together.append(list(effects))
        return [{"lines": len(effects), "n": n} for n in range(len(effects))]

    start = last_op_id(sessions)
    for effect in (
        UpdateCard(),
        PostMessage(text="one", actor="U0A"),
        PostMessage(text="two", actor="U0B"),
        PostMessage(text="three", actor="U0C"),
        UpdateCard(),
    ):
        enqueue(sessions, clock, incident_id, effect)
    routes = {
        PostMessage: Route(far_side.run, coalesce=group_first_three, run_together=run_together),
        UpdateCard: Route(far_side.run, coalesce=skip_unless_last),
    }
    await Dispatcher(sessions, routes, clock=clock).drain()

    rows = op_rows(sessions, incident_id, start)
    assert [op.state for op in rows] == ["done"] * 5
    assert [op.result for op in rows] == [
        {"superseded": True},
        {"lines": 3, "n": 0},
        {"lines": 3, "n": 1},
        {"lines": 3, "n": 2},
        {"ran": "card.update"},
    ]
    assert [[e.text for e in group] for group in far_side.together] == [["one", "two", "three"]]
    assert [type(e) for e in seen[0]] == [PostMessage, PostMessage, UpdateCard]
    assert far_side.runs == [UpdateCard(incident_id=incident_id)]


async def test_a_failed_call_together_runs_each_operation_alone(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    far_side = Recorded()

    async def broken(_effects: list[PostMessage], _attempts: list[Attempt]) -> list[dict[str, Any]]:
        raise RuntimeError("the batch endpoint is down")

    start = last_op_id(sessions)
    for text in ("one", "two"):
        enqueue(sessions, clock, incident_id, PostMessage(text=text, actor="U0A"))
    route = Route(far_side.run, coalesce=lambda _e, _f: Together(2), run_together=broken)
    await Dispatcher(sessions, {PostMessage: route}, clock=clock).drain()

    assert [op.result for op in op_rows(sessions, incident_id, start)] == [
        {"ran": "one"},
        {"ran": "two"},
    ]


async def test_retry_later_from_a_non_slack_handler_waits_as_told_and_holds_its_chain(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    answers: list[Exception | None] = [RetryLater("pager busy", 42), None]

    async def page(effect: Page, attempt: Attempt) -> dict[str, Any]:
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return {"action": effect.action, "resumed": attempt.resumed}

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, Page(action="trigger"))
    enqueue(sessions, clock, incident_id, Page(action="acknowledge"))
    dispatcher = Dispatcher(sessions, {Page: Route(page)}, clock=clock)
    await dispatcher.drain()

    trigger, ack = op_rows(sessions, incident_id, start)
    assert (trigger.state, trigger.last_error, trigger.attempts) == ("pending", "pager busy", 1)
    assert trigger.next_attempt_at == clock.now() + timedelta(seconds=42)
    assert ack.state == "pending" and ack.attempts == 0  # waits behind it, untried

    clock.advance(timedelta(seconds=42))
    answers.append(None)
    await dispatcher.drain()
    trigger, ack = op_rows(sessions, incident_id, start)
    assert trigger.result == {"action": "trigger", "resumed": True}
    assert ack.result == {"action": "acknowledge", "resumed": False}


async def test_give_up_from_a_non_slack_handler_fails_the_operation_and_the_chain_goes_on(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    async def page(effect: Page, _attempt: Attempt) -> dict[str, Any]:
        if effect.action == "trigger":
            raise GiveUp("PagerDuty refused (400: invalid routing key)")
        return {"action": effect.action}

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, Page(action="trigger"))
    enqueue(sessions, clock, incident_id, Page(action="resolve"))
    await Dispatcher(sessions, {Page: Route(page)}, clock=clock).drain()

    trigger, resolve, told = op_rows(sessions, incident_id, start)
    assert (trigger.state, trigger.last_error) == (
        "failed",
        "PagerDuty refused (400: invalid routing key)",
    )
    assert (resolve.state, resolve.result) == ("done", {"action": "resolve"})
    assert told_failures([told]) == [
        DeliveryFailed(
            kind="pagerduty.event", reason="PagerDuty refused (400: invalid routing key)"
        )
    ]


async def test_an_unexpected_exception_retries_with_backoff(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    async def page(_effect: Page, _attempt: Attempt) -> dict[str, Any]:
        raise ConnectionError("reset by peer")

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, Page(action="trigger"))
    await Dispatcher(sessions, {Page: Route(page)}, clock=clock).drain()

    [op] = op_rows(sessions, incident_id, start)
    assert (op.state, op.last_error) == ("pending", "ConnectionError: reset by peer")
    # The first backoff is half a second, give or take 20 %.
    waited = (op.next_attempt_at - clock.now()).total_seconds()
    assert 0.4 <= waited <= 0.6


async def test_an_effect_type_without_a_route_fails(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, Page(action="trigger"))
    await Dispatcher(sessions, {}, clock=clock).drain()
    op, told = op_rows(sessions, incident_id, start)
    assert (op.state, op.last_error) == ("failed", "no handler for pagerduty.event")
    # The notice has no route here either: it fails, and is not told about in turn.
    assert (told.kind, told.state, told.last_error) == (
        "notice.post",
        "failed",
        "no handler for notice.post",
    )


async def settle(dispatcher: Dispatcher, clock: SimulatedClock, rounds: int = 40) -> None:
    """Drain, then let the backoff pass, over and over: retries run on the simulated clock."""
    for _ in range(rounds):
        await dispatcher.drain()
        clock.advance(timedelta(seconds=MAX_BACKOFF * 1.3))


@pytest.mark.parametrize(
    "bug",
    [
        KeyError("card_ts"),
        # What a lone surrogate in a stored row gives when the request is encoded.
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
    ids=["bug", "encoding"],
)
async def test_a_failure_in_our_own_code_is_tried_max_faults_times_then_failed(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int, bug: Exception
) -> None:
    tries: list[str] = []
    failed: list[tuple[str, str]] = []

    async def post(effect: PostMessage, _attempt: Attempt) -> dict[str, Any]:
        tries.append(effect.text)
        if effect.text == "cursed":
            raise bug
        return {"ran": effect.text}

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="cursed"))
    enqueue(sessions, clock, incident_id, PostMessage(text="after it"))
    dispatcher = Dispatcher(
        sessions,
        {PostMessage: Route(post), PostNotice: Route(Recorded().run)},
        clock=clock,
        on_failed=lambda kind, reason: failed.append((kind, reason)),
    )
    await settle(dispatcher, clock)

    cursed, after, told = op_rows(sessions, incident_id, start)
    assert tries == ["cursed"] * MAX_FAULTS + ["after it"]
    assert (cursed.state, cursed.faults) == ("failed", MAX_FAULTS)
    name = type(bug).__name__
    assert cursed.last_error == f"it failed in warroom {MAX_FAULTS} times ({name}): {name}: {bug}"
    assert (after.state, after.result) == ("done", {"ran": "after it"})
    reason = f"it failed in warroom {MAX_FAULTS} times ({name})"
    assert told_failures([told]) == [DeliveryFailed(kind="message.post", reason=reason)]
    assert failed == [("message.post", "fault")]
    with sessions() as session:
        entries = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "delivery_failed"
            )
        ).all()
    assert [e.text for e in entries] == [reason]


async def test_the_far_side_being_down_is_retried_without_bound(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    # Slack down for longer than MAX_FAULTS tries: RetryLater is not a fault.
    calls: list[int] = []

    async def post(effect: PostMessage, attempt: Attempt) -> dict[str, Any]:
        calls.append(attempt.attempts)
        if len(calls) <= 3 * MAX_FAULTS:
            raise RetryLater("Slack 503 service_unavailable")
        return {"ran": effect.text}

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="patient"))
    await settle(Dispatcher(sessions, {PostMessage: Route(post)}, clock=clock), clock, rounds=60)

    [op] = op_rows(sessions, incident_id, start)
    assert (op.state, op.faults, op.attempts) == ("done", 0, 3 * MAX_FAULTS + 1)


async def test_an_operation_whose_tries_never_report_back_is_failed_at_max_faults(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    # A worker that dies on it every time (killed, out of memory) never reports back: each
    # lease that runs out counts as a fault, and the last one fails it without a new try.
    far_side = Recorded()
    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="deadly"))
    with transaction(sessions) as session:
        session.execute(
            update(OutboxOp)
            .where(OutboxOp.id > start)
            .values(state="running", claimed_by="dead:1", faults=MAX_FAULTS - 1)
        )
    dispatcher = Dispatcher(sessions, {PostMessage: Route(far_side.run)}, clock=clock)
    await settle(dispatcher, clock, rounds=2)

    deadly, _told = op_rows(sessions, incident_id, start)
    assert (deadly.state, deadly.faults) == ("failed", MAX_FAULTS)
    assert deadly.last_error == (
        f"it never finished in {MAX_FAULTS} tries: resumed from dead:1, whose lease ran out"
    )
    assert far_side.runs == []


async def test_a_route_remark_is_told_once_with_its_timeline_entry(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    refused = InviteRefused(people=("U0NOBODY",), reasons=("user_not_found",))

    async def invite(effect: Invite, _attempt: Attempt) -> dict[str, Any]:
        return {"invited": ["U0BOB"], "refused": [{"user": "U0NOBODY", "error": "user_not_found"}]}

    def remarks(_effect: Invite, result: dict[str, Any]) -> list[Remark]:
        return [Remark(refused, "Could not invite U0NOBODY (user_not_found)")] if result else []

    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, Invite(users=("U0BOB", "U0NOBODY")))
    far_side = Recorded()
    routes = {Invite: Route(invite, remarks=remarks), PostNotice: Route(far_side.run)}
    await settle(Dispatcher(sessions, routes, clock=clock), clock, rounds=2)

    op, told = op_rows(sessions, incident_id, start)
    assert (op.state, op.result["invited"]) == ("done", ["U0BOB"])
    assert (told.state, told_failures([told])) == ("done", [refused])
    assert far_side.runs == [PostNotice(incident_id=incident_id, notice=refused)]
    with sessions() as session:
        entries = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "delivery_refused"
            )
        ).all()
    assert [(e.text, e.data["kind"]) for e in entries] == [
        ("Could not invite U0NOBODY (user_not_found)", "channel.invite")
    ]


def declared(sessions: sessionmaker[Session], domain: Domain, title: str) -> int:
    """Another declared incident, its own operations done."""
    with unit_of_work(sessions) as uow:
        outcome = execute(
            uow, domain, parse_command(f"declare {title} sev3"), incident=None, actor="U0ALICE"
        )
        assert outcome.incident is not None and outcome.incident.id is not None
    with transaction(sessions) as session:
        session.execute(update(OutboxOp).where(OutboxOp.state == "pending").values(state="done"))
    return outcome.incident.id


async def test_a_chain_waiting_on_a_slow_far_side_holds_up_only_its_own_lane(
    sessions: sessionmaker[Session], clock: SimulatedClock, domain: Domain, incident_id: int
) -> None:
    other = declared(sessions, domain, "Market data stale")
    slow_begun, let_go = asyncio.Event(), asyncio.Event()
    posted: asyncio.Queue[tuple[int | None, str]] = asyncio.Queue()

    async def post(effect: PostMessage, _attempt: Attempt) -> dict[str, Any]:
        if effect.text == "slow":
            slow_begun.set()
            await let_go.wait()  # Slack said Retry-After: 60, or the call hangs
        posted.put_nowait((effect.incident_id, effect.text))
        return {}

    async def next_post() -> tuple[int | None, str]:
        return await asyncio.wait_for(posted.get(), timeout=10)

    # No polling to fall back on: only wakes (work written) and chains ending claim.
    dispatcher = Dispatcher(sessions, {PostMessage: Route(post)}, clock=clock, poll_interval=60)
    running = asyncio.create_task(dispatcher.run_forever())
    enqueue(sessions, clock, incident_id, PostMessage(text="slow"))
    dispatcher.wake()
    await asyncio.wait_for(slow_begun.wait(), timeout=10)

    enqueue(sessions, clock, other, PostMessage(text="channel opened"))
    enqueue(sessions, clock, incident_id, PostMessage(text="after the slow one"))
    dispatcher.wake()
    # The other incident's message goes out while the slow one still waits, and nothing
    # overtakes the slow one in its own lane.
    assert await next_post() == (other, "channel opened")
    let_go.set()
    assert await next_post() == (incident_id, "slow")
    assert await next_post() == (incident_id, "after the slow one")
    dispatcher.stop()
    await asyncio.wait_for(running, timeout=10)
    assert posted.empty()


async def test_stopping_lets_the_chains_begun_finish(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    begun, done = asyncio.Event(), []

    async def post(effect: PostMessage, _attempt: Attempt) -> dict[str, Any]:
        begun.set()
        await asyncio.sleep(0.2)
        done.append(effect.text)
        return {}

    dispatcher = Dispatcher(sessions, {PostMessage: Route(post)}, clock=clock, poll_interval=60)
    running = asyncio.create_task(dispatcher.run_forever())
    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="under way"))
    dispatcher.wake()
    await asyncio.wait_for(begun.wait(), timeout=10)
    dispatcher.stop()
    await asyncio.wait_for(running, timeout=10)
    assert done == ["under way"]
    assert [op.state for op in op_rows(sessions, incident_id, start)] == ["done"]


async def test_a_chain_still_under_way_after_the_grace_is_handed_back_to_be_resumed(
    sessions: sessionmaker[Session], clock: SimulatedClock, incident_id: int
) -> None:
    begun = asyncio.Event()

    async def hangs(effect: PostMessage, _attempt: Attempt) -> dict[str, Any]:
        begun.set()
        await asyncio.Event().wait()  # the far side never answers
        return {}

    dispatcher = Dispatcher(
        sessions, {PostMessage: Route(hangs)}, clock=clock, poll_interval=60, grace=0.1
    )
    running = asyncio.create_task(dispatcher.run_forever())
    start = last_op_id(sessions)
    enqueue(sessions, clock, incident_id, PostMessage(text="stuck"))
    enqueue(sessions, clock, incident_id, PostMessage(text="behind it"))
    dispatcher.wake()
    await asyncio.wait_for(begun.wait(), timeout=10)
    dispatcher.stop()
    await asyncio.wait_for(running, timeout=5)

    # Due now, for any worker, and resumed: Slack may have posted it before the stop. The
    # one behind it was never tried: it goes back as it was, not to be looked for first.
    stuck, behind = op_rows(sessions, incident_id, start)
    assert (stuck.state, stuck.claimed_by, stuck.next_attempt_at) == ("pending", None, clock.now())
    assert stuck.last_error == f"interrupted: {dispatcher.worker} stopped"
    assert stuck.faults == 0
    assert (behind.state, behind.claimed_by, behind.next_attempt_at) == (
        "pending",
        None,
        clock.now(),
    )
    assert (behind.last_error, behind.attempts, behind.faults) == (None, 0, 0)
    resumed: list[tuple[str, bool]] = []

    async def post(effect: PostMessage, attempt: Attempt) -> dict[str, Any]:
        resumed.append((effect.text, attempt.resumed))
        return {}

    await Dispatcher(sessions, {PostMessage: Route(post)}, clock=clock).drain()
    assert resumed == [("stuck", True), ("behind it", False)]
    assert [op.state for op in op_rows(sessions, incident_id, start)] == ["done", "done"]
