"""How Slack refuses: the error codes no retry can fix, and reading a failed call's code."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

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


class PermanentError(Exception):
    """Slack refused in a way no retry can fix."""


def slack_error(error: SlackApiError) -> str:
    """Slack's error code from a failed call."""
    return str(error.response.get("error", "unknown_error"))
