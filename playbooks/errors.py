"""Errors and problems the playbooks package reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PlaybookError(Exception):
    """A playbook, or a step through one, that cannot be done as asked."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a playbook file, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PlaybookLoadError(PlaybookError):
    """One or more playbook files did not load; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
