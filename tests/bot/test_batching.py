"""Group commit: each request answered only after its shared transaction committed."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select

from bot.outbox.batching import GroupCommit, Traffic
from storage.models import Delivery

NOW = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def _store(session, delivery_ids: list[str]) -> list[str]:
    for delivery_id in delivery_ids:
        if delivery_id.startswith("bad"):
            session.add(Delivery(source="test", delivery_id="kept-out", received_at=NOW))
            session.flush()
            raise ValueError(f"refused {delivery_id}")
        session.add(Delivery(source="test", delivery_id=delivery_id, received_at=NOW))
        session.flush()
    return delivery_ids


def _stored(sessions) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Delivery.delivery_id)))


async def test_concurrent_jobs_share_commits_and_one_refusal_spoils_nothing(sessions) -> None:
    calls: list[int] = []

    def store(session, delivery_ids: list[str]) -> list[str]:
        calls.append(len(delivery_ids))
        return _store(session, delivery_ids)

    group = GroupCommit(sessions, store, max_batch=8)
    names = [f"d{n}" for n in range(30)] + ["bad1"]
    results = await asyncio.gather(*(group.submit(n) for n in names), return_exceptions=True)
    assert results[:30] == names[:30]
    assert isinstance(results[30], ValueError) and str(results[30]) == "refused bad1"
    # Answered means committed: every accepted job is visible to a fresh session.
    assert _stored(sessions) == set(names[:30])
    assert max(calls) > 1 and max(calls) <= 8  # shared transactions, never above the cap


async def test_a_failed_commit_fails_every_job_of_its_batch(sessions, monkeypatch) -> None:
    from contextlib import contextmanager

    import bot.outbox.batching as batching

    @contextmanager
    def commit_fails(factory):
        with factory() as session:
            yield session
            session.rollback()
            raise ConnectionError("database went away at commit")

    monkeypatch.setattr(batching, "transaction", commit_fails)
    group = GroupCommit(sessions, _store, max_batch=8)
    results = await asyncio.gather(
        *(group.submit(n) for n in ("a", "b", "c")), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results), results
    assert _stored(sessions) == set()


async def test_work_that_gives_way_waits_while_asked_and_never_past_its_limit(sessions) -> None:
    busy = {"until": 0.0}

    def give_way() -> bool:
        return time.monotonic() < busy["until"]

    group = GroupCommit(sessions, _store, give_way=give_way, give_way_for=0.3)
    # Asked to wait 0.15 s: the job is committed once the caller is no longer busy.
    busy["until"] = time.monotonic() + 0.15
    assert await group.submit("after-quiet") == "after-quiet"
    assert time.monotonic() >= busy["until"]
    # Asked to wait a minute: it goes ahead after its limit, not a minute later.
    busy["until"] = time.monotonic() + 60
    started = time.monotonic()
    assert await group.submit("after-limit") == "after-limit"
    assert 0.3 <= time.monotonic() - started < 30
    assert _stored(sessions) == {"after-quiet", "after-limit"}


async def test_a_batch_waits_for_company_only_after_one_had_some(sessions) -> None:
    sizes: list[int] = []

    def store(session, delivery_ids: list[str]) -> list[str]:
        sizes.append(len(delivery_ids))
        return _store(session, delivery_ids)

    group = GroupCommit(sessions, store, company_linger=0.3)

    async def one_by_one(prefix: str) -> list[str]:
        sent = []
        for n in range(3):
            sent.append(asyncio.create_task(group.submit(f"{prefix}{n}")))
            await asyncio.sleep(0.03)
        return list(await asyncio.gather(*sent))

    # Requests coming one at a time are never held up for company that is not coming.
    assert await one_by_one("lone") == ["lone0", "lone1", "lone2"]
    assert sizes == [1, 1, 1]
    sizes.clear()
    together = [f"storm{n}" for n in range(4)]
    assert await asyncio.gather(*(group.submit(name) for name in together)) == together
    assert max(sizes) > 1
    sizes.clear()
    # Right after a batch had company, the next waits for the requests on their way.
    assert await one_by_one("more") == ["more0", "more1", "more2"]
    assert sizes == [3]
    assert _stored(sessions) >= {"lone0", "storm3", "more2"}


async def test_traffic_counts_requests_until_answered_refused_or_not(sessions) -> None:
    traffic = Traffic()
    waiting: list[int] = []

    def store(session, delivery_ids: list[str]) -> list[str]:
        waiting.append(traffic.waiting)  # read on the writer thread while they wait
        return _store(session, delivery_ids)

    group = GroupCommit(sessions, store, traffic=traffic)
    assert not traffic.busy(60)  # nothing has come yet
    results = await asyncio.gather(group.submit("one"), group.submit("bad"), return_exceptions=True)
    assert results[0] == "one" and isinstance(results[1], ValueError)
    assert waiting[0] >= 1  # the job being stored is counted while it waits
    assert traffic.waiting == 0  # the refused one is not left counted
    assert traffic.busy(60) and not traffic.busy(0)  # answered just now, and no longer waiting
