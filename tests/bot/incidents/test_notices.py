"""What the bot says on its own leaves the domain as facts, never as Slack text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents import maintenance, reminders
from bot.incidents.clock import SimulatedClock
from bot.incidents.context import Domain
from bot.incidents.effects import Broadcast, BroadcastNotice, Page, PostMessage, PostNotice
from bot.incidents.notices import (
    MaintenanceDue,
    MaintenanceScheduled,
    PostmortemDue,
    StageStarted,
    StatusUpdateDue,
    Unacknowledged,
)
from bot.incidents.records import Outcome
from storage.unit_of_work import unit_of_work

EMOJI = re.compile(r":[a-z_]+:")


def notices_of(outcome: Outcome | None) -> list[object]:
    assert outcome is not None
    return [e.notice for e in outcome.effects if isinstance(e, PostNotice | BroadcastNotice)]


def no_slack_text(outcome: Outcome | None) -> bool:
    """No message the domain wrote carries emoji codes or mrkdwn of its own."""
    assert outcome is not None
    texts = [e.text for e in outcome.effects if isinstance(e, PostMessage | Broadcast)]
    return not any(EMOJI.search(t) or "*" in t for t in texts)


def test_a_stage_entered_is_announced_as_its_title_timebox_and_tasks(run) -> None:
    declared = run("declare Matching engine down sev1 playbook:trading-engine-outage")
    outcome = run("ack", declared.incident.id)
    [started] = notices_of(outcome)
    assert isinstance(started, StageStarted)
    assert started.title and started.tasks
    assert started.stage_id == outcome.incident.playbook_state["stage"]


def test_reminders_and_escalation_are_notices_with_their_numbers(
    run, sessions: sessionmaker[Session], domain: Domain, clock: SimulatedClock
) -> None:
    incident_id = run("declare Spot trading errors sev2").incident.id
    clock.advance(timedelta(minutes=31))
    with unit_of_work(sessions) as uow:
        due = reminders.status_update_due(uow, domain, incident_id)
        late = reminders.unacknowledged_due(uow, domain, incident_id)
    assert notices_of(due) == [StatusUpdateDue(elapsed_seconds=31 * 60, since_last_update=False)]
    # The escalation is told by its page, once PagerDuty answered: not announced here.
    assert notices_of(late) == []
    [page] = [e for e in late.effects if isinstance(e, Page)]
    assert (page.action, page.escalation, page.page, page.waited_seconds) == (
        "trigger",
        True,
        2,
        31 * 60,
    )
    assert no_slack_text(due) and no_slack_text(late)
    run("resolve fixed", incident_id)
    # Due 5 business days after Wednesday the 10th; reminded from 09:00 that day.
    clock.set(datetime(2021, 3, 17, 1, 0, tzinfo=UTC))
    with unit_of_work(sessions) as uow:
        postmortem = reminders.postmortem_due(uow, domain, incident_id)
    assert notices_of(postmortem) == [PostmortemDue(owner=None, due="2021-03-17", late_days=0)]


def test_a_drill_nobody_acknowledged_is_told_at_once_and_pages_nobody(
    run, sessions: sessionmaker[Session], domain: Domain, clock: SimulatedClock
) -> None:
    incident_id = run("drill database-failover").incident.id
    clock.advance(timedelta(minutes=6))
    with unit_of_work(sessions) as uow:
        late = reminders.unacknowledged_due(uow, domain, incident_id)
    assert notices_of(late) == [Unacknowledged(waited_seconds=6 * 60)]
    assert not [e for e in late.effects if isinstance(e, Page)]


def test_maintenance_announcements_are_notices_of_the_window(
    run, sessions: sessionmaker[Session], domain: Domain
) -> None:
    scheduled = run("maintenance 2021-03-12 02:00 2h Matching engine upgrade")
    [notice] = notices_of(scheduled)
    assert isinstance(notice, MaintenanceScheduled)
    assert notice.title == "Matching engine upgrade"
    assert notice.ends_at - notice.starts_at == timedelta(hours=2)
    with unit_of_work(sessions) as uow:
        start = maintenance.notice_due(uow, domain, notice.maintenance_id, "start")
    assert notices_of(start) == [
        MaintenanceDue(
            maintenance_id=notice.maintenance_id,
            title="Matching engine upgrade",
            phase="start",
            starts_at=notice.starts_at,
            ends_at=notice.ends_at,
        )
    ]


def test_the_update_reminder_counts_from_the_last_update_reading_that_entry_alone(
    run, sessions: sessionmaker[Session], domain: Domain, clock: SimulatedClock
) -> None:
    incident_id = run("declare Spot trading errors sev2").incident.id
    clock.advance(timedelta(minutes=10))
    run("update Failover to the standby matching engine started", incident_id)
    clock.advance(timedelta(minutes=5))
    run("update Failover done, order entry reopened", incident_id)
    for n in range(3):  # entries after the last update do not count as one
        clock.advance(timedelta(minutes=1))
        run(f"note checking gateway {n}", incident_id)
    clock.advance(timedelta(minutes=20))
    statements: list[str] = []
    engine = sessions.kw["bind"]

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with unit_of_work(sessions) as uow:
            raced = reminders.status_update_due(uow, domain, incident_id)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert raced is None  # 23 minutes since the last update: not due on a 30-minute cadence
    reads = [s for s in statements if "FROM timeline_events" in s]
    # A storm's incident has tens of thousands of entries: the reminder reads one.
    assert reads and all("LIMIT" in s for s in reads), reads
    clock.advance(timedelta(minutes=8))
    with unit_of_work(sessions) as uow:
        due = reminders.status_update_due(uow, domain, incident_id)
    assert notices_of(due) == [StatusUpdateDue(elapsed_seconds=31 * 60, since_last_update=True)]
