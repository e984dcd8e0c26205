"""Drive the incident domain the way responders do, and draft from what it stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.postmortem import Postmortem, build, render
from storage.db import transaction
from storage.people import remember
from tests.bot.incidents.conftest import ingest, reference_alert, run, store  # noqa: F401

HKT = ZoneInfo("Asia/Hong_Kong")
COMMITMENTS = (
    "Extend testing in a simulated environment",
    "Add multi-server and multi-region redundancy",
    "Support hot updates of stateless logic without disrupting trading",
    "Give 24-hour advance notice of scheduled maintenance",
    "Review affected customers case by case",
)


def at_hkt(clock: SimulatedClock, hhmm: str, day: int = 10) -> None:
    """Move the simulated clock to HH:MM on 2021-03-<day> in Hong Kong."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    clock.set(datetime(2021, 3, day, hour, minute, tzinfo=HKT))


@pytest.fixture
def people(sessions: sessionmaker[Session], clock: SimulatedClock) -> None:
    """Display names as Slack would have told us."""
    with transaction(sessions) as session:
        for user_id, name in (("U0ALICE", "Alice Chan"), ("U0BOB", "Bob Lee")):
            remember(session=session, user_id=user_id, name=name, now=clock.now())


@pytest.fixture
def reference(run, ingest, clock, people) -> int:  # noqa: F811
    """The reference incident, replayed command by command; its id."""
    iid = ingest(reference_alert()).incident_id
    assert iid is not None
    at_hkt(clock, "17:57")
    run("ack", iid, actor="U0ALICE")
    run(
        'impact API users received error code 30030 ("matching engine upgrade in progress"); '
        "spot and margin trading intermittently unavailable",
        iid,
    )
    at_hkt(clock, "18:05")
    run("status identified failed internal dependency of the matching engine", iid)
    run("cause An internal dependency service of the matching engine failed", iid)
    at_hkt(clock, "18:07")
    run("update Emergency repairs started, preparing a restart", iid, actor="U0BOB")
    at_hkt(clock, "18:15")
    run("resolve service restored", iid)
    for n, text in enumerate(COMMITMENTS):
        owner = " <@U0BOB>" if n % 2 else ""
        run(f"action {text}{owner}", iid)
    return iid


Draft = Callable[..., tuple[Postmortem, str]]


@pytest.fixture
def drafted(sessions: sessionmaker[Session]) -> Draft:
    """Build and render incident `iid`'s draft in a fresh session."""

    def _draft(iid: int, tz: ZoneInfo = HKT, **options) -> tuple[Postmortem, str]:
        with sessions() as session:
            pm = build(session, iid, tz=tz)
        return pm, render(pm, **options)

    return _draft
