"""The alert lane: which requests it serves itself, and that they are answered, stored and
observed as when the router served them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from bot.composition.runtime import Runtime
from bot.web.alert_lane import AlertLane
from bot.web.alerts import build_alerts_router
from bot.web.observe import ObservedRequests
from tests.bot.alerts.payloads import load
from tests.bot.web.conftest import BEARER, count_rows


class Behind:
    """The app behind the lane: counts what reached it and answers 599."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def lane(runtime: Runtime) -> tuple[Any, Behind, list[tuple[str | None, Any, int]]]:
    """The real alert route's lane in front of `Behind`, inside the request observer."""
    route = build_alerts_router(runtime).routes[0]
    assert isinstance(route, APIRoute)
    behind = Behind()
    observed: list[tuple[str | None, Any, int]] = []

    def observe(scope: dict[str, Any], status: int, _seconds: float) -> None:
        label = getattr(scope.get("route"), "path", None)
        observed.append((label, scope.get("path_params"), status))

    return ObservedRequests(AlertLane(behind, route), [observe]), behind, observed


async def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lane") as client:
        return await client.request(method, path, **kwargs)


async def test_an_alert_is_stored_and_observed_under_its_route(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    app, behind, observed = lane(runtime)
    body = json.dumps(load("alertmanager_firing.json"))
    answer = await request(app, "POST", "/alerts/alertmanager", content=body, headers=BEARER)
    assert answer.status_code == 202, answer.text
    assert answer.json()["alerts"] == 1
    assert count_rows(runtime.sessions)["alerts"] == 1
    assert behind.paths == []
    # The request metrics label by route and source: what the router would have set.
    assert observed == [("/alerts/{source}", {"source": "alertmanager"}, 202)]


async def test_the_routes_own_errors_answer_through_the_lane(
    make_runtime: Callable[..., Runtime],
) -> None:
    app, behind, _ = lane(make_runtime())
    unknown = await request(app, "POST", "/alerts/nagios", content=b"{}", headers=BEARER)
    assert unknown.status_code == 404
    assert "nagios" in unknown.json()["error"]
    refused = await request(app, "POST", "/alerts/alertmanager", content=b"{}")
    assert refused.status_code == 401
    assert "error" in refused.json()
    assert behind.paths == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/alerts/alertmanager"),
        ("POST", "/alerts/alertmanager/extra"),
        ("POST", "/alerts/"),
        ("POST", "/alertsalertmanager"),
        ("POST", "/api/incidents"),
    ],
)
async def test_other_requests_go_on_behind_it(
    make_runtime: Callable[..., Runtime], method: str, path: str
) -> None:
    app, behind, _ = lane(make_runtime())
    answer = await request(app, method, path, headers=BEARER)
    assert answer.status_code == 599
    assert behind.paths == [path]


def test_the_lane_refuses_a_route_it_cannot_serve() -> None:
    async def receive() -> None:
        return None

    with pytest.raises(ValueError, match=re.escape("/{source}")):
        AlertLane(FastAPI(), APIRoute("/alerts/{kind}/x", receive))
