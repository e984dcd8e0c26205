"""Playbooks: the YAML format, its loader and catalog, and the pure stage engine.

Names are loaded from their modules on first use: a command that needs only durations
(`warroom stats`, the settings) does not pay for the schema's pydantic models.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playbooks.catalog import BUILTIN_DEFAULT, Catalog
    from playbooks.durations import format_duration, parse_duration
    from playbooks.engine import (
        CancelTimebox,
        CommandDone,
        Credit,
        Effect,
        Escalate,
        Event,
        GoToStage,
        MilestoneReached,
        NextStage,
        Page,
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
        start,
    )
    from playbooks.errors import PlaybookError, PlaybookLoadError, Problem
    from playbooks.loader import bundled_dir, check_dir, load_dir, load_playbook, playbook_files
    from playbooks.schema import (
        COMMAND_VERBS,
        MILESTONES,
        ROLES,
        SEVERITIES,
        STATUSPAGE_STATUSES,
        Playbook,
        Reminders,
        Stage,
        Task,
        completions,
        summary,
    )
    from playbooks.slugs import slugify

_WHERE = {
    "BUILTIN_DEFAULT": "playbooks.catalog",
    "COMMAND_VERBS": "playbooks.schema",
    "CancelTimebox": "playbooks.engine",
    "Catalog": "playbooks.catalog",
    "CommandDone": "playbooks.engine",
    "Credit": "playbooks.engine",
    "Effect": "playbooks.engine",
    "Escalate": "playbooks.engine",
    "Event": "playbooks.engine",
    "GoToStage": "playbooks.engine",
    "MILESTONES": "playbooks.schema",
    "MilestoneReached": "playbooks.engine",
    "NextStage": "playbooks.engine",
    "Page": "playbooks.engine",
    "Playbook": "playbooks.schema",
    "PlaybookError": "playbooks.errors",
    "PlaybookLoadError": "playbooks.errors",
    "PlaybookState": "playbooks.engine",
    "Post": "playbooks.engine",
    "Problem": "playbooks.errors",
    "ROLES": "playbooks.schema",
    "Reminders": "playbooks.schema",
    "SEVERITIES": "playbooks.schema",
    "STATUSPAGE_STATUSES": "playbooks.schema",
    "ScheduleTimebox": "playbooks.engine",
    "Stage": "playbooks.schema",
    "StageEntered": "playbooks.engine",
    "StatusPage": "playbooks.engine",
    "Task": "playbooks.schema",
    "TaskCompleted": "playbooks.engine",
    "TaskDone": "playbooks.engine",
    "TimeboxExpired": "playbooks.engine",
    "TimeboxReminder": "playbooks.engine",
    "Webhook": "playbooks.engine",
    "apply": "playbooks.engine",
    "bundled_dir": "playbooks.loader",
    "check_dir": "playbooks.loader",
    "completions": "playbooks.schema",
    "format_duration": "playbooks.durations",
    "load_dir": "playbooks.loader",
    "load_playbook": "playbooks.loader",
    "parse_duration": "playbooks.durations",
    "playbook_files": "playbooks.loader",
    "slugify": "playbooks.slugs",
    "start": "playbooks.engine",
    "summary": "playbooks.schema",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'playbooks' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once loaded, found without this hook
    return value


__all__ = [
    "BUILTIN_DEFAULT",
    "COMMAND_VERBS",
    "MILESTONES",
    "ROLES",
    "SEVERITIES",
    "STATUSPAGE_STATUSES",
    "CancelTimebox",
    "Catalog",
    "CommandDone",
    "Credit",
    "Effect",
    "Escalate",
    "Event",
    "GoToStage",
    "MilestoneReached",
    "NextStage",
    "Page",
    "Playbook",
    "PlaybookError",
    "PlaybookLoadError",
    "PlaybookState",
    "Post",
    "Problem",
    "Reminders",
    "ScheduleTimebox",
    "Stage",
    "StageEntered",
    "StatusPage",
    "Task",
    "TaskCompleted",
    "TaskDone",
    "TimeboxExpired",
    "TimeboxReminder",
    "Webhook",
    "apply",
    "bundled_dir",
    "check_dir",
    "completions",
    "format_duration",
    "load_dir",
    "load_playbook",
    "parse_duration",
    "playbook_files",
    "slugify",
    "start",
    "summary",
]
