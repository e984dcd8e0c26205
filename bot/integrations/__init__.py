"""Outbound integrations (PagerDuty, Statuspage, webhooks) carried out by the dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from bot.incidents.effects import Effect, Page, PublishMaintenance, SendWebhook, UpdateStatusPage
from bot.integrations.journal import Journal
from bot.integrations.page_outcomes import page_refused, page_remarks
from bot.integrations.pagerduty import pagerduty_handler
from bot.integrations.statuspage import statuspage_handler, statuspage_remarks
from bot.integrations.statuspage_maintenance import maintenance_handler
from bot.integrations.unconfigured import unconfigured_routes
from bot.integrations.webhooks import webhook_handler
from bot.outbox.routes import Route

if TYPE_CHECKING:
    from bot.composition.config import Settings
    from bot.composition.runtime import Runtime


def configured(settings: Settings) -> dict[str, bool]:
    """Each outbound integration by name, and whether it is configured: what `/readyz` and
    the start-up log say, so nobody has to guess from the channel whether a page went out."""
    return {
        "pagerduty": settings.pagerduty_routing_key is not None,
        "statuspage": settings.statuspage_api_key is not None and bool(settings.statuspage_page_id),
        "webhooks": bool(settings.webhook_urls),
        # Follow-ups' ticket tracker: one at most is configured (Settings refuses more).
        "github": settings.tracker == "github",
        "jira": settings.tracker == "jira",
        "linear": settings.tracker == "linear",
    }


def describe(integrations: dict[str, bool]) -> str:
    """One log line's worth: "pagerduty configured, statuspage not configured, ..."."""
    return ", ".join(
        f"{name} {'configured' if on else 'not configured'}" for name, on in integrations.items()
    )


def integration_routes(
    runtime: Runtime, client: httpx.AsyncClient
) -> dict[type[Effect], Route[Any]]:
    """Real routes for the integrations configured, skipping ones for the rest.

    Webhooks are always handled for real: a playbook can name its own URL even when
    WARROOM_WEBHOOKS is empty, and an op with no URL at all completes as skipped.
    """
    settings = runtime.settings
    journal = Journal(runtime.sessions, runtime.domain.clock)
    routes = unconfigured_routes()
    if settings.pagerduty_routing_key is not None:
        routes[Page] = Route(
            pagerduty_handler(
                client,
                journal,
                url=str(settings.pagerduty_url),
                routing_key=settings.pagerduty_routing_key.get_secret_value(),
            ),
            remarks=page_remarks,
            refused=page_refused,
        )
    if settings.statuspage_api_key is not None and settings.statuspage_page_id:
        statuspage = {
            "url": str(settings.statuspage_url),
            "page_id": settings.statuspage_page_id,
            "api_key": settings.statuspage_api_key.get_secret_value(),
        }
        routes[UpdateStatusPage] = Route(
            statuspage_handler(client, journal, **statuspage), remarks=statuspage_remarks
        )
        routes[PublishMaintenance] = Route(maintenance_handler(client, journal, **statuspage))
    secret = settings.webhook_secret
    routes[SendWebhook] = Route(
        webhook_handler(
            client,
            journal,
            urls=settings.webhook_urls,
            private_ok=settings.private_webhook_urls,
            secret=secret.get_secret_value() if secret is not None else None,
        )
    )
    return routes
