"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.incidents.context import Domain
from playbooks import bundled_dir, load_dir
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

CI_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    """The PostgreSQL server for tests: always the local one under CI, else if given."""
    if os.environ.get("CI", "").lower() == "true":
        return os.environ.get("WARROOM_TEST_POSTGRES_URL", CI_POSTGRES)
    return os.environ.get("WARROOM_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A reachable PostgreSQL URL; under CI a missing server fails instead of skipping."""
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL tests need WARROOM_TEST_POSTGRES_URL (always run under CI=true)")
    probe = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        pytest.fail(f"PostgreSQL at {url} is not reachable: {error}")
    finally:
        probe.dispose()
    return url


def _postgres_schema_engine(server: str) -> Iterator[tuple[Engine, str]]:
    """An engine confined to a fresh schema, dropped afterwards, so tests never collide."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(server, connect_args={"options": f"-csearch_path={schema}"})
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Engine, str]]:
    """A migrated, empty database and its URL: SQLite in WAL mode, or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warroom.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine, url
        assert engine.pool.checkedout() == 0, "a test left a database connection checked out"
        engine.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    for engine, url in _postgres_schema_engine(server):
        upgrade(engine)
        yield engine, url
        assert engine.pool.checkedout() == 0, "a test left a database connection checked out"


@pytest.fixture
def engine(database: tuple[Engine, str]) -> Engine:
    """The test database's engine."""
    return database[0]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
def clock() -> SimulatedClock:
    """A clock at the reference incident's first alert: 2021-03-10 17:56 HKT."""
    return SimulatedClock(datetime(2021, 3, 10, 9, 56, tzinfo=UTC))


@pytest.fixture(scope="session")
def catalog():
    """The bundled playbooks."""
    return load_dir(bundled_dir())


@pytest.fixture
def domain(clock: SimulatedClock, catalog) -> Domain:
    """The domain's collaborators, in Hong Kong time like the reference incident."""
    return Domain(clock=clock, tz=ZoneInfo("Asia/Hong_Kong"), catalog=catalog)
