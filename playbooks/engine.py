"""Walk an incident through its playbook: pure functions from state and event to effects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from playbooks.errors import PlaybookError
from playbooks.schema import (
    MILESTONES,
    PageEffect,
    Playbook,
    PostEffect,
    Stage,
    StatusPageEffect,
    Task,
    WebhookEffect,
)

# How many times a stage's timebox may expire before the second expiry escalates.
ESCALATE_AFTER = 2


class Credit(BaseModel):
    """What ticked a task off, and when: a milestone (`on`), a command (`by`, its verb), or
    a responder ticking it by hand (neither)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    actor: str | None = None
    on: str | None = None
    by: str | None = None


class PlaybookState(BaseModel):
    """Where an incident stands in its playbook; JSON-able through `snapshot`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str
    entered_at: dict[str, datetime] = Field(default_factory=dict)
    tasks_done: dict[str, frozenset[int]] = Field(default_factory=dict)
    milestones: dict[str, datetime] = Field(default_factory=dict)
    timebox_expiries: dict[str, int] = Field(default_factory=dict)
    # Stage id -> task number -> what did it (states stored before credits had none).
    credits: dict[str, dict[int, Credit]] = Field(default_factory=dict)

    def done(self, stage_id: str) -> frozenset[int]:
        """Return the 1-based numbers of the stage's tasks that are done."""
        return self.tasks_done.get(stage_id, frozenset())

    def credit(self, stage_id: str, n: int) -> Credit | None:
        """What ticked task `n` of a stage off (None if not done, or not known)."""
        return self.credits.get(stage_id, {}).get(n)

    def snapshot(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["tasks_done"] = {key: sorted(value) for key, value in self.tasks_done.items()}
        return data

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> PlaybookState:
        return cls.model_validate(data)


# Events: what happened to the incident.


@dataclass(frozen=True)
class MilestoneReached:
    name: str
    at: datetime
    actor: str | None = None


@dataclass(frozen=True)
class CommandDone:
    """A responder's `/incident <verb> [argument ...]` was recorded."""

    verb: str
    at: datetime
    actor: str | None = None
    argument: str | None = None
    # The verb typed, where a command did what `verb` does (an ack taking command does
    # what `role commander` would): the task's credit names it.
    typed: str | None = None


@dataclass(frozen=True)
class NextStage:
    at: datetime


@dataclass(frozen=True)
class GoToStage:
    stage_id: str
    at: datetime


@dataclass(frozen=True)
class TaskDone:
    n: int
    at: datetime
    actor: str | None = None


@dataclass(frozen=True)
class TimeboxExpired:
    stage_id: str
    at: datetime


Event = MilestoneReached | CommandDone | NextStage | GoToStage | TaskDone | TimeboxExpired

# Effects: what the bot should do about it.


@dataclass(frozen=True)
class Post:
    text: str


@dataclass(frozen=True)
class Page:
    service: str


@dataclass(frozen=True)
class StatusPage:
    status: str
    text: str | None = None


@dataclass(frozen=True)
class Webhook:
    url: str
    stage_id: str = ""
    stage_title: str = ""


@dataclass(frozen=True)
class ScheduleTimebox:
    stage_id: str
    due_at: datetime


@dataclass(frozen=True)
class CancelTimebox:
    stage_id: str


@dataclass(frozen=True)
class StageEntered:
    stage_id: str
    title: str


@dataclass(frozen=True)
class TaskCompleted:
    stage_id: str
    n: int
    text: str
    credit: Credit | None = None


@dataclass(frozen=True)
class TimeboxReminder:
    stage_id: str
    overdue_by: timedelta


@dataclass(frozen=True)
class Escalate:
    stage_id: str


Effect = (
    Post
    | Page
    | StatusPage
    | Webhook
    | ScheduleTimebox
    | CancelTimebox
    | StageEntered
    | TaskCompleted
    | TimeboxReminder
    | Escalate
)


def start(playbook: Playbook, at: datetime) -> tuple[PlaybookState, list[Effect]]:
    """Enter the playbook's first stage."""
    first = playbook.stages[0]
    return _enter(playbook, PlaybookState(stage=first.id), first, at, leaving=None)


def apply(
    playbook: Playbook, state: PlaybookState, event: Event
) -> tuple[PlaybookState, list[Effect]]:
    """Return the state after `event` and the effects it causes; raise PlaybookError if refused."""
    current = playbook.stage(state.stage)
    match event:
        case MilestoneReached(name=name, at=at, actor=actor):
            state, effects = _milestone(playbook, state, current, name, at)
            credit = Credit(at=at, actor=actor, on=name)
            state, ticked = _credit(playbook, state, lambda t: t.done_on == name, credit)
            return state, effects + ticked
        case CommandDone(verb=verb, at=at, actor=actor, argument=argument, typed=typed):
            credit = Credit(at=at, actor=actor, by=typed or verb)
            return _credit(
                playbook, state, lambda t: t.completed_by(verb, argument), credit, first=True
            )
        case NextStage(at=at):
            index = playbook.stage_index(current.id)
            if index == len(playbook.stages) - 1:
                raise PlaybookError(f"stage {current.id!r} is the last stage of {playbook.id!r}")
            return _enter(playbook, state, playbook.stages[index + 1], at, leaving=current)
        case GoToStage(stage_id=stage_id, at=at):
            target = playbook.stage(stage_id)
            if target.id == current.id:
                raise PlaybookError(f"the incident is already in stage {current.id!r}")
            return _enter(playbook, state, target, at, leaving=current)
        case TaskDone(n=n, at=at, actor=actor):
            return _task_done(state, current, n, Credit(at=at, actor=actor))
        case TimeboxExpired(stage_id=stage_id, at=at):
            return _timebox_expired(state, current, stage_id, at)
    raise PlaybookError(f"unknown event {event!r}")


def _enter(
    playbook: Playbook,
    state: PlaybookState,
    stage: Stage,
    at: datetime,
    *,
    leaving: Stage | None,
) -> tuple[PlaybookState, list[Effect]]:
    effects: list[Effect] = []
    if leaving is not None and leaving.timebox is not None:
        effects.append(CancelTimebox(leaving.id))
    effects.append(StageEntered(stage.id, stage.title))
    effects.extend(_on_enter(item, stage) for item in stage.on_enter)
    if stage.timebox is not None:
        effects.append(ScheduleTimebox(stage.id, at + stage.timebox))
    new_state = state.model_copy(
        update={
            "stage": stage.id,
            "entered_at": {**state.entered_at, stage.id: at},
            "timebox_expiries": {**state.timebox_expiries, stage.id: 0},
        }
    )
    return new_state, effects


def _on_enter(
    item: PostEffect | PageEffect | StatusPageEffect | WebhookEffect, stage: Stage
) -> Effect:
    if isinstance(item, PostEffect):
        return Post(item.post)
    if isinstance(item, PageEffect):
        return Page(item.page)
    if isinstance(item, StatusPageEffect):
        return StatusPage(item.statuspage, item.text)
    return Webhook(item.webhook, stage.id, stage.title)


def _milestone(
    playbook: Playbook, state: PlaybookState, current: Stage, name: str, at: datetime
) -> tuple[PlaybookState, list[Effect]]:
    if name not in MILESTONES:
        raise PlaybookError(f"{name!r} is not a milestone; milestones are: {', '.join(MILESTONES)}")
    # The first time a milestone was reached is the one that counts; a repeat changes nothing.
    milestones = state.milestones if name in state.milestones else {**state.milestones, name: at}
    state = state.model_copy(update={"milestones": milestones})
    targets = [index for index, stage in enumerate(playbook.stages) if stage.enter_on == name]
    if not targets or targets[-1] <= playbook.stage_index(current.id):
        return state, []
    return _enter(playbook, state, playbook.stages[targets[-1]], at, leaving=current)


def _credit(
    playbook: Playbook,
    state: PlaybookState,
    does: Callable[[Task], bool],
    credit: Credit,
    *,
    first: bool = False,
) -> tuple[PlaybookState, list[Effect]]:
    """Tick off the open tasks `does` accepts in the stages reached so far, the current
    stage first (only the first such task when `first`: one command, one task)."""
    reached = [stage for stage in playbook.stages if stage.id in state.entered_at]
    reached.sort(key=lambda stage: stage.id != state.stage)
    effects: list[Effect] = []
    for stage in reached:
        for n, task in enumerate(stage.tasks, 1):
            if n in state.done(stage.id) or not does(task):
                continue
            state = _tick(state, stage.id, n, credit)
            effects.append(TaskCompleted(stage.id, n, task.text, credit))
            if first:
                return state, effects
    return state, effects


def _tick(state: PlaybookState, stage_id: str, n: int, credit: Credit) -> PlaybookState:
    return state.model_copy(
        update={
            "tasks_done": {**state.tasks_done, stage_id: state.done(stage_id) | {n}},
            "credits": {**state.credits, stage_id: {**state.credits.get(stage_id, {}), n: credit}},
        }
    )


def _task_done(
    state: PlaybookState, current: Stage, n: int, credit: Credit
) -> tuple[PlaybookState, list[Effect]]:
    if not current.tasks:
        raise PlaybookError(f"stage {current.id!r} has no tasks")
    if not 1 <= n <= len(current.tasks):
        raise PlaybookError(
            f"stage {current.id!r} has tasks 1 to {len(current.tasks)}; there is no task {n}"
        )
    if n in state.done(current.id):
        return state, []
    new_state = _tick(state, current.id, n, credit)
    return new_state, [TaskCompleted(current.id, n, current.tasks[n - 1].text, credit)]


def _timebox_expired(
    state: PlaybookState, current: Stage, stage_id: str, at: datetime
) -> tuple[PlaybookState, list[Effect]]:
    # A timer for a stage the incident already left is stale: its cancel may have raced it.
    if stage_id != current.id or current.timebox is None or current.id not in state.entered_at:
        return state, []
    count = state.timebox_expiries.get(current.id, 0) + 1
    if count > ESCALATE_AFTER:
        return state, []
    new_state = state.model_copy(
        update={"timebox_expiries": {**state.timebox_expiries, current.id: count}}
    )
    if count == ESCALATE_AFTER:
        return new_state, [Escalate(current.id)]
    overdue_by = at - (state.entered_at[current.id] + current.timebox)
    return new_state, [
        TimeboxReminder(current.id, max(overdue_by, timedelta(0))),
        ScheduleTimebox(current.id, at + current.timebox),
    ]
