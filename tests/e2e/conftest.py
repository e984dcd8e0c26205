"""The whole service in sandbox mode on a real uvicorn server, reached over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from bot.composition.app import create_app
from bot.composition.config import Settings
from bot.composition.runtime import Runtime, build_runtime
from bot.incidents.clock import Clock
from bot.sandbox.client import SandboxClient
from tests.support.server import free_port, run_app_in_thread

ALERT_TOKEN = "e2e-alert-token-0123"


@dataclass
class Service:
    """A running warroom: its URL, the sandbox's client, and its runtime."""

    url: str
    sandbox: SandboxClient
    runtime: Runtime

    @property
    def auth(self) -> dict[str, str]:
        """Headers that pass `/alerts/*` and `/api/*` authentication."""
        return {"Authorization": f"Bearer {ALERT_TOKEN}"}


def make_settings(url: str, **extra: str) -> Settings:
    """Settings for a test service: sandbox mode, Hong Kong time, no `.env` from the dev box."""
    values = {
        "DATABASE_URL": url,
        "WARROOM_TIMEZONE": "Asia/Hong_Kong",
        "WARROOM_BROADCAST_CHANNEL": "incidents",
        "WARROOM_ALERT_TOKEN": ALERT_TOKEN,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def serving(url: str, *, clock: Clock | None = None, **settings: str) -> Iterator[Service]:
    """Run warroom in sandbox mode on a free port with extra settings (and the domain's
    clock, when a test moves time on)."""
    runtime = build_runtime(make_settings(url, **settings), clock=clock)
    port = free_port()
    app = create_app(runtime, public_url=f"http://127.0.0.1:{port}")
    with run_app_in_thread(app, port=port) as base:
        client = SandboxClient(base)
        yield Service(base, client, runtime)
        client.close()
    runtime.close()


@pytest.fixture
def service(database: tuple[Engine, str]) -> Iterator[Service]:
    """warroom serving in sandbox mode on a free port."""
    with serving(database[1]) as running:
        yield running
