"""How Slack refuses: every error code classified once, and what the outbox makes of it.

Four classes (codes from docs.slack.dev/reference/methods/*, "Errors"):

- retry: Slack is busy or down (429 with Retry-After, 5xx, `internal_error`), or no answer
  came (a timeout, a connection error): retried with backoff, however long it lasts.
- skip: Slack refuses one person (`user_not_found`, `cant_invite`, ...): the step goes on
  without them and says so in the channel.
- fix: the text is too long for Slack: it is cut to Slack's limits and sent again
  (`bot/slack/limits.py`).
- give up: no retry can help (a revoked token, an archived channel): the step fails for
  good, and the steps behind it go on.

A code in none of these is not known to us: it is retried as a failure in our own code
is, a bounded number of times (the dispatcher's MAX_FAULTS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.retries import backoff
from bot.outbox.routes import Attempt


class Refusal(Enum):
    """What a Slack error code means for the step that met it."""

    RETRY = "retry"
    SKIP = "skip"
    FIX = "fix"
    GIVE_UP = "give up"


# conversations.invite's per-person refusals (its `errors` list carries one per user),
# and users.lookupByEmail's / usergroups.users.list's for a person or group not found.
SKIP_ERRORS = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "cant_invite",
        "cant_invite_self",
        "already_in_channel",
        "user_is_restricted",
        "user_is_ultra_restricted",
        "user_disabled",
        "invitee_cant_see_channel",
        "no_external_invite_permission",
        "ura_max_channels",
        "user_team_not_in_channel",
        "no_such_subteam",
        "subteam_not_found",
    }
)
# Text or blocks past Slack's limits (chat.postMessage, chat.update, conversations.setTopic).
FIX_ERRORS = frozenset({"msg_too_long", "invalid_blocks", "msg_blocks_too_long", "too_long"})
RETRY_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable"}
)
GIVE_UP_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "access_denied",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "method_not_supported_for_channel_type",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "invalid_blocks_format",
        "no_text",
        "invalid_metadata_format",
        "invalid_name",
        "invalid_name_specials",
        "invalid_name_maxlength",
        "invalid_name_required",
        "invalid_name_punctuation",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "no_user",
    }
)
# Kept for callers that ask only "can a retry ever help?".
PERMANENT_ERRORS = GIVE_UP_ERRORS | SKIP_ERRORS | FIX_ERRORS

# What no answer at all looks like through slack_sdk's aiohttp client.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)

E = TypeVar("E")


def slack_error(error: SlackApiError) -> str:
    """Slack's error code from a failed call."""
    response = error.response
    # slack_sdk hands over its raw aiohttp response when the body was not JSON (an HTML
    # page from a proxy in front of Slack): there is no code to read then.
    if not hasattr(response, "get"):
        return "unknown_error"
    return str(response.get("error", "unknown_error"))


def http_status(error: SlackApiError) -> int:
    """The HTTP status of a failed call, whichever response object slack_sdk gave."""
    response = error.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if status is not None else 200


def classify(error: SlackApiError) -> Refusal | None:
    """The class of a refusal; None for a code we do not know."""
    status = http_status(error)
    if status == 429 or status >= 500:
        return Refusal.RETRY
    code = slack_error(error)
    for refusal, codes in (
        (Refusal.RETRY, RETRY_ERRORS),
        (Refusal.SKIP, SKIP_ERRORS),
        (Refusal.FIX, FIX_ERRORS),
        (Refusal.GIVE_UP, GIVE_UP_ERRORS),
    ):
        if code in codes:
            return refusal
    return None


def outbox_error(error: SlackApiError, kind: str, attempts: int) -> GiveUp | RetryLater | None:
    """A failed Slack call as the outbox's give-up or retry-later; None for a code we do
    not know (the dispatcher retries it a bounded number of times).

    A 429 waits at least Slack's Retry-After (and at least the usual backoff). A skip or
    fix refusal that reaches this far was not handled where it can be (the invite, the
    cut): the step gives up.
    """
    refusal = classify(error)
    code = slack_error(error)
    if refusal is None:
        return None
    if refusal is not Refusal.RETRY:
        return GiveUp(f"Slack refused {kind}: {code}")
    status = http_status(error)
    headers = getattr(error.response, "headers", None) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    delay = None
    if status == 429 and retry_after:
        delay = max(backoff(attempts), float(retry_after))
    return RetryLater(f"Slack {status} {code}", delay)


def translated(
    kind: str, run: Callable[[E, Attempt], Awaitable[dict[str, Any]]]
) -> Callable[[E, Attempt], Awaitable[dict[str, Any]]]:
    """`run`, with Slack's refusals and silences raised as GiveUp / RetryLater."""

    async def guarded(effect: E, attempt: Attempt) -> dict[str, Any]:
        try:
            return await run(effect, attempt)
        except SlackApiError as error:
            translation = outbox_error(error, kind, attempt.attempts)
            if translation is None:
                raise
            raise translation from error
        except TRANSPORT_ERRORS as error:
            reason = type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"
            raise RetryLater(f"Slack did not answer {kind}: {reason}") from error

    return guarded
