import json
from datetime import UTC, datetime, timedelta

import pytest

from playbooks import (
    CancelTimebox,
    Escalate,
    GoToStage,
    MilestoneReached,
    NextStage,
    Page,
    Playbook,
    PlaybookError,
    PlaybookState,
    Post,
    ScheduleTimebox,
    StageEntered,
    StatusPage,
    TaskCompleted,
    TaskDone,
    TimeboxExpired,
    TimeboxReminder,
    Webhook,
    apply,
    bundled_dir,
    load_dir,
    start,
)

T0 = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)  # 17:56 HKT


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def trading() -> Playbook:
    return load_dir(bundled_dir()).get("trading-engine-outage")


@pytest.fixture
def book() -> Playbook:
    return Playbook.model_validate(
        {
            "id": "book",
            "title": "Book",
            "stages": [
                {"id": "one", "title": "One", "tasks": ["first", "second"]},
                {
                    "id": "two",
                    "title": "Two",
                    "enter_on": "acknowledged",
                    "timebox": "5m",
                    "on_enter": [
                        {"post": "hello"},
                        {"page": "pagerduty"},
                        {"statuspage": "investigating"},
                        {"webhook": "https://hooks.example.com/x"},
                    ],
                },
                {"id": "three", "title": "Three", "enter_on": "identified"},
                {"id": "four", "title": "Four", "enter_on": "identified"},
                {"id": "five", "title": "Five", "enter_on": "acknowledged"},
            ],
        }
    )


def test_start_enters_the_first_stage(trading):
    state, effects = start(trading, T0)
    assert state.stage == "detect"
    assert state.entered_at == {"detect": T0}
    assert effects == [StageEntered("detect", "Detect")]


def test_entering_a_stage_runs_on_enter_and_schedules_its_timebox(trading):
    state, _ = start(trading, T0)
    state, effects = apply(trading, state, MilestoneReached("acknowledged", at(1)))
    assert state.stage == "respond"
    assert state.milestones == {"acknowledged": at(1)}
    assert effects == [
        StageEntered("respond", "Emergency response"),
        Post("Emergency response protocol started."),
        Page("pagerduty"),
        StatusPage(
            "investigating",
            "Spot and margin trading is intermittently unavailable. We are investigating.",
        ),
        ScheduleTimebox("respond", at(6)),
    ]


def test_leaving_a_timeboxed_stage_cancels_its_timebox(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("two", at(1)))
    state, effects = apply(book, state, NextStage(at(2)))
    assert state.stage == "three"
    assert effects == [CancelTimebox("two"), StageEntered("three", "Three")]


def test_webhook_effect(book):
    state, _ = start(book, T0)
    _, effects = apply(book, state, NextStage(at(1)))
    assert Webhook("https://hooks.example.com/x", "two", "Two") in effects


def test_milestone_moves_to_the_last_stage_that_enters_on_it(book):
    state, _ = start(book, T0)
    state, effects = apply(book, state, MilestoneReached("identified", at(3)))
    assert state.stage == "four"
    assert effects == [StageEntered("four", "Four")]


def test_milestone_never_moves_backwards(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("four", at(1)))
    state, effects = apply(book, state, MilestoneReached("identified", at(2)))
    assert (state.stage, effects) == ("four", [])
    # "five" enters on acknowledged and is after "four": that one moves forward.
    state, effects = apply(book, state, MilestoneReached("acknowledged", at(3)))
    assert state.stage == "five"
    assert effects == [StageEntered("five", "Five")]
    assert state.milestones == {"identified": at(2), "acknowledged": at(3)}


def test_milestone_without_a_stage_is_recorded_only(book):
    state, _ = start(book, T0)
    new_state, effects = apply(book, state, MilestoneReached("detected", at(1)))
    assert (new_state.stage, effects) == ("one", [])
    assert new_state.milestones == {"detected": at(1)}


def test_a_milestone_keeps_its_first_time(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, MilestoneReached("detected", at(1)))
    state, _ = apply(book, state, MilestoneReached("detected", at(9)))
    assert state.milestones == {"detected": at(1)}


def test_unknown_milestone_is_an_error(book):
    state, _ = start(book, T0)
    with pytest.raises(PlaybookError, match="'fixed' is not a milestone"):
        apply(book, state, MilestoneReached("fixed", at(1)))


def test_the_reference_incident_walks_the_trading_playbook(trading):
    state, _ = start(trading, at(0))
    state, _ = apply(trading, state, MilestoneReached("detected", at(0)))
    assert state.stage == "detect"
    state, _ = apply(trading, state, MilestoneReached("acknowledged", at(1)))
    assert state.stage == "respond"
    state, effects = apply(trading, state, MilestoneReached("identified", at(9)))
    assert state.stage == "identify"
    assert effects[0] == CancelTimebox("respond")
    state, effects = apply(trading, state, NextStage(at(11)))
    assert state.stage == "repair"
    assert effects[1] == StageEntered("repair", "Repair and restart")
    state, _ = apply(trading, state, TaskDone(1, at(11)))
    state, effects = apply(trading, state, MilestoneReached("mitigated", at(19)))
    assert state.stage == "restore"
    assert (
        StatusPage(
            "monitoring", "Trading has been restored. We are monitoring the matching engine."
        )
        in effects
    )
    state, _ = apply(trading, state, MilestoneReached("resolved", at(30)))
    assert state.stage == "review"
    assert state.done("repair") == {1}


