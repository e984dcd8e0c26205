"""The playbook format (see DESIGN.md) as pydantic models."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from playbooks.durations import format_duration, parse_duration
from playbooks.errors import PlaybookError
from playbooks.slugs import slugify

Milestone = Literal[
    "started", "detected", "declared", "acknowledged", "identified", "mitigated", "resolved"
]
MILESTONES: tuple[str, ...] = get_args(Milestone)
Severity = Literal["sev1", "sev2", "sev3", "sev4"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
Role = Literal["commander", "comms", "scribe", "ops"]
ROLES: tuple[str, ...] = get_args(Role)
StatusPageStatus = Literal["investigating", "identified", "monitoring", "resolved"]
STATUSPAGE_STATUSES: tuple[str, ...] = get_args(StatusPageStatus)
EFFECT_KEYS: tuple[str, ...] = ("post", "page", "statuspage", "webhook")
# The `/incident` verbs a task's `done_by` may name: those that record something. (The
# grammar lives in the bot; a test keeps this list inside it.) `role` and `status` may
# name their first word too: `role comms`, `status identified`.
COMMAND_VERBS: tuple[str, ...] = (
    "ack",
    "sev",
    "status",
    "update",
    "note",
    "log",
    "time",
    "role",
    "stage",
    "impact",
    "cause",
    "action",
    "mitigate",
    "resolve",
    "reopen",
    "statuspage",
    "public-title",
    "postmortem",
    "maintenance",
)
VERB_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "role": ROLES,
    "status": STATUSPAGE_STATUSES,
    "statuspage": STATUSPAGE_STATUSES,
}

DEFAULT_CHANNEL = "inc-{date}-{slug}"
CHANNEL_PLACEHOLDERS = ("date", "slug", "id")
# Slack channel names: lowercase letters, digits, '-' and '_', at most 80 characters.
SLACK_CHANNEL_MAX = 80
_CHANNEL_TEXT = re.compile(r"[a-z0-9_-]*")
_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP = re.compile(r"S[A-Z0-9]{2,}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _to_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{reason}", {"reason": str(exc)}) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
]
# A postmortem's due time after resolve: whole calendar days (`3d`) or business days,
# Monday to Friday (`5bd`, or `5 business days`); stored as `Nd` or `Nbd`.
_DUE = re.compile(r"(\d{1,3})\s*(d|days?|bd|business\s+days?)")


def _to_postmortem_due(value: Any) -> str:
    match = _DUE.fullmatch(str(value).strip().lower()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise PydanticCustomError(
            "postmortem_due",
            "bad postmortem due time {value}: expected days (3d) or business days "
            "(5bd, 5 business days)",
            {"value": repr(value)},
        )
    unit = "d" if match.group(2).startswith("d") else "bd"
    return f"{int(match.group(1))}{unit}"


def _to_postmortem_due_setting(value: Any) -> Any:
    """One due time for every severity, or a mapping of severity to due time: one error."""
    if not isinstance(value, dict):
        return _to_postmortem_due(value)
    severities = get_args(Severity)
    for key in value:
        if key not in severities:
            raise PydanticCustomError(
                "postmortem_due",
                "{key} is not a severity: use sev1, sev2, sev3 or sev4",
                {"key": repr(key)},
            )
    return {key: _to_postmortem_due(due) for key, due in value.items()}


PostmortemDue = Annotated[str | dict[Severity, str], BeforeValidator(_to_postmortem_due_setting)]
Id = Annotated[str, Field(pattern=r"^[a-z0-9-]+$", min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1)]


def _person(value: str) -> str:
    if _USER.fullmatch(value) or _EMAIL.fullmatch(value):
        return value
    raise PydanticCustomError(
        "person", "{value} is neither a Slack user id (U...) nor an email", {"value": repr(value)}
    )


def _invitee(value: str) -> str:
    if _USER.fullmatch(value) or _GROUP.fullmatch(value) or _EMAIL.fullmatch(value):
        return value
    raise PydanticCustomError(
        "invitee",
        "{value} is not a Slack user id (U...), user-group id (S...) or email",
        {"value": repr(value)},
    )


Person = Annotated[str, AfterValidator(_person)]
Invitee = Annotated[str, AfterValidator(_invitee)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostEffect(_Model):
    post: Text


class PageEffect(_Model):
    page: Literal["pagerduty"]


class StatusPageEffect(_Model):
    statuspage: StatusPageStatus
    text: Text | None = None


class WebhookEffect(_Model):
    webhook: Annotated[str, Field(pattern=r"^https?://\S+$")]


def _effect_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next((key for key in EFFECT_KEYS if key in type(value).model_fields), None)
    if not isinstance(value, dict):
        return None
    kinds = [key for key in EFFECT_KEYS if key in value]
    return kinds[0] if len(kinds) == 1 else None


OnEnterEffect = Annotated[
    Annotated[PostEffect, Tag("post")]
    | Annotated[PageEffect, Tag("page")]
    | Annotated[StatusPageEffect, Tag("statuspage")]
    | Annotated[WebhookEffect, Tag("webhook")],
    Discriminator(
        _effect_kind,
        custom_error_type="effect",
        custom_error_message="each on_enter entry has exactly one of: post, page, statuspage, "
        "webhook",
    ),
]


class Reminders(_Model):
    status_update: Duration | None = None
    unacknowledged: Duration | None = None
    postmortem_due: Duration | None = None


def _done_by(value: str) -> str:
    verb, _, argument = " ".join(value.split()).partition(" ")
    if verb not in COMMAND_VERBS:
        raise PydanticCustomError(
            "done_by",
            "{value} is not an /incident command that records something ({verbs})",
            {"value": repr(value), "verbs": ", ".join(COMMAND_VERBS)},
        )
    allowed = VERB_ARGUMENTS.get(verb, ())
    if argument and argument not in allowed:
        raise PydanticCustomError(
            "done_by",
            "{value}: {verb} takes {allowed}",
            {
                "value": repr(value),
                "verb": verb,
                "allowed": f"one of {', '.join(allowed)}" if allowed else "no word after it",
            },
        )
    return f"{verb} {argument}" if argument else verb


class Task(_Model):
    """A checklist item; `done_on` (a milestone) or `done_by` (a command) ticks it off when
    the incident gets there, so the record shows the work that was done without anyone
    ticking it twice. Written as a plain string when it names neither."""

    text: Text
    done_on: Milestone | None = None
    done_by: Annotated[str, AfterValidator(_done_by)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_serializer(mode="wrap")
    def _as_text(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A plain task stays a plain string: the snapshot keeps the YAML's own shape.
        if self.done_on is None and self.done_by is None:
            return self.text
        return handler(self)

    def completed_by(self, verb: str, argument: str | None = None) -> bool:
        """Whether running `/incident <verb> [argument ...]` does this task."""
        return self.done_by is not None and self.done_by in (verb, f"{verb} {argument}")


class Stage(_Model):
    id: Id
    title: Text
    enter_on: Milestone | None = None
    timebox: Duration | None = None
    tasks: list[Task] = Field(default_factory=list)
    on_enter: list[OnEnterEffect] = Field(default_factory=list)


class Playbook(_Model):
    id: Id
    title: Text
    match: dict[Text, str] = Field(default_factory=dict)
    # The severity of an incident whose alert states none (and of a declared one).
    severity: Severity = "sev3"
    # Forces every alert-opened incident to this severity, whatever the alert says.
    severity_override: Severity | None = None
    channel: str = DEFAULT_CHANNEL
    # A private incident channel (security incidents): only invitees see it. Strict: only
    # YAML true/false, so a quoted "no" or a 1 is an error instead of a guess.
    private: Annotated[bool, Field(strict=True)] = False
    # What public surfaces (the status page) call its incidents: never the internal title.
    public_title: Text | None = None
    invite: list[Invitee] = Field(default_factory=list)
    roles: dict[Role, Person] = Field(default_factory=dict)
    reminders: Reminders = Field(default_factory=Reminders)
    group_by: list[Text] = Field(default_factory=list)
    # A group still firing this long after its incident was resolved joins that incident
    # (the channel is told once, with a Reopen button); later, a new incident links it.
    refire_window: Duration = timedelta(hours=1)
    # When a resolved incident's postmortem is due: one value for every severity, or one
    # per severity (those not named keep the bot's default table).
    postmortem_due: PostmortemDue | None = None
    stages: Annotated[list[Stage], Field(min_length=1)]

    @field_validator("channel")
    @classmethod
    def _check_channel(cls, pattern: str) -> str:
        try:
            parts = list(string.Formatter().parse(pattern))
        except ValueError as exc:
            raise PydanticCustomError(
                "channel",
                "bad channel pattern {pattern}: {reason}",
                {"pattern": repr(pattern), "reason": str(exc)},
            ) from None
        for literal, field, spec, conversion in parts:
            if field is not None and (field not in CHANNEL_PLACEHOLDERS or spec or conversion):
                raise PydanticCustomError(
                    "channel",
                    "unknown placeholder {field} in channel pattern: use {allowed}",
                    {"field": "{" + field + "}", "allowed": "{date}, {slug} or {id}"},
                )
            if not _CHANNEL_TEXT.fullmatch(literal):
                raise PydanticCustomError(
                    "channel",
                    "channel pattern {pattern} has characters Slack refuses: use lowercase "
                    "letters, digits, '-' and '_'",
                    {"pattern": repr(pattern)},
                )
        if not pattern:
            raise PydanticCustomError("channel", "channel pattern is empty", {})
        return pattern

    @model_validator(mode="after")
    def _check_stage_ids(self) -> Playbook:
        seen: set[str] = set()
        for stage in self.stages:
            if stage.id in seen:
                raise PydanticCustomError(
                    "duplicate_stage_id", "stage id {id} is used twice", {"id": repr(stage.id)}
                )
            seen.add(stage.id)
        return self

    def stage_ids(self) -> list[str]:
        return [stage.id for stage in self.stages]

    def stage_index(self, stage_id: str) -> int:
        """Return the position of a stage; raise PlaybookError if there is none such."""
        for index, stage in enumerate(self.stages):
            if stage.id == stage_id:
                return index
        raise PlaybookError(
            f"no stage {stage_id!r} in playbook {self.id!r}; "
            f"stages are: {', '.join(self.stage_ids())}"
        )

    def stage(self, stage_id: str) -> Stage:
        return self.stages[self.stage_index(stage_id)]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether every `match` label equals the alert's (an empty match matches all)."""
        return all(labels.get(key) == value for key, value in self.match.items())

    def channel_name(self, *, title: str, on: date, incident_id: str | int) -> str:
        """Render the channel pattern for one incident, cut to Slack's 80 characters.

        A title with nothing a channel name can say ("!!!") is slugged `incident-<id>`.
        """
        incident = str(incident_id).lower()
        slug = slugify(title) or f"incident-{incident}"
        name = self.channel.format(date=on.strftime("%Y%m%d"), slug=slug, id=incident)
        return name[:SLACK_CHANNEL_MAX].rstrip("-_")

    def snapshot(self) -> dict[str, Any]:
        """Return the playbook as a plain JSON-able dict, the shape its YAML has."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Playbook:
        return cls.model_validate(data)


def completions(playbook: Playbook) -> list[str]:
    """The tasks a milestone or command ticks off, one line each, as `playbooks check`
    shows them under the playbook: `  respond 2: Post a first status update (done_by update)`."""
    lines = []
    for stage in playbook.stages:
        for n, task in enumerate(stage.tasks, 1):
            how = [f"done_on {task.done_on}"] if task.done_on else []
            how += [f"done_by {task.done_by}"] if task.done_by else []
            if how:
                lines.append(f"  {stage.id} {n}: {task.text} ({', '.join(how)})")
    return lines


def summary(playbook: Playbook) -> str:
    """One line about a playbook, as `warroom playbooks check` prints it."""
    stages = len(playbook.stages)
    if playbook.match:
        labels = ", ".join(f"{key}={value}" for key, value in sorted(playbook.match.items()))
        scope = f"match {labels}"
    else:
        scope = "fallback (no match)"
    private = ", private channel" if playbook.private else ""
    severity = (
        f"always {playbook.severity_override}"
        if playbook.severity_override
        else f"{playbook.severity} by default"
    )
    return (
        f"{playbook.id}: {playbook.title}, {severity}{private}, "
        f"{stages} stage{'s' if stages != 1 else ''}, {scope}"
    )
