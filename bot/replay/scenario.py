"""The scenario format (DESIGN.md), loaded with line numbers for errors."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

SOURCES = ("alertmanager", "grafana", "pagerduty", "generic")


class ScenarioError(ValueError):
    """A scenario that cannot be replayed; `str()` is `file:line: message`."""


class AlertStep(BaseModel):
    """An alert webhook body as its source sends it."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["alertmanager", "grafana", "pagerduty", "generic"]
    payload: dict[str, Any]


class Step(BaseModel):
    """One thing that happens at a wall-clock time: an alert, a command, or just time passing."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    at: str
    alert: AlertStep | None = None
    user: str | None = Field(None, alias="as")
    command: str | None = None
    channel: str | None = None

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a time (HH:MM or HH:MM:SS)") from error
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        if self.alert is not None and self.command is not None:
            raise ValueError("a step has an alert or a command, not both")
        if self.command is not None and not self.user:
            raise ValueError("a command step needs `as: <user>`")
        return self


class Scenario(BaseModel):
    """A whole incident to replay."""

    model_config = ConfigDict(extra="forbid")
    title: str
    timezone: str = "UTC"
    date: date
    steps: list[Step] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The scenario's time zone."""
        return ZoneInfo(self.timezone)

    def times(self) -> list[datetime]:
        """Each step's aware time; a time earlier than the one before rolls to the next day."""
        day = self.date
        result: list[datetime] = []
        for step in self.steps:
            when = datetime.combine(day, time.fromisoformat(step.at), tzinfo=self.tz)
            if result and when < result[-1]:
                day += timedelta(days=1)
                when = datetime.combine(day, time.fromisoformat(step.at), tzinfo=self.tz)
            result.append(when)
        return result


def _line(node: Any, loc: tuple[Any, ...]) -> int:
    """The YAML line of the deepest node a validation error points at (1-based)."""
    line = 1
    for key in loc:
        try:
            if isinstance(key, int) and isinstance(node, CommentedSeq):
                line = node.lc.item(key)[0] + 1
            elif isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; raise ScenarioError as `file:line: message`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}:0: cannot read: {error.strerror}") from error
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ScenarioError(
            f"{path}:{line}: bad YAML: {getattr(error, 'problem', error)}"
        ) from error
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with title, date and steps")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(part) for part in loc) or "scenario"
        message = first["msg"].removeprefix("Value error, ")
        raise ScenarioError(f"{path}:{_line(data, loc)}: {where}: {message}") from error
