"""The incident snapshot: the one place the card, API, webhooks and postmortem read facts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from bot.incidents.snapshot import MilestoneEdit, snapshot, snapshots
from playbooks import Credit
from storage.db import transaction
from storage.models import Incident
from tests.bot.incidents.conftest import reference_alert

DECLARED = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)  # 17:56 HKT


def load(sessions, incident_id: int):
    with sessions() as session:
        found = snapshot(session, incident_id)
        assert found is not None
        return found


def declare(run, text: str = "declare Spot trading errors sev2", actor: str = "U0ALICE") -> int:
    outcome = run(text, actor=actor)
    assert outcome.incident is not None
    return outcome.incident.id


def test_a_stage_with_two_of_three_tasks_done_says_which(run, sessions, clock) -> None:
    incident_id = declare(run)
    run("task done 1", incident_id)
    run("task done 3", incident_id)

    found = load(sessions, incident_id)
    assert found.stage is not None
    assert (found.stage.id, found.stage.title, found.stage.entered_at) == (
        "detect",
        "Detect",
        DECLARED,
    )
    assert [(t.n, t.text, t.done) for t in found.stage.tasks] == [
        (1, "Confirm the alert shows real customer impact, not a monitoring fault", True),
        (2, "Set the severity with /incident sev", False),
        (3, "Acknowledge with /incident ack so the paging stops", True),
    ]
    # Ticked by hand: by whom and when is kept.
    assert found.stage.tasks[0].credit == Credit(at=DECLARED, actor="U0ALICE")
    # Every stage of the playbook is there, in order; only the first was entered.
    assert [s.id for s in found.stages] == [
        "detect",
        "respond",
        "identify",
        "repair",
        "restore",
        "review",
    ]
    assert found.stages[0] == found.stage
    assert [s.entered_at for s in found.stages[1:]] == [None] * 5
    assert found.stages[1].timebox == timedelta(minutes=15)
    assert not any(task.done for stage in found.stages[1:] for task in stage.tasks)


def test_a_backdated_start_is_the_start_and_keeps_the_time_it_replaced(
    run, sessions, clock
) -> None:
    incident_id = declare(run)
    clock.advance(timedelta(minutes=10))
    run("time started 17:50", incident_id, actor="U0BOB")

    found = load(sessions, incident_id)
    backdated = datetime(2021, 3, 10, 9, 50, tzinfo=UTC)
    assert found.started_at == backdated
    started = found.milestones["started"]
    assert (started.at, started.source, started.actor) == (backdated, "backdate", "U0BOB")
    assert started.history == (
        MilestoneEdit(at=DECLARED, source="command", actor="U0ALICE", replaced_at=clock.now()),
    )
    # Milestones come in the order they happened: the backdated start is now first.
    assert list(found.milestones) == ["started", "declared", "detected"]
    assert found.milestone_times == {
        "started": backdated,
        "declared": DECLARED,
        "detected": DECLARED,
    }


def test_a_backdated_resolution_is_the_resolution_time_until_reopened(run, sessions, clock) -> None:
    incident_id = declare(run)
    clock.advance(timedelta(minutes=19))
    run("resolve restarted", incident_id)
    assert load(sessions, incident_id).resolved_at == clock.now()

    clock.advance(timedelta(minutes=5))
    run("time resolved 18:12", incident_id)
    corrected = datetime(2021, 3, 10, 10, 12, tzinfo=UTC)
    assert load(sessions, incident_id).resolved_at == corrected
    # The mitigation only the resolve recorded moved with it: the window still adds up.
    assert load(sessions, incident_id).milestones["mitigated"].at == corrected
    with sessions() as session:  # the column still holds when `resolve` was typed
        assert session.get(Incident, incident_id).resolved_at == corrected + timedelta(minutes=3)

    run("reopen", incident_id)
    found = load(sessions, incident_id)
    assert (found.status, found.resolved_at) == ("investigating", None)
    assert "resolved" not in found.milestones


def test_a_role_handed_over_belongs_to_its_latest_holder(run, sessions, clock) -> None:
    incident_id = declare(run)
    clock.advance(timedelta(minutes=1))
    run("ack", incident_id, actor="U0BOB")  # takes command, nobody holding it
    assert load(sessions, incident_id).commander == "U0BOB"

    clock.advance(timedelta(minutes=1))
    run("role scribe <@U0DAVE>", incident_id, actor="U0BOB")
    run("role commander <@U0CAROL>", incident_id, actor="U0BOB")

    found = load(sessions, incident_id)
    assert found.commander == "U0CAROL"
    assert dict(found.roles) == {"commander": "U0CAROL", "scribe": "U0DAVE"}


def test_alert_links_are_the_web_links_among_the_first_five_alerts_with_one(
    ingest, sessions
) -> None:
    urls = [
        "https://grafana.example/d/1",
        None,
        "javascript:alert(1)",
        "http://prometheus.example/graph",
        "https://grafana.example/d/2",
        "https://grafana.example/d/3",
        "https://grafana.example/d/4",  # the sixth with a URL: past what a card shows
    ]
    for n, url in enumerate(urls):
        result = ingest(reference_alert(fingerprint=f"f{n}", url=url))
    incident_id = result.incident_id

    found = load(sessions, incident_id)
    assert found.alert_links == (
        "https://grafana.example/d/1",
        "http://prometheus.example/graph",
        "https://grafana.example/d/2",
        "https://grafana.example/d/3",
    )
    # An alert's start is when impact started.
    assert found.started_at == datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    assert found.milestones["started"].source == "alert"


def test_an_incident_without_playbook_or_milestones_starts_at_its_declaration(
    sessions, clock
) -> None:
    with transaction(sessions) as session:
        row = Incident(
            title="Imported",
            severity="sev3",
            playbook_id="default",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(row)
        session.flush()
        incident_id = row.id

    found = load(sessions, incident_id)
    assert (found.started_at, found.resolved_at) == (clock.now(), None)
    assert (found.stage, found.stages, dict(found.milestones), dict(found.roles)) == (
        None,
        (),
        {},
        {},
    )
    assert (found.commander, found.alert_links) == (None, ())


def test_no_snapshot_of_an_incident_that_does_not_exist(sessions) -> None:
    with sessions() as session:
        assert snapshot(session, 4242) is None
        assert snapshots(session, []) == []


def test_many_incidents_load_in_as_many_queries_as_one(
    run, ingest, sessions, engine, clock
) -> None:
    ids = []
    for n in range(6):
        result = ingest(
            reference_alert(
                fingerprint=f"f{n}", group_key=f"group-{n}", url=f"https://grafana.example/{n}"
            )
        )
        incident_id = result.incident_id
        run("ack", incident_id, actor=f"U0RESP{n}")
        run(f"task done {n % 3 + 1}", incident_id, actor=f"U0RESP{n}")
        clock.advance(timedelta(minutes=1))
        ids.append(incident_id)

    def loaded(wanted: list[int]) -> tuple[list, int]:
        statements: list[str] = []

        def count(*args) -> None:
            statements.append(args[2])

        with sessions() as session:
            rows = list(
                session.scalars(
                    select(Incident).where(Incident.id.in_(wanted)).order_by(Incident.id)
                )
            )
            event.listen(engine, "before_cursor_execute", count)
            try:
                found = snapshots(session, rows)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return found, len(statements)

    one, one_queries = loaded(ids[:1])
    many, many_queries = loaded(ids)
    assert many_queries == one_queries <= 4  # milestones, roles, alert links, senders
    assert many[0] == one[0]
    # Each incident got its own facts, not a neighbour's.
    assert [s.id for s in many] == ids
    assert [s.commander for s in many] == [f"U0RESP{n}" for n in range(6)]
    assert [s.alert_links for s in many] == [(f"https://grafana.example/{n}",) for n in range(6)]
    assert [(s.source, s.alert_names) for s in many] == [
        ("alertmanager", ("MatchingEngineErrors",))
    ] * 6
    assert [[t.done for t in s.stage.tasks] for s in many] == [
        [n % 3 == k for k in range(len(s.stage.tasks))] for n, s in enumerate(many)
    ]
    # And they are what loading each alone gives.
    assert many == [load(sessions, incident_id) for incident_id in ids]
