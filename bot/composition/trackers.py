"""The ticket tracker follow-ups are filed in, and the webhooks that report on its tickets.

One tracker at most is configured (Settings refuses more): GitHub Issues with
WARROOM_GITHUB_TOKEN and WARROOM_GITHUB_REPO, Jira Cloud with WARROOM_JIRA_*, Linear with
WARROOM_LINEAR_*. A replay files nothing, whatever is configured.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.composition.config import Settings
from bot.incidents.effects import CreateTicket, Effect
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import Tracker, WebhookReader
from bot.integrations.trackers.github import GitHubTracker
from bot.integrations.trackers.jira import JiraTracker
from bot.integrations.trackers.linear import LinearTracker
from bot.integrations.trackers.outbox import ticket_route
from bot.integrations.trackers.webhooks_github import github_reader
from bot.integrations.trackers.webhooks_jira import jira_reader
from bot.integrations.trackers.webhooks_linear import linear_reader
from bot.integrations.unconfigured import skipped
from bot.observability.logs import redact_also
from bot.outbox.routes import Route

NOT_CONFIGURED = "no ticket tracker is configured"
IN_REPLAY = "a replay files no tickets"


def make_tracker(settings: Settings, client: httpx.AsyncClient, journal: Journal) -> Tracker | None:
    """The configured tracker, built around the shared HTTP client; None if there is none."""
    if settings.tracker == "github":
        assert settings.github_token is not None and settings.github_repo
        token = settings.github_token.get_secret_value()
        redact_also(token)  # GitHub may echo it in an error; the log never shows it
        return GitHubTracker(
            client,
            journal,
            token=token,
            repo=settings.github_repo,
            api_url=str(settings.github_api_url),
        )
    if settings.tracker == "jira":
        assert settings.jira_url and settings.jira_email and settings.jira_project
        assert settings.jira_token is not None
        token = settings.jira_token.get_secret_value()
        redact_also(token)
        return JiraTracker(
            client,
            journal,
            url=str(settings.jira_url),
            email=settings.jira_email,
            token=token,
            project=settings.jira_project,
        )
    if settings.tracker == "linear":
        assert settings.linear_api_key is not None and settings.linear_team
        key = settings.linear_api_key.get_secret_value()
        redact_also(key)
        return LinearTracker(
            client,
            journal,
            api_key=key,
            team=settings.linear_team,
            api_url=str(settings.linear_api_url),
        )
    return None


def tracker_routes(
    settings: Settings, client: httpx.AsyncClient, journal: Journal, *, replay: bool = False
) -> dict[type[Effect], Route[Any]]:
    """The `tracker.create` route: filing in the configured tracker, else skipping (an
    operation queued before its tracker was unset completes with the reason)."""
    tracker = None if replay else make_tracker(settings, client, journal)
    if tracker is None:
        return {CreateTicket: skipped(IN_REPLAY if replay else NOT_CONFIGURED)}
    return {CreateTicket: ticket_route(tracker, journal)}


def webhook_readers(settings: Settings) -> dict[str, WebhookReader]:
    """The `/webhooks/{tracker}` readers for the trackers whose webhook secret is set."""
    readers: dict[str, WebhookReader] = {}
    if settings.github_webhook_secret is not None:
        readers["github"] = github_reader(settings.github_webhook_secret.get_secret_value())
    if settings.jira_webhook_secret is not None:
        readers["jira"] = jira_reader(settings.jira_webhook_secret.get_secret_value())
    if settings.linear_webhook_secret is not None:
        readers["linear"] = linear_reader(settings.linear_webhook_secret.get_secret_value())
    return readers
