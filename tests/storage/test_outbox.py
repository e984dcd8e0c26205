"""The outbox: operations come out in order per incident and lane, never overtaking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, update

from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp
from storage.unit_of_work import unit_of_work
from tests.storage.helpers import NOW, stored_incident

LEASE = timedelta(seconds=60)


def _enqueue(sessions, incident_id: int, *kinds: tuple[str, str]) -> list[int]:
    with transaction(sessions) as session:
        known = set(session.scalars(select(OutboxOp.id)))
        for kind, lane in kinds:
            outbox.enqueue(
                session=session, kind=kind, payload={}, incident_id=incident_id, now=NOW, lane=lane
            )
        return sorted(set(session.scalars(select(OutboxOp.id))) - known)


def _claim(sessions, now: datetime = NOW, worker: str = "w1") -> list[list[str]]:
    with transaction(sessions) as session:
        chains = outbox.claim(session=session, worker=worker, now=now, lease=LEASE)
        return [[op.kind for op in chain] for chain in chains]


def test_a_lane_never_overtakes_an_operation_waiting_for_a_retry(sessions) -> None:
    incident = stored_incident(sessions)
    first, _second, _third = _enqueue(
        sessions,
        incident,
        ("channel.open", "main"),
        ("card.post", "main"),
        ("message.post", "main"),
    )
    assert _claim(sessions) == [["channel.open", "card.post", "message.post"]]
    with transaction(sessions) as session:
        outbox.retry_later(
            session=session, op_id=first, error="429", at=NOW + timedelta(seconds=30), now=NOW
        )
        outbox.release(session=session, op_ids=[_second, _third], now=NOW)
    assert _claim(sessions, NOW + timedelta(seconds=1)) == []
    assert _claim(sessions, NOW + timedelta(seconds=31)) == [
        ["channel.open", "card.post", "message.post"]
    ]


def test_a_failing_third_party_does_not_hold_up_slack(sessions) -> None:
    incident = stored_incident(sessions)
    page, _ = _enqueue(sessions, incident, ("pagerduty.event", "pagerduty"), ("card.post", "main"))
    claimed = _claim(sessions)
    assert sorted(claimed) == [["card.post"], ["pagerduty.event"]]
    with transaction(sessions) as session:
        outbox.retry_later(
            session=session, op_id=page, error="503", at=NOW + timedelta(minutes=5), now=NOW
        )
    _enqueue(sessions, incident, ("message.post", "main"))
    with transaction(sessions) as session:
        session.execute(update(OutboxOp).where(OutboxOp.kind == "card.post").values(state="done"))
    assert _claim(sessions, NOW + timedelta(seconds=1)) == [["message.post"]]


def test_a_long_queue_behind_a_held_operation_does_not_hide_another_incidents_lane(
    sessions,
) -> None:
    busy, quiet = stored_incident(sessions), stored_incident(sessions)
    _enqueue(sessions, busy, ("channel.open", "main"))
    assert _claim(sessions) == [["channel.open"]]  # held: Slack is making it wait
    # Echoes pile up behind it, more than a claim's window of rows, before the other
    # incident's first operation.
    _enqueue(sessions, busy, *[("message.post", "main")] * 40)
    _enqueue(sessions, quiet, ("channel.open", "main"))
    with transaction(sessions) as session:
        chains = outbox.claim(session=session, worker="w1", now=NOW, lease=LEASE, limit=2)
        claimed = [(op.incident_id, op.kind) for chain in chains for op in chain]
    assert claimed == [(quiet, "channel.open")]


def test_concurrent_claims_take_disjoint_operations(sessions) -> None:
    incidents = [stored_incident(sessions) for _ in range(8)]
    for incident in incidents:
        _enqueue(sessions, incident, ("channel.open", "main"), ("card.post", "main"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda w: _claim_ids(sessions, f"w{w}"), range(4)))
    taken = [op_id for result in results for op_id in result]
    assert len(taken) == len(set(taken)) == 16


def _claim_ids(sessions, worker: str) -> list[int]:
    with transaction(sessions) as session:
        chains = outbox.claim(session=session, worker=worker, now=NOW, lease=LEASE)
        return [op.id for chain in chains for op in chain]


def test_a_restarted_single_process_reclaims_what_it_left_running(sessions) -> None:
    incident = stored_incident(sessions)
    _enqueue(sessions, incident, ("channel.open", "main"))
    assert _claim(sessions) == [["channel.open"]]
    assert _claim(sessions, NOW + timedelta(seconds=1)) == []  # leased to the dead worker
    with transaction(sessions) as session:
        assert outbox.reclaim_all(session=session, now=NOW + timedelta(seconds=1)) == 1
    assert _claim(sessions, NOW + timedelta(seconds=1), worker="w2") == [["channel.open"]]


def test_operations_enqueued_alone_or_by_the_domain_keep_the_order_they_were_written_in(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        outbox.enqueue(
            session=uow.session, kind="broadcast", payload={}, incident_id=incident, now=NOW
        )
        outbox.row(uow.rows(), kind="message.post", payload={}, incident_id=incident, now=NOW)
        uow.flush()  # the domain's rows go in at the flush: before what is enqueued next
        outbox.enqueue(
            session=uow.session, kind="card.update", payload={}, incident_id=incident, now=NOW
        )
    assert _claim(sessions) == [["broadcast", "message.post", "card.update"]]


def test_completed_operations_keep_each_answer_whether_shared_or_their_own(sessions) -> None:
    incident = stored_incident(sessions)
    ids = _enqueue(sessions, incident, *[("message.post", "main")] * 4)
    _claim(sessions)
    shared = {"ts": "1.000100", "lines": 3}  # three echoes posted as one message
    later = NOW + timedelta(seconds=2)
    with transaction(sessions) as session:
        outbox.complete(
            session=session,
            results={ids[0]: shared, ids[1]: shared, ids[2]: dict(shared), ids[3]: {"ts": "2.0"}},
            now=later,
        )
    with transaction(sessions) as session:
        rows = session.scalars(select(OutboxOp).order_by(OutboxOp.id)).all()
        assert [(row.state, row.result, row.attempts) for row in rows] == [
            ("done", shared, 1),
            ("done", shared, 1),
            ("done", shared, 1),
            ("done", {"ts": "2.0"}, 1),
        ]
        assert {row.updated_at for row in rows} == {later}
        assert outbox.pending_count(session=session) == 0
