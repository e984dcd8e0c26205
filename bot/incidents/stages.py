"""The bridge between an incident and the pure playbook engine: events in, effects recorded."""

from __future__ import annotations

from bot.incidents import effects, pages, privacy
from bot.incidents.errors import DomainError
from bot.incidents.notices import StageStarted, TimeboxOverdue
from bot.incidents.records import Recorder
from bot.incidents.times import format_duration as human_duration
from playbooks import (
    COMMAND_VERBS,
    CancelTimebox,
    CommandDone,
    Credit,
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
)
from playbooks import Effect as PlaybookEffect
from playbooks import Event as PlaybookEvent
from playbooks import start as start_playbook
from storage.models import Incident


def playbook_of(incident: Incident) -> Playbook:
    """The playbook as it was when the incident started."""
    return Playbook.from_snapshot(incident.playbook_snapshot)


def state_of(incident: Incident) -> PlaybookState | None:
    """Where the incident stands in its playbook (None before it started)."""
    if not incident.playbook_state:
        return None
    return PlaybookState.from_snapshot(incident.playbook_state)


def start(rec: Recorder, playbook: Playbook) -> None:
    """Enter the playbook's first stage."""
    assert rec.incident is not None
    state, produced = start_playbook(playbook, rec.now)
    # The card about to be posted shows the first stage and its checklist already.
    _apply(rec, state, produced, announce_stage=False)


def milestone_reached(
    rec: Recorder, name: str, *, page: bool = True, actor: str | None = None
) -> None:
    """Tell the playbook a milestone was reached; it may move to a later stage, and the
    tasks done on it are ticked off in `actor`'s name.

    `page=False` when the milestone came from the paging tool: a stage's `page` step
    would only page the people who just answered it.
    """
    _run(rec, MilestoneReached(name, rec.now, actor), actor=actor, page=page)


def command_done(
    rec: Recorder, verb: str, argument: str | None, *, actor: str, typed: str | None = None
) -> None:
    """Tell the playbook a command was recorded: the first open task it does is ticked off
    (credited to `typed` where another command did what `verb` does)."""
    if verb in COMMAND_VERBS:
        _run(rec, CommandDone(verb, rec.now, actor, argument, typed), actor=actor)


def advance(rec: Recorder, target: str | None, *, actor: str) -> str:
    """Move to the next stage, or to the named one."""
    assert rec.incident is not None
    event: PlaybookEvent = NextStage(rec.now) if target is None else GoToStage(target, rec.now)
    before = rec.incident.playbook_state.get("stage")
    _run(rec, event, actor=actor, strict=True)
    stage = playbook_of(rec.incident).stage(rec.incident.playbook_state["stage"])
    return f"Stage: *{stage.title}* (was {before})"


def task_done(rec: Recorder, number: int, *, actor: str) -> str:
    """Tick off a task of the current stage."""
    assert rec.incident is not None
    produced = _run(rec, TaskDone(number, rec.now, actor), actor=actor, strict=True)
    if not produced:
        raise DomainError(f"Task {number} is already done")
    return f"Task {number} done"


def timebox_expired(rec: Recorder, stage_id: str) -> None:
    """A stage's timebox ran out (called by the scheduler)."""
    _run(rec, TimeboxExpired(stage_id, rec.now))


def _run(
    rec: Recorder,
    event: PlaybookEvent,
    *,
    actor: str | None = None,
    strict: bool = False,
    page: bool = True,
) -> list[PlaybookEffect]:
    assert rec.incident is not None
    state = state_of(rec.incident)
    if state is None:
        return []
    try:
        state, produced = apply(playbook_of(rec.incident), state, event)
    except PlaybookError as error:
        if strict:
            raise DomainError(str(error)) from error
        return []
    _apply(rec, state, produced, actor=actor, page=page)
    return produced


