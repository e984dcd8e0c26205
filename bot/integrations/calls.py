"""One call to a third party: send it, and record on the timeline how it went."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.integrations.http import Verdict, judge, judge_error
from bot.integrations.journal import Journal
from bot.outbox.errors import GiveUp, RetryLater

log = logging.getLogger(__name__)


def failure_text(label: str, verdict: Verdict) -> str:
    """A timeline line for a failed call: "PagerDuty trigger refused (HTTP 400)".

    Only the status: the far side's words stay in the log (see `attempt`).
    """
    if verdict.outcome == "refused":
        return f"{label} refused ({verdict.detail})"
    if verdict.delay is not None:
        return f"{label} rate limited ({verdict.detail}), retrying in {verdict.delay:g}s"
    return f"{label} failed ({verdict.detail}), retrying"


def as_error(label: str, verdict: Verdict) -> Exception:
    """The exception that tells the dispatcher what to do after a failed call."""
    if verdict.outcome == "refused":
        return GiveUp(f"{label} refused ({verdict.detail})")
    return RetryLater(f"{label}: {verdict.detail}", verdict.delay)


async def attempt(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[Verdict, httpx.Response | None]:
    """Make one request; return its verdict and the response, if one came.

    What the far side said about a failure is logged here, and only here: the log's
    filter masks the secrets it may echo, the timeline and Slack never see it.
    """
    response: httpx.Response | None = None
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        verdict = judge_error(error)
    else:
        verdict = judge(response)
    if not verdict.ok:
        log.warning(
            "%s %s answered %s: %s", method, url, verdict.detail, verdict.said or "(no body)"
        )
    return verdict, response


async def call(
    client: httpx.AsyncClient,
    journal: Journal,
    *,
    incident_id: int,
    label: str,
    data: dict[str, Any],
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    """Make a request that must succeed; on failure record it and raise for the dispatcher."""
    verdict, response = await attempt(client, method, url, **kwargs)
    if verdict.ok and response is not None:
        return response
    await journal.record(
        incident_id,
        failure_text(label, verdict),
        ok=False,
        data={**data, "error": verdict.detail, "retry": verdict.outcome == "retry"},
    )
    raise as_error(label, verdict)
