"""Errors raised while turning a webhook body into alerts."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class AlertPayloadError(Exception):
    """A webhook body warroom cannot accept; `status_code` is the HTTP answer to give."""

    def __init__(self, status_code: int, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON error body: {"error": message, "details": [...]}."""
        body: dict[str, Any] = {"error": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.message!r}, {self.details!r})"


class UnknownSource(AlertPayloadError):
    """No alert source of that name: answer 404."""

    def __init__(self, source: str, known: list[str]):
        super().__init__(404, f"unknown alert source {source!r}; known sources: {', '.join(known)}")
        self.source = source


def describe_validation_error(error: ValidationError) -> list[str]:
    """Return one "field.path: problem" line per pydantic error, in payload terms."""
    lines = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(root)"
        message = item["msg"]
        # Our own validators raise ValueError; pydantic prefixes "Value error, ".
        message = message.removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines
