"""One call to a third party: send it, and record on the timeline how it went."""

from __future__ import annotations

from typing import Any

import httpx

from bot.integrations.http import Verdict, judge, judge_error
from bot.integrations.journal import Journal
from bot.outbox.errors import GiveUp, RetryLater


def failure_text(label: str, verdict: Verdict) -> str:
    """A timeline line for a failed call: "Statuspage update failed (503), retrying"."""
    if verdict.outcome == "refused":
        return f"{label} failed ({verdict.detail})"
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
    """Make one request; return its verdict and the response, if one came."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        return judge_error(error), None
    return judge(response), response


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
