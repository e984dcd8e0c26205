"""The sandbox in a real uvicorn server over a real database, reached with slack-sdk.

The database comes from the root conftest's `engine`: SQLite, and PostgreSQL in a fresh schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient
from tests.support.server import run_app_in_thread


def sandbox_app(engine: Engine, **kwargs: object) -> tuple[FastAPI, Sandbox]:
    """Build the app the way the service mounts the sandbox: under /sandbox."""
    sandbox = Sandbox(engine, **kwargs)  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(build_sandbox_router(sandbox), prefix="/sandbox")
    return app, sandbox


@dataclass
class RunningSandbox:
    url: str
    sandbox: Sandbox
    client: SandboxClient


@pytest.fixture
def running(engine: Engine) -> Iterator[RunningSandbox]:
    app, sandbox = sandbox_app(engine)
    with run_app_in_thread(app) as url:
        client = SandboxClient(url)
        yield RunningSandbox(url, sandbox, client)
        client.close()


@pytest.fixture
def sandbox(running: RunningSandbox) -> SandboxClient:
    return running.client


@pytest.fixture
def bot(sandbox: SandboxClient) -> WebClient:
    return sandbox.bot()
