"""A warroom app served over real HTTP on the test database, with helpers to count rows."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.composition.config import Settings
from bot.composition.runtime import Runtime
from bot.incidents.context import Domain
from bot.web.alert_lane import AlertLane
from bot.web.alerts import build_alerts_router
from bot.web.api import build_api_router
from storage.models import Alert, Delivery, Incident, OutboxOp, TimelineEvent
from tests.support.server import run_app_in_thread

TOKEN = "s3cret-alert-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SOURCES = ["alertmanager", "grafana", "pagerduty", "datadog", "opsgenie", "generic"]
FIRING = {
    "alertmanager": "alertmanager_firing.json",
    "grafana": "grafana_firing.json",
    "pagerduty": "pagerduty_triggered.json",
    "datadog": "datadog_triggered.json",
    "opsgenie": "opsgenie_create.json",
    "generic": "generic_firing.json",
}
RESOLVED = {
    "alertmanager": "alertmanager_resolved.json",
    "grafana": "grafana_resolved.json",
    "pagerduty": "pagerduty_resolved.json",
    "datadog": "datadog_recovered.json",
    "opsgenie": "opsgenie_close.json",
    "generic": "generic_resolved.json",
}
TABLES = {
    "incidents": Incident,
    "alerts": Alert,
    "timeline": TimelineEvent,
    "outbox": OutboxOp,
    "deliveries": Delivery,
}


def make_settings(
    url: str, *, token: str | None = TOKEN, slack: bool = False, **env: Any
) -> Settings:
    """Settings from explicit values only: neither the environment nor `.env` leaks in."""
    return Settings(
        _env_file=None,
        DATABASE_URL=url,
        WARROOM_ALERT_TOKEN=token,
        SLACK_BOT_TOKEN="xoxb-test" if slack else None,
        SLACK_SIGNING_SECRET="signing-secret-0123456789" if slack else None,
        WARROOM_TIMEZONE="Asia/Hong_Kong",
        **env,
    )


def web_app(runtime: Runtime) -> FastAPI:
    """Just the web adapters on a bare app: no Slack, no outbox dispatcher replacing the wake.
    Alerts come in through their lane, as in the service."""
    app = FastAPI()
    alerts = build_alerts_router(runtime)
    app.include_router(alerts)
    route = alerts.routes[0]
    assert isinstance(route, APIRoute)
    app.add_middleware(AlertLane, route=route)
    app.include_router(build_api_router(runtime))
    return app


def count_rows(sessions: sessionmaker[Session]) -> dict[str, int]:
    """How many rows each table the alert route writes holds."""
    with sessions() as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in TABLES.items()
        }


def grafana_signature(body: bytes, timestamp: str | None = None, key: str = TOKEN) -> str:
    message = body if timestamp is None else timestamp.encode() + b":" + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def pagerduty_signature(body: bytes, key: str = TOKEN) -> str:
    return "v1=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Served:
    """A running app: its base URL, runtime, and what the dispatcher was woken to see."""

    base: str
    runtime: Runtime
    # Incidents committed (seen from a fresh session) each time the dispatcher was woken.
    wakes: list[int] = field(default_factory=list)

    def post(
        self, source: str, body: bytes | Any, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """POST a raw body to /alerts/<source> (bearer token unless headers say otherwise)."""
        sent = BEARER if headers is None else headers
        return httpx.post(
            f"{self.base}/alerts/{source}", content=body, headers=sent, timeout=30, **kw
        )

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        sent = BEARER if headers is None else headers
        return httpx.get(f"{self.base}{path}", headers=sent, timeout=30, **kw)

    def counts(self) -> dict[str, int]:
        return count_rows(self.runtime.sessions)


@pytest.fixture
def make_runtime(
    database: tuple[Engine, str], sessions: sessionmaker[Session], domain: Domain
) -> Callable[..., Runtime]:
    """Build a Runtime on the test database with the given token and Slack mode."""

    def build(*, token: str | None = TOKEN, slack: bool = False, **env: Any) -> Runtime:
        engine, url = database
        return Runtime(
            settings=make_settings(url, token=token, slack=slack, **env),
            engine=engine,
            sessions=sessions,
            domain=domain,
        )

    return build


@pytest.fixture
def serve(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Served]]:
    """Start the app over real HTTP on 127.0.0.1 with the given token, Slack mode and
    further environment variables."""
    stack: list[Any] = []

    def start(*, token: str | None = TOKEN, slack: bool = False, **env: Any) -> Served:
        runtime = make_runtime(token=token, slack=slack, **env)
        served = Served("", runtime)

        def wake() -> None:
            served.wakes.append(count_rows(runtime.sessions)["incidents"])

        runtime.wake_dispatcher = wake
        context = run_app_in_thread(web_app(runtime))
        served.base = context.__enter__()
        stack.append(context)
        return served

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def web(serve: Callable[..., Served]) -> Served:
    """The app with WARROOM_ALERT_TOKEN set and real Slack credentials."""
    return serve(slack=True)