def test_next_stage_at_the_last_stage_is_an_error(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("five", at(1)))
    with pytest.raises(PlaybookError) as excinfo:
        apply(book, state, NextStage(at(2)))
    assert str(excinfo.value) == "stage 'five' is the last stage of 'book'"


def test_go_to_any_stage_even_backwards(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("four", at(1)))
    state, effects = apply(book, state, GoToStage("one", at(2)))
    assert state.stage == "one"
    assert state.entered_at == {"one": at(2), "four": at(1)}
    assert effects == [StageEntered("one", "One")]


def test_go_to_an_unknown_stage_is_an_error(book):
    state, _ = start(book, T0)
    with pytest.raises(PlaybookError) as excinfo:
        apply(book, state, GoToStage("six", at(1)))
    assert str(excinfo.value) == (
        "no stage 'six' in playbook 'book'; stages are: one, two, three, four, five"
    )


def test_go_to_the_current_stage_is_an_error(book):
    state, _ = start(book, T0)
    with pytest.raises(PlaybookError, match="already in stage 'one'"):
        apply(book, state, GoToStage("one", at(1)))


def test_task_done(book):
    state, _ = start(book, T0)
    state, effects = apply(book, state, TaskDone(2, at(1)))
    assert effects == [TaskCompleted("one", 2, "second")]
    assert state.done("one") == {2}
    state, effects = apply(book, state, TaskDone(1, at(2)))
    assert state.done("one") == {1, 2}
    # Done twice (a retried command): nothing new happens.
    again, effects = apply(book, state, TaskDone(1, at(3)))
    assert (again, effects) == (state, [])


@pytest.mark.parametrize("n", [0, 3, -1])
def test_task_number_out_of_range_is_an_error(book, n):
    state, _ = start(book, T0)
    with pytest.raises(PlaybookError) as excinfo:
        apply(book, state, TaskDone(n, at(1)))
    assert str(excinfo.value) == f"stage 'one' has tasks 1 to 2; there is no task {n}"


def test_task_done_in_a_stage_without_tasks_is_an_error(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, NextStage(at(1)))
    with pytest.raises(PlaybookError, match="stage 'two' has no tasks"):
        apply(book, state, TaskDone(1, at(2)))


def test_timebox_reminds_then_escalates_on_second_expiry(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("two", at(1)))
    state, effects = apply(book, state, TimeboxExpired("two", at(6.5)))
    assert effects == [
        TimeboxReminder("two", timedelta(seconds=30)),
        ScheduleTimebox("two", at(11.5)),
    ]
    state, effects = apply(book, state, TimeboxExpired("two", at(11.5)))
    assert effects == [Escalate("two")]
    state, effects = apply(book, state, TimeboxExpired("two", at(16.5)))
    assert effects == []


def test_re_entering_a_stage_restarts_its_timebox_count(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("two", at(1)))
    state, _ = apply(book, state, TimeboxExpired("two", at(6)))
    state, _ = apply(book, state, GoToStage("one", at(7)))
    state, _ = apply(book, state, GoToStage("two", at(8)))
    _, effects = apply(book, state, TimeboxExpired("two", at(13)))
    assert effects == [TimeboxReminder("two", timedelta(0)), ScheduleTimebox("two", at(18))]


def test_stale_timebox_of_a_stage_already_left_does_nothing(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, GoToStage("two", at(1)))
    state, _ = apply(book, state, NextStage(at(2)))
    new_state, effects = apply(book, state, TimeboxExpired("two", at(6)))
    assert (new_state, effects) == (state, [])


def test_state_snapshot_round_trips_through_json(book):
    state, _ = start(book, T0)
    state, _ = apply(book, state, TaskDone(2, at(1)))
    state, _ = apply(book, state, MilestoneReached("detected", at(2)))
    state, _ = apply(book, state, GoToStage("two", at(2)))
    state, _ = apply(book, state, TimeboxExpired("two", at(7)))
    snapshot = json.loads(json.dumps(state.snapshot()))
    assert snapshot["tasks_done"] == {"one": [2]}
    assert snapshot["stage"] == "two"
    assert snapshot["timebox_expiries"] == {"one": 0, "two": 1}
    assert snapshot["milestones"] == {"detected": "2021-03-10T09:58:00Z"}
    assert PlaybookState.from_snapshot(snapshot) == state


def test_events_do_not_change_the_state_they_are_given(book):
    state, _ = start(book, T0)
    before = state.snapshot()
    apply(book, state, TaskDone(1, at(1)))
    apply(book, state, NextStage(at(1)))
    assert state.snapshot() == before
