"""A 503 means the database is really down: a row it refuses is the request's fault (422).

The refusals are the databases' own (a trigger that aborts, a NUL, an index row too big,
an unreachable server), never exceptions made up in the test.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import SQLAlchemyError

from bot.composition.runtime import Runtime
from bot.incidents.context import Domain
from bot.web.errors import DATA_REFUSED, DATABASE_UNAVAILABLE, database_answer
from storage.db import make_engine, make_sessionmaker
from storage.models import Delivery
from tests.bot.alerts.payloads import dump, load
from tests.bot.web.conftest import Served, make_settings, web_app
from tests.support.server import run_app_in_thread

REFUSED_TITLE = "refused by the database"
TRIGGERS = {
    # SQLite: RAISE(ABORT) is a constraint failure (IntegrityError).
    "sqlite": [
        f"""CREATE TRIGGER refuse_alert BEFORE INSERT ON alerts
        WHEN NEW.title = '{REFUSED_TITLE}'
        BEGIN SELECT RAISE(ABORT, 'alert refused'); END"""
    ],
    # PostgreSQL: SQLSTATE 22023 invalid_parameter_value, a data exception (DataError).
    "postgresql": [
        f"""CREATE FUNCTION refuse_alert() RETURNS trigger AS $$
        BEGIN
          IF NEW.title = '{REFUSED_TITLE}' THEN
            RAISE EXCEPTION 'alert refused' USING ERRCODE = '22023';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER refuse_alert BEFORE INSERT ON alerts
        FOR EACH ROW EXECUTE FUNCTION refuse_alert()""",
    ],
}


def caught(engine: Engine, statement: str, **params: object) -> SQLAlchemyError:
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), params)
    except SQLAlchemyError as error:
        return error
    raise AssertionError(f"the database accepted {statement!r}")


def test_a_row_the_database_refuses_answers_422_not_503(engine: Engine, web: Served) -> None:
    with engine.begin() as connection:
        for statement in TRIGGERS[engine.dialect.name]:
            connection.execute(text(statement))
    refused = {**load("generic_firing.json"), "title": REFUSED_TITLE}

    response = web.post("generic", dump(refused))

    assert (response.status_code, response.json()) == (422, DATA_REFUSED)
    assert web.counts()["incidents"] == 0
    # The database is fine: the next alert is stored.
    assert web.post("generic", dump(load("generic_firing.json"))).status_code == 202


def test_an_unreachable_database_answers_503(tmp_path: Path, domain: Domain) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'warroom.db'}"
    engine = make_engine(url)
    runtime = Runtime(
        settings=make_settings(url, slack=True),
        engine=engine,
        sessions=make_sessionmaker(engine),
        domain=domain,
    )
    runtime.wake_dispatcher = lambda: None
    try:
        with run_app_in_thread(web_app(runtime)) as base:
            served = Served(base, runtime)
            response = served.post("generic", dump(load("generic_firing.json")))
            listed = served.get("/api/incidents")
    finally:
        engine.dispose()

    assert (response.status_code, response.json()) == (503, DATABASE_UNAVAILABLE)
    assert (listed.status_code, listed.json()) == (503, DATABASE_UNAVAILABLE)


def test_a_duplicate_row_is_refused_data(engine: Engine) -> None:
    insert = (
        "INSERT INTO deliveries (source, delivery_id, received_at, response)"
        " VALUES ('pagerduty', 'x', :at, '{}')"
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(text(insert), {"at": now})

    assert database_answer(caught(engine, insert, at=now)) == (422, DATA_REFUSED)


def test_a_time_no_column_can_hold_is_refused_data(engine: Engine) -> None:
    late = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))
    statement = insert(Delivery).values(source="s", delivery_id="d", received_at=late, response={})
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    except SQLAlchemyError as error:
        assert database_answer(error) == (422, DATA_REFUSED)
    else:
        raise AssertionError("a time past the year 9999 in UTC was stored")


@pytest.mark.postgres
@pytest.mark.parametrize(
    "value",
    # Random text: PostgreSQL compresses an index entry, and a repeated letter fits.
    [
        pytest.param("a\x00b", id="nul"),
        pytest.param(secrets.token_urlsafe(15_000), id="index-row-too-big"),
    ],
)
def test_postgresql_refusals_of_a_value_are_refused_data(engine: Engine, value: str) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's own limits")
    error = caught(
        engine,
        "INSERT INTO deliveries (source, delivery_id, received_at, response)"
        " VALUES ('s', :id, now(), '{}')",
        id=value,
    )

    assert database_answer(error) == (422, DATA_REFUSED)


def test_a_postgresql_server_that_is_not_there_is_unavailable() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        error = caught(engine, "SELECT 1")
    finally:
        engine.dispose()

    assert database_answer(error) == (503, DATABASE_UNAVAILABLE)
