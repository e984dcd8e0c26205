"""How Slack refuses: the error codes no retry can fix, and what the outbox makes of a refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.outbox.dispatcher import backoff
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.routes import Attempt

# Slack answers these when retrying can never help; the operation is failed, not retried.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "channel_not_found",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_name",
        "invalid_name_specials",
        "invalid_name_maxlength",
        "invalid_name_required",
        "restricted_action",
        "message_not_found",
        "cant_update_message",
    }
)

E = TypeVar("E")


def slack_error(error: SlackApiError) -> str:
    """Slack's error code from a failed call."""
    return str(error.response.get("error", "unknown_error"))


def outbox_error(error: SlackApiError, kind: str, attempts: int) -> GiveUp | RetryLater:
    """A failed Slack call as the outbox's give-up or retry-later.

    Permanent codes give up; a 429 waits at least Slack's Retry-After (and at least the
    usual backoff); anything else (5xx, a code we do not know) retries with backoff.
    """
    code = slack_error(error)
    if code in PERMANENT_ERRORS:
        return GiveUp(f"Slack refused {kind}: {code}")
    status = error.response.status_code
    headers = error.response.headers
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    delay = None
    if status == 429 and retry_after:
        delay = max(backoff(attempts), float(retry_after))
    return RetryLater(f"Slack {status} {code}", delay)


def translated(
    kind: str, run: Callable[[E, Attempt], Awaitable[dict[str, Any]]]
) -> Callable[[E, Attempt], Awaitable[dict[str, Any]]]:
    """`run`, with Slack's refusals raised as GiveUp / RetryLater."""

    async def guarded(effect: E, attempt: Attempt) -> dict[str, Any]:
        try:
            return await run(effect, attempt)
        except SlackApiError as error:
            raise outbox_error(error, kind, attempt.attempts) from error

    return guarded