def _apply(
    rec: Recorder,
    state: PlaybookState,
    produced: list[PlaybookEffect],
    *,
    actor: str | None = None,
    announce_stage: bool = True,
    page: bool = True,
) -> None:
    incident = rec.incident
    assert incident is not None
    incident.playbook_state = state.snapshot()
    rec.touch()
    playbook = playbook_of(incident) if incident.playbook_snapshot else None
    quiet = incident.drill  # drills rehearse the playbook without reaching the outside world
    for item in produced:
        match item:
            case StageEntered(stage_id=stage_id, title=title):
                rec.event(
                    "stage",
                    f"stage {title}",
                    actor=actor,
                    source="playbook",
                    data={"stage": stage_id},
                )
                if announce_stage:
                    rec.effect(effects.PostNotice(notice=_stage_started(playbook, stage_id)))
                    rec.effect(effects.UpdateCard())
            case TaskCompleted(stage_id=stage_id, n=n, text=text, credit=credit):
                how = _how(credit)
                rec.event(
                    "task",
                    f"task {n} done: {text}" + (f" ({how})" if how else ""),
                    actor=actor,
                    source="command",
                    data={"stage": stage_id, "task": n},
                )
                rec.effect(effects.UpdateCard())
            case Post(text=text):
                rec.effect(effects.PostMessage(text=text, trusted=True))
            case Page():
                if page and not quiet:
                    pages.trigger(rec)
            case StatusPage(status=status, text=text):
                if not quiet:
                    # Never the internal title: the public title stands in for a missing text.
                    public = text or privacy.public_title(incident)
                    rec.effect(effects.UpdateStatusPage(status=status, text=public))
            case Webhook(url=url, stage_id=stage_id, stage_title=stage_title):
                # Like its page and statuspage steps, a stage's own webhook is an action on
                # the outside world, which a drill rehearses without taking.
                if not quiet:
                    rec.effect(
                        effects.SendWebhook(
                            event="playbook.stage", url=url, stage=stage_id, stage_title=stage_title
                        )
                    )
            case ScheduleTimebox(stage_id=stage_id, due_at=due_at):
                rec.effect(effects.Schedule(job="timebox", stage=stage_id, due_at=due_at))
            case CancelTimebox(stage_id=stage_id):
                rec.effect(effects.Unschedule(job="timebox", stage=stage_id))
            case TimeboxReminder(stage_id=stage_id):
                title, timebox = _stage_title(playbook, stage_id)
                rec.event(
                    "reminder",
                    f"stage {title} ran past its {timebox} timebox",
                    actor=None,
                    source="system",
                    data={"stage": stage_id},
                )
                rec.effect(
                    effects.PostNotice(
                        notice=TimeboxOverdue(
                            stage_id=stage_id,
                            title=title,
                            timebox_seconds=_timebox_seconds(playbook, stage_id),
                        )
                    )
                )
            case Escalate(stage_id=stage_id):
                title, _ = _stage_title(playbook, stage_id)
                rec.event(
                    "escalation",
                    f"stage {title} still over its timebox: escalated",
                    actor=None,
                    source="system",
                )
                privacy.broadcast(
                    rec, f"Incident #{incident.id} ({incident.title}) is stuck in stage {title}."
                )
                if not quiet:
                    pages.trigger(rec, escalation=True)


def _how(credit: Credit | None) -> str:
    """What ticked a task off, for its timeline entry; nothing for a tick by hand."""
    if credit is None:
        return ""
    if credit.on:
        return f"on {credit.on}"
    if credit.by:
        return f"by /incident {credit.by}"
    return ""


def _stage_title(playbook: Playbook | None, stage_id: str) -> tuple[str, str]:
    if playbook is None:
        return stage_id, "set"
    stage = playbook.stage(stage_id)
    timebox = human_duration(stage.timebox) if stage.timebox is not None else "set"
    return stage.title, timebox


def _timebox_seconds(playbook: Playbook | None, stage_id: str) -> int | None:
    if playbook is None:
        return None
    timebox = playbook.stage(stage_id).timebox
    return int(timebox.total_seconds()) if timebox is not None else None


def _stage_started(playbook: Playbook | None, stage_id: str) -> StageStarted:
    if playbook is None:
        return StageStarted(stage_id=stage_id)
    stage = playbook.stage(stage_id)
    return StageStarted(
        stage_id=stage_id,
        title=stage.title,
        timebox_seconds=_timebox_seconds(playbook, stage_id),
        tasks=tuple(task.text for task in stage.tasks),
    )
