"""Every `/incident` verb: its timeline entry, milestone and source, effects, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.incidents.commands import parse_command
from bot.incidents.errors import DomainError
from bot.incidents.service import execute
from bot.incidents.views import Entry, TasksShown, TimelineShown, is_bookkeeping, timeline
from storage.models import Followup, Incident, RoleAssignment, TimelineEvent
from storage.unit_of_work import unit_of_work


def kinds(ops) -> list[str]:
    return [op.kind for op in ops]


@pytest.fixture
def incident_id(run) -> int:
    """A declared sev2 on the default playbook, at 17:56 HKT."""
    outcome = run("declare Spot trading errors sev2")
    assert outcome.incident is not None
    return outcome.incident.id


def test_declare_opens_an_incident_with_its_channel_card_and_milestones(run, store, clock) -> None:
    outcome = run("declare Spot trading errors sev1", actor="U0BOB")
    incident = store.incident(outcome.incident.id)
    assert (incident.title, incident.severity, incident.status) == (
        "Spot trading errors",
        "sev1",
        "investigating",
    )
    assert incident.channel_name == "inc-20210310-spot-trading-errors"
    assert incident.playbook_id == "default"
    assert incident.playbook_snapshot["id"] == "default"
    milestones = store.milestones(incident.id)
    assert {name: (m.at, m.source, m.actor) for name, m in milestones.items()} == {
        name: (clock.now(), "command", "U0BOB") for name in ("started", "detected", "declared")
    }
    ops = kinds(store.outbox(incident.id))
    assert ops[:3] == ["channel.open", "card.post", "broadcast.post"]
    assert "pagerduty.event" in ops  # sev1 pages
    opened = store.outbox(incident.id)[0].payload
    assert opened["name"] == "inc-20210310-spot-trading-errors"
    assert store.events(incident.id)[0].text == "Incident declared: Spot trading errors (sev1)"


def test_declare_can_name_its_playbook(run, store) -> None:
    outcome = run("declare Matching engine drill sev2 playbook:trading-engine-outage")
    incident = store.incident(outcome.incident.id)
    assert (incident.playbook_id, incident.severity) == ("trading-engine-outage", "sev2")
    with pytest.raises(DomainError, match="No playbook `nope`; known: "):
        run("declare Something playbook:nope")


def test_declare_without_title_is_refused_and_stores_nothing(run, store) -> None:
    with pytest.raises(DomainError, match="needs a title"):
        run("declare")
    assert store.incidents() == []


def test_ack_sets_the_milestone_makes_a_commander_and_is_not_repeatable(
    run, store, clock, incident_id
) -> None:
    clock.advance(timedelta(minutes=1))
    outcome = run("ack", incident_id, actor="U0BOB")
    assert outcome.reply == "acknowledged the incident"
    ack = store.milestones(incident_id)["acknowledged"]
    assert (ack.at, ack.source, ack.actor) == (clock.now(), "command", "U0BOB")
    events = store.events(incident_id)
    assert [e.kind for e in events if e.actor == "U0BOB"][:2] == ["ack", "role"]
    assert "card.update" in kinds(outcome.effects)
    before = len(store.events(incident_id))
    with pytest.raises(DomainError, match="Already acknowledged by U0BOB"):
        run("ack", incident_id, actor="U0CAROL")
    assert len(store.events(incident_id)) == before


def test_the_commander_an_ack_makes_ticks_off_the_assign_a_commander_task(
    run, store, incident_id
) -> None:
    run("ack", incident_id, actor="U0BOB")
    respond = run("tasks", incident_id).shown
    assert respond.tasks[0] == (1, "Assign a commander with /incident role commander", True)
    assert "task 1 done: Assign a commander with /incident role commander (by /incident ack)" in [
        e.text for e in store.events(incident_id)
    ]
    assert not any(done for _, _, done in respond.tasks[1:])


def test_an_ack_after_a_commander_was_named_takes_no_command_and_no_credit(
    run, store, incident_id
) -> None:
    run("role commander @carol", incident_id)
    run("ack", incident_id, actor="U0BOB")
    texts = [e.text for e in store.events(incident_id)]
    assert [t for t in texts if t.startswith("commander is now")] == ["commander is now @carol"]
    assert not any("(by /incident ack)" in t for t in texts)


def test_sev_changes_severity_and_pages_when_raised(run, store, incident_id) -> None:
    outcome = run("sev 1", incident_id)
    assert store.incident(incident_id).severity == "sev1"
    # The default playbook's "Set the severity" task is done by this very command.
    assert [e.text for e in store.events(incident_id)][-2:] == [
        "severity sev2 → sev1",
        "task 2 done: Set the severity with /incident sev (by /incident sev)",
    ]
    assert kinds(outcome.effects) == [
        "message.post",
        "webhook.send",
        "channel.describe",
        "card.update",
        "card.update",
    ]
    outcome = run("sev 3", incident_id)
    assert "pagerduty.event" not in kinds(outcome.effects)
    with pytest.raises(DomainError, match="already sev3"):
        run("sev 3", incident_id)


def test_sev_raise_from_sev3_pages(run, store) -> None:
    incident_id = run("declare Minor glitch sev3").incident.id
    outcome = run("sev 1", incident_id)
    assert {"kind": "pagerduty.event", "action": "trigger"} in [
        {"kind": e.kind, "action": getattr(e, "action", None)} for e in outcome.effects
    ]


def test_status_identified_and_monitoring_set_milestones(run, store, clock, incident_id) -> None:
    clock.advance(timedelta(minutes=9))
    run("status identified failed internal dependency", incident_id)
    clock.advance(timedelta(minutes=2))
    run("status monitoring", incident_id)
    milestones = store.milestones(incident_id)
    assert milestones["identified"].at == datetime(2021, 3, 10, 10, 5, tzinfo=UTC)
    assert milestones["mitigated"].at == datetime(2021, 3, 10, 10, 7, tzinfo=UTC)
    texts = [e.text for e in store.events(incident_id) if e.kind == "status"]
    assert texts == [
        "status investigating → identified: failed internal dependency",
        "status identified → monitoring",
    ]
    assert store.incident(incident_id).status == "monitoring"
    with pytest.raises(DomainError, match="already monitoring"):
        run("status monitoring", incident_id)


def test_update_is_recorded_broadcast_and_resets_the_reminder(run, store, incident_id) -> None:
    outcome = run("update Restart in progress, ETA 10 minutes", incident_id)
    event = store.events(incident_id)[-1]
    assert (event.kind, event.text, event.actor) == (
        "update",
        "Restart in progress, ETA 10 minutes",
        "U0ALICE",
    )
    assert kinds(outcome.effects) == ["message.post", "broadcast.post", "schedule.set"]
    assert outcome.reply == "Status update: Restart in progress, ETA 10 minutes"
    echo = [op for op in store.outbox(incident_id) if op.kind == "message.post"][-1]
    assert echo.payload == {
        "incident_id": incident_id,
        "text": "Status update: Restart in progress, ETA 10 minutes",
        "actor": "U0ALICE",
    }


def test_note_is_a_timeline_entry(run, store, incident_id) -> None:
    run("note error rate climbing on spot", incident_id, actor="U0CAROL")
    event = store.events(incident_id)[-1]
    assert (event.kind, event.text, event.actor, event.source) == (
        "note",
        "error rate climbing on spot",
        "U0CAROL",
        "command",
    )


def test_log_backdates_in_the_team_time_zone(run, store, clock, incident_id) -> None:
    clock.advance(timedelta(minutes=20))  # 18:16 HKT
    outcome = run("log 18:05 failed internal dependency identified", incident_id)
    event = store.events(incident_id)[-1]
    assert event.occurred_at == datetime(2021, 3, 10, 10, 5, tzinfo=UTC)
    assert event.recorded_at == clock.now()
    assert event.source == "backdate"
    assert outcome.reply == "Logged at 18:05: failed internal dependency identified"


def test_log_just_after_midnight_means_yesterday(run, store, clock) -> None:
    clock.set(datetime(2021, 3, 10, 16, 5, tzinfo=UTC))  # 00:05 HKT on the 11th
    incident_id = run("declare Late night").incident.id
    run("log 23:50 first error seen", incident_id)
    assert store.events(incident_id)[-1].occurred_at == datetime(2021, 3, 10, 15, 50, tzinfo=UTC)


def test_log_in_the_future_is_refused(run, store, incident_id) -> None:
    before = len(store.events(incident_id))
    with pytest.raises(DomainError, match="2021-03-10 18:30 is in the future"):
        run("time identified 2021-03-10 18:30", incident_id)
    assert len(store.events(incident_id)) == before


def test_time_corrects_a_milestone_and_keeps_its_history(run, store, clock, incident_id) -> None:
    clock.advance(timedelta(minutes=30))
    run("time started 17:55", incident_id, actor="U0BOB")
    started = store.milestones(incident_id)["started"]
    assert (started.at, started.source, started.actor) == (
        datetime(2021, 3, 10, 9, 55, tzinfo=UTC),
        "backdate",
        "U0BOB",
    )
    assert started.history == [
        {
            "at": "2021-03-10T09:56:00+00:00",
            "source": "command",
            "actor": "U0ALICE",
            "replaced_at": clock.now().isoformat(),
        }
    ]
    assert store.events(incident_id)[-1].text == "started set to 2021-03-10 17:55"


def test_time_resolved_on_an_open_incident_is_refused(run, incident_id) -> None:
    with pytest.raises(DomainError, match="not resolved"):
        run("time resolved 17:50", incident_id)


def test_role_assigns_and_invites(run, store, sessions, incident_id) -> None:
    outcome = run("role comms <@U0DAVE|dave>", incident_id)
    with sessions() as session:
        rows = session.exec(
            select(RoleAssignment).where(RoleAssignment.incident_id == incident_id)
        ).all()
        assert [(r.role, r.user) for r in rows] == [("comms", "U0DAVE")]
    invite = next(e for e in outcome.effects if e.kind == "channel.invite")
    assert invite.users == ("U0DAVE",)
    assert store.events(incident_id)[-1].text == "comms is now U0DAVE"


def test_stage_and_tasks_follow_the_playbook(run, store, incident_id) -> None:
    shown = run("tasks", incident_id)
    assert isinstance(shown.shown, TasksShown) and shown.shown.stage and shown.effects == []
    stage_before = store.incident(incident_id).playbook_state["stage"]
    outcome = run("stage next", incident_id)
    stage_after = store.incident(incident_id).playbook_state["stage"]
    assert stage_after != stage_before
    assert outcome.reply.startswith("Stage: *")
    assert store.events(incident_id)[-1].kind == "stage"
    with pytest.raises(
        DomainError, match=r"no stage|not a stage|unknown stage|no such stage|has no"
    ):
        run("stage nowhere", incident_id)


def test_task_done_ticks_the_checklist(run, store, catalog) -> None:
    incident_id = run("drill trading-engine-outage").incident.id
    run("ack", incident_id)  # enters "respond", which has tasks
    outcome = run("task done 1", incident_id)
    assert outcome.reply == "Task 1 done"
    event = store.events(incident_id)[-1]
    assert (event.kind, event.text) == ("task", "task 1 done: Page the matching-engine on-call")
    checklist = run("tasks", incident_id).shown
    assert isinstance(checklist, TasksShown)
    assert checklist.tasks[0] == (1, "Page the matching-engine on-call", True)
    assert not any(done for _, _, done in checklist.tasks[1:])
    with pytest.raises(DomainError, match="already done"):
        run("task done 1", incident_id)
    with pytest.raises(DomainError, match="no task 9"):
        run("task done 9", incident_id)


def test_impact_and_cause_are_kept_on_the_incident(run, store, incident_id) -> None:
    run("impact API users got error 30030", incident_id)
    run("cause internal dependency of the matching engine failed", incident_id)
    incident = store.incident(incident_id)
    assert incident.impact == "API users got error 30030"
    assert incident.cause == "internal dependency of the matching engine failed"
    assert [e.kind for e in store.events(incident_id)][-2:] == ["impact", "cause"]


def test_action_items_are_stored_with_owner(run, sessions, incident_id) -> None:
    run("action Multi-region redundancy <@U0BOB>", incident_id)
    run("action Review affected customers", incident_id)
    with sessions() as session:
        rows = session.exec(select(Followup).where(Followup.incident_id == incident_id)).all()
    assert [(r.number, r.text, r.owner, r.status) for r in rows] == [
        (1, "Multi-region redundancy", "U0BOB", "open"),
        (2, "Review affected customers", None, "open"),
    ]


def test_mitigate_then_resolve_closes_and_drafts_the_postmortem(
    run, store, clock, incident_id
) -> None:
    clock.advance(timedelta(minutes=11))
    run("mitigate restart done", incident_id)
    assert store.incident(incident_id).status == "monitoring"
    with pytest.raises(DomainError, match="Already mitigated at 18:07"):
        run("mitigate", incident_id)
    clock.advance(timedelta(minutes=8))
    outcome = run("resolve service restored", incident_id)
    incident = store.incident(incident_id)
    assert (incident.status, incident.resolved_at) == ("resolved", clock.now())
    milestones = store.milestones(incident_id)
    assert milestones["mitigated"].at == datetime(2021, 3, 10, 10, 7, tzinfo=UTC)
    assert milestones["resolved"].at == datetime(2021, 3, 10, 10, 15, tzinfo=UTC)
    assert {"postmortem.post", "schedule.clear", "card.update"} <= set(kinds(outcome.effects))
    echoes = [op.payload["text"] for op in store.outbox(incident_id) if op.payload.get("actor")]
    assert echoes[-1] == "Incident resolved. The postmortem draft follows."
    with pytest.raises(DomainError, match="resolved; `reopen` it"):
        run("ack", incident_id)


def test_status_resolved_is_resolve(run, store, incident_id) -> None:
    run("status resolved fixed", incident_id)
    assert store.incident(incident_id).status == "resolved"
    assert "resolved" in store.milestones(incident_id)


def test_reopen_restores_and_refuses_an_open_incident(run, store, incident_id) -> None:
    with pytest.raises(DomainError, match="is not resolved"):
        run("reopen", incident_id)
    run("resolve", incident_id)
    run("reopen", incident_id)
    incident = store.incident(incident_id)
    assert (incident.status, incident.resolved_at) == ("investigating", None)
    assert "resolved" not in store.milestones(incident_id)
    assert store.events(incident_id)[-1].kind == "reopened"


def test_timeline_shows_entries_in_local_time(run, clock, incident_id) -> None:
    clock.advance(timedelta(minutes=1))
    run("note first look", incident_id)
    shown = run("timeline", incident_id).shown
    assert isinstance(shown, TimelineShown) and shown.zone == "Asia/Hong_Kong"
    assert shown.entries[-1] == Entry("17:57", "note", "first look", "U0ALICE")


def test_the_timeline_command_leaves_delivery_bookkeeping_out(
    run, sessions, clock, incident_id
) -> None:
    clock.advance(timedelta(minutes=1))
    with unit_of_work(sessions) as uow:
        at = clock.now()
        uow.session.add(
            TimelineEvent(
                incident_id=incident_id,
                occurred_at=at,
                recorded_at=at,
                kind="integration",
                text="Webhook incident.opened delivered (200)",
                data={"integration": "webhook", "ok": True},
                source="system",
            )
        )
    run("note after the delivery", incident_id)
    texts = [entry.text for entry in run("timeline", incident_id).shown.entries]
    assert texts[-1] == "after the delivery"
    assert not any("Webhook" in text for text in texts)


def test_statuspage_queues_only_the_public_text(run, store, incident_id) -> None:
    run("note internal: db password rotated", incident_id)
    outcome = run("statuspage investigating We are investigating trading errors", incident_id)
    page = next(e for e in outcome.effects if e.kind == "statuspage.update")
    assert (page.status, page.text) == ("investigating", "We are investigating trading errors")


def test_postmortem_regenerates(run, incident_id) -> None:
    outcome = run("postmortem", incident_id)
    assert kinds(outcome.effects) == ["message.post", "postmortem.post", "webhook.send"]


def test_drill_runs_a_playbook_without_paging(run, store) -> None:
    outcome = run("drill trading-engine-outage")
    incident = store.incident(outcome.incident.id)
    assert incident.drill and incident.playbook_id == "trading-engine-outage"
    assert incident.channel_name == "drill-inc-20210310-trading-engine-outage"
    assert "pagerduty.event" not in kinds(store.outbox(incident.id))
    with pytest.raises(DomainError, match="No playbook `nope`"):
        run("drill nope")


def test_help_lists_every_verb(run) -> None:
    text = run("help").private
    for verb in ("declare", "ack", "maintenance", "statuspage", "drill", "reopen"):
        assert f"`/incident {verb}" in text


def test_commands_outside_an_incident_channel_are_refused(run) -> None:
    with pytest.raises(DomainError, match="works in an incident channel"):
        run("ack")


def test_a_retried_delivery_records_nothing_twice(run, store, incident_id) -> None:
    run("note once", incident_id, key="trigger-1")
    again = run("note once", incident_id, key="trigger-1")
    assert again.duplicate
    assert [e.text for e in store.events(incident_id)].count("once") == 1


def test_a_refused_command_changes_nothing(sessions, domain, store, incident_id) -> None:
    before = (len(store.events(incident_id)), len(store.outbox(incident_id)))
    with pytest.raises(DomainError), unit_of_work(sessions) as uow:
        incident = uow.session.get(Incident, incident_id)
        execute(
            uow,
            domain,
            parse_command("status resolved"),
            incident=incident,
            actor="U0ALICE",
        )
        execute(uow, domain, parse_command("resolve"), incident=incident, actor="U0ALICE")
    assert (len(store.events(incident_id)), len(store.outbox(incident_id))) == before
    assert store.incident(incident_id).status == "investigating"


@pytest.mark.parametrize(
    ("setup", "command", "rule"),
    [
        ([], "time acknowledged 17:50", "acknowledged cannot be before started (2021-03-10 17:56)"),
        ([], "time detected 2021-03-09 18:00", "detected cannot be before started"),
        (["ack"], "time started 17:58", "started cannot be after detected (2021-03-10 17:56)"),
        (["ack"], "time acknowledged 17:55", "acknowledged cannot be before started"),
        (["mitigate", "resolve"], "time resolved 17:57", "resolved cannot be before mitigated"),
        (["ack"], "time acknowledged 2021-03-10 18:40", "is in the future"),
        (["ack", "resolve"], "time mitigated 18:20", "mitigated cannot be after resolved"),
    ],
)
def test_a_milestone_out_of_order_is_refused_naming_the_rule(
    run, store, clock, incident_id, setup, command, rule
) -> None:
    clock.advance(timedelta(minutes=2))
    for verb in setup:
        run(verb, incident_id)
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(minutes=30))
    before = (
        {n: m.at for n, m in store.milestones(incident_id).items()},
        len(store.events(incident_id)),
    )
    with pytest.raises(DomainError) as refused:
        run(command, incident_id)
    assert rule in str(refused.value)
    after = (
        {n: m.at for n, m in store.milestones(incident_id).items()},
        len(store.events(incident_id)),
    )
    assert after == before


def test_a_log_before_the_impact_start_is_kept_with_a_warning(run, store, incident_id) -> None:
    outcome = run("log 16:30 deploy 4512 rolled out", incident_id)
    assert outcome.reply == (
        "Logged at 16:30: deploy 4512 rolled out\n:warning: 16:30 is before the impact "
        "started (2021-03-10 17:56); the entry is kept there, in time order"
    )
    first = min(store.events(incident_id), key=lambda event: event.occurred_at)
    assert (first.text, first.occurred_at) == (
        "deploy 4512 rolled out",
        datetime(2021, 3, 10, 8, 30, tzinfo=UTC),
    )


def test_the_last_resolve_is_the_summary(run, store, clock, incident_id) -> None:
    run("resolve restarted the gateway", incident_id)
    run("reopen", incident_id)
    run("resolve", incident_id)  # no text: the earlier words still stand
    assert store.incident(incident_id).summary == "restarted the gateway"
    run("reopen", incident_id)
    run("resolve rolled back deploy 4512", incident_id)
    assert store.incident(incident_id).summary == "rolled back deploy 4512"


def test_moving_the_resolution_earlier_moves_the_mitigation_it_implied(
    run, store, clock, incident_id
) -> None:
    clock.advance(timedelta(minutes=19))
    run("resolve restarted", incident_id)  # 18:15, mitigated with it
    clock.advance(timedelta(minutes=5))
    outcome = run("time resolved 18:12", incident_id)
    assert outcome.reply == (
        "Milestone *resolved* set to 2021-03-10 18:12 "
        "(and *mitigated*, which the resolve had set with it)"
    )
    marks = store.milestones(incident_id)
    assert (
        marks["mitigated"].at == marks["resolved"].at == datetime(2021, 3, 10, 10, 12, tzinfo=UTC)
    )
    assert [e.text for e in store.events(incident_id) if e.kind == "time"] == [
        "resolved set to 2021-03-10 18:12",
        "mitigated set to 2021-03-10 18:12",
    ]


def test_the_timeline_command_dates_only_rows_off_the_start_day(run, clock, incident_id) -> None:
    run("log 23:59 the day before: deploy 4512", incident_id)  # 2021-03-09, HKT
    clock.set(datetime(2021, 3, 10, 16, 5, tzinfo=UTC))  # 00:05 HKT on the 11th
    run("note still failing after midnight", incident_id)
    shown = run("timeline", incident_id).shown
    assert isinstance(shown, TimelineShown)
    when = {entry.text: entry.when for entry in shown.entries}
    assert when["the day before: deploy 4512"] == "2021-03-09 23:59"
    assert when["Incident declared: Spot trading errors (sev2)"] == "17:56"
    assert when["still failing after midnight"] == "2021-03-11 00:05"


def test_the_timeline_command_shows_the_last_responses_past_a_run_of_bookkeeping(
    run, sessions, clock, incident_id
) -> None:
    # 60 notes, then 450 webhook deliveries and retried tries (more than one read of the
    # newest entries holds) with a failed delivery and a page's outcome among them.
    clock.advance(timedelta(minutes=1))
    at = clock.now()

    def entry(n: int, kind: str, data: dict, text: str) -> TimelineEvent:
        when = at + timedelta(seconds=n)
        return TimelineEvent(
            incident_id=incident_id,
            occurred_at=when,
            recorded_at=when,
            kind=kind,
            text=text,
            data=data,
            source="system" if kind != "note" else "command",
        )

    with unit_of_work(sessions) as uow:
        for n in range(60):
            uow.session.add(entry(n, "note", {}, f"note {n}"))
        for n in range(60, 510):
            if n == 300:
                uow.session.add(entry(n, "integration", {"integration": "pagerduty"}, "Paged"))
            elif n % 2:
                hook = {"integration": "webhook", "ok": True}
                uow.session.add(entry(n, "integration", hook, "Webhook delivered"))
            else:
                retried = {"integration": "statuspage", "ok": False, "retry": True}
                uow.session.add(entry(n, "integration", retried, "Statuspage try failed"))
    shown = run("timeline", incident_id).shown
    with sessions() as session:
        everything = [
            e for e in timeline(session, incident_id) if not is_bookkeeping(e.kind, e.data)
        ]
    assert [e.text for e in shown.entries] == [e.text for e in everything[-50:]]
    assert shown.entries[-1].text == "Paged"
    assert shown.earlier == len(everything) - 50
