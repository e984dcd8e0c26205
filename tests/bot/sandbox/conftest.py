"""The sandbox in a real uvicorn server over a real database, reached with slack-sdk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from slack_sdk import WebClient
from sqlalchemy import Engine, create_engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient
from bot.sandbox.tables import metadata
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh database: a SQLite file, or PostgreSQL from WARROOM_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warroom.db'}"
        return
    url = os.environ.get("WARROOM_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("WARROOM_TEST_POSTGRES_URL is required under CI")
        pytest.skip("WARROOM_TEST_POSTGRES_URL not set")
    engine = create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    yield url
    engine = create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    assert engine.pool.checkedout() == 0, "a sandbox connection was left checked out"
    engine.dispose()


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
