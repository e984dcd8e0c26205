"""Reads that wait for no writer and hold the GIL as little as they can: connections and
sessions that take no writer's lock (`read_connection`, `read_session`), and a timeline
page or an incident's alerts rendered as JSON by the database itself.

A page of 1,000 entries built in Python (rows, datetimes, dicts, the encoder) holds the GIL
for many milliseconds, which the service's event loop and its writer thread then wait for.
Here the database renders each entry (SQLite in C while the driver has released the GIL;
PostgreSQL in its own process) and the page comes back as one value in one row.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session

from storage.db import driver_of, is_sqlite
from storage.types import UTCDateTime

# SQLite's readers, one engine per main engine: a file's WAL lets them read while the
# writer writes, so they take neither the main engine's writer lock nor BEGIN IMMEDIATE.
_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads of one statement each (each its own snapshot), taking no
    writer's lock: SQLite's own read-only connections beside `engine`, PostgreSQL's pool
    in autocommit (no BEGIN or COMMIT round trip). An in-memory SQLite database has one
    connection: `engine`'s, as it is."""
    if is_sqlite(str(engine.url)):
        database = engine.url.database
        if not database or database == ":memory:":
            with engine.connect() as connection:
                yield connection
            return
        engine = _sqlite_reader(engine)
        with engine.connect() as connection:
            yield connection
        return
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def read_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only, every read in it from one snapshot, that makes no writer
    wait: on a SQLite file, a read transaction on a reader connection beside the writers
    (a writer's transaction there takes the file's write lock, for every process, until it
    ends); elsewhere, a transaction of the factory's own, rolled back at the end. What
    it loaded stays usable after the block."""
    bound = factory.kw.get("bind")
    engine = bound if isinstance(bound, Engine) and is_sqlite(str(bound.url)) else None
    if engine is None or engine.url.database in (None, "", ":memory:"):
        with factory() as session:
            if isinstance(bound, Engine) and bound.dialect.name == "postgresql":
                # Read committed would take a new snapshot for every statement.
                session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            # Closed, not rolled back: a rollback would expire what the read loaded, which
            # the caller may use after the block; closing gives the transaction back unended
            # and the pool rolls it back.
            yield session
        return
    with _sqlite_reader(engine).connect() as connection:
        driver = driver_of(connection.connection)
        # Deferred: the snapshot is taken at the first read and kept until the rollback;
        # a WAL file lets the writers commit meanwhile.
        driver.execute("BEGIN")
        try:
            with factory(bind=connection) as session:
                yield session
        finally:
            if driver.in_transaction:
                driver.execute("ROLLBACK")


def _sqlite_reader(engine: Engine) -> Engine:
    with _readers_lock:
        reader = _readers.get(engine)
        if reader is None:
            reader = _readers[engine] = _make_sqlite_reader(engine)
            # Disposed with the engine it reads beside (tests make and drop many).
            event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
        return reader


def _make_sqlite_reader(engine: Engine) -> Engine:
    reader = create_engine(
        engine.url,
        # pysqlite's own transactions off: a statement alone is a consistent snapshot.
        isolation_level="AUTOCOMMIT",
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")  # a reader never writes, even by mistake
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return reader


@dataclass(frozen=True)
class TimelineJSON:
    """A run of an incident's timeline rendered as the API's entries: `items` is their JSON
    objects (at, kind, actor, text, source) joined by commas, in the timeline's order;
    `last` is the (occurred_at, id) of the last one when more follow it, else None."""

    items: str
    last: tuple[datetime, int] | None


class NotRendered(Exception):
    """A stored time is not in the form the database can render exactly: read the page the
    ordinary way instead."""


def timeline_page_json(
    *, connection: Connection, incident_id: int, limit: int, after: tuple[datetime, int] | None
) -> TimelineJSON | None:
    """The first `limit` entries after position `after` (from the start without it), in the
    order (occurred_at, id), rendered by the database in one statement; None if there is no
    such incident. NotRendered if a time is stored in a form it cannot render exactly."""
    sqlite = connection.dialect.name == "sqlite"
    statement = _page_statement(sqlite, after is not None, False, _ordered_aggregates(connection))
    params: dict[str, Any] = {"incident": incident_id, "limit": limit, "more": limit + 1}
    if after is not None:
        params["after_at"], params["after_id"] = after
    return _rendered(connection, statement, params, sqlite)


def last_timeline_json(
    *, connection: Connection, incident_id: int, count: int
) -> TimelineJSON | None:
    """The last `count` entries, in the timeline's order, rendered as `timeline_page_json`
    renders them (`last` is always None); None if there is no such incident."""
    sqlite = connection.dialect.name == "sqlite"
    statement = _page_statement(sqlite, False, True, _ordered_aggregates(connection))
    params = {"incident": incident_id, "limit": count, "more": count}
    return _rendered(connection, statement, params, sqlite)


def _rendered(
    connection: Connection, statement: TextClause, params: dict[str, Any], sqlite: bool
) -> TimelineJSON | None:
    found, rows, items, last_at, last_id, odd = connection.execute(statement, params).one()
    if not found:
        return None
    if odd:
        raise NotRendered("a stored time is not in SQLAlchemy's canonical form")
    if rows <= params["limit"] or last_at is None:
        return TimelineJSON(items or "", None)
    at = datetime.fromisoformat(last_at).replace(tzinfo=UTC) if sqlite else last_at
    return TimelineJSON(items or "", (at.astimezone(UTC), int(last_id)))


# A stored time as the API writes it, in JSON quotes: ISO 8601, microseconds only when not
# zero, `Z` for UTC (`{c}`: the column).
_SQLITE_TIME = (
    """'"' || substr({c}, 1, 10) || 'T' || substr({c}, 12, 8)"""
    """ || CASE WHEN substr({c}, 20) = '.000000' THEN '' ELSE substr({c}, 20) END || 'Z"'"""
)
_POSTGRES_TIME = (
    """'"' || to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')"""
    """ || CASE WHEN date_trunc('second', {c}) = {c} THEN ''"""
    """ ELSE to_char({c} AT TIME ZONE 'UTC', '.US') END || 'Z"'"""
)
# One entry's JSON, exactly as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`
# writes it (json_quote and to_json escape what it escapes, the same way: tested for every
# code point), the time as above.
_SQLITE_ENTRY = (
    """'{"at":' || """
    + _SQLITE_TIME.format(c="occurred_at")
    + """ || ',"kind":' || json_quote(kind) || ',"actor":' || json_quote(actor)"""
    """ || ',"text":' || json_quote(text) || ',"source":' || json_quote(source) || '}'"""
)
_POSTGRES_ENTRY = (
    """'{"at":' || """
    + _POSTGRES_TIME.format(c="occurred_at")
    + """ || ',"kind":' || to_json(kind)::text"""
    """ || ',"actor":' || coalesce(to_json(actor)::text, 'null')"""
    """ || ',"text":' || to_json(text)::text || ',"source":' || to_json(source)::text || '}'"""
)
# SQLAlchemy writes SQLite times as 'YYYY-MM-DD HH:MM:SS.ffffff'; another form (a row
# written by hand) is read the ordinary way.
_SQLITE_CANONICAL = "'" + "-".join(["[0-9]" * 4, "[0-9]" * 2, "[0-9]" * 2]) + " "
_SQLITE_CANONICAL += ":".join(["[0-9]" * 2] * 3) + "." + "[0-9]" * 6 + "'"


@cache
def _page_statement(sqlite: bool, after: bool, newest: bool, ordered: bool) -> TextClause:
    """The page's statement: the entries in order (by an index seek on
    ix_timeline_incident_occurred), numbered; the first `limit` aggregated into one value,
    the last shown's position and whether a row follows it beside."""
    order = "occurred_at DESC, id DESC" if newest else "occurred_at, id"
    where = "incident_id = :incident"
    if after:
        # The first conjunct alone is the range the index seeks to.
        where += " AND occurred_at >= :after_at AND (occurred_at > :after_at OR id > :after_id)"
    entry = _SQLITE_ENTRY if sqlite else _POSTGRES_ENTRY
    odd = f"total(occurred_at NOT GLOB {_SQLITE_CANONICAL})" if sqlite else "0"
    page = (
        f"SELECT occurred_at, id, {entry} AS entry, row_number() OVER (ORDER BY {order}) AS n"
        f" FROM timeline_events WHERE {where} ORDER BY {order} LIMIT :more"
    )
    if sqlite:
        if newest:
            # Back into the timeline's order, which the aggregate follows.
            page = f"SELECT * FROM ({page}) ORDER BY occurred_at, id"
        # Before SQLite 3.44 an aggregate takes no ORDER BY; it takes its rows in the order
        # the subquery gives them, which is the timeline's.
        order_by = " ORDER BY occurred_at, id" if ordered else ""
        items = f"group_concat(CASE WHEN n <= :limit THEN entry END, ','{order_by})"
        last_at = "max(CASE WHEN n = :limit THEN occurred_at END)"
        last_id = "max(CASE WHEN n = :limit THEN id END)"
    else:
        items = "string_agg(entry, ',' ORDER BY occurred_at, id) FILTER (WHERE n <= :limit)"
        last_at = "max(occurred_at) FILTER (WHERE n = :limit)"
        last_id = "max(id) FILTER (WHERE n = :limit)"
    found = "EXISTS (SELECT 1 FROM incidents WHERE id = :incident)"
    sql = f"SELECT {found}, count(*), {items}, {last_at}, {last_id}, {odd} FROM ({page}) AS page"
    statement = text(sql)
    if after:
        statement = statement.bindparams(bindparam("after_at", type_=UTCDateTime))
    return statement


def _ordered_aggregates(connection: Connection) -> bool:
    """Whether the database's aggregates take ORDER BY (SQLite from 3.44; PostgreSQL's do)."""
    if connection.dialect.name != "sqlite":
        return True
    version: tuple[int, ...] = connection.dialect.dbapi.sqlite_version_info  # type: ignore[union-attr]
    return version >= (3, 44)


def _nullable(time: str, column: str) -> str:
    """A time column that may be unset, as `time` renders it or JSON's null."""
    return f"CASE WHEN {column} IS NULL THEN 'null' ELSE {time.format(c=column)} END"


# An alert as the API's `AlertOut` writes it: its times as the timeline's are, its labels
# and annotations as stored (the same JSON documents, spelled as stored).
_SQLITE_ALERT = (
    """'{"source":' || json_quote(source) || ',"fingerprint":' || json_quote(fingerprint)"""
    """ || ',"title":' || json_quote(title) || ',"status":' || json_quote(status)"""
    """ || ',"labels":' || json(labels) || ',"annotations":' || json(annotations)"""
    """ || ',"starts_at":' || """
    + _nullable(_SQLITE_TIME, "starts_at")
    + """ || ',"ends_at":' || """
    + _nullable(_SQLITE_TIME, "ends_at")
    + """ || ',"seen_count":' || seen_count || ',"url":' || json_quote(url) || '}'"""
)
_POSTGRES_ALERT = (
    """'{"source":' || to_json(source)::text || ',"fingerprint":' || to_json(fingerprint)::text"""
    """ || ',"title":' || to_json(title)::text || ',"status":' || to_json(status)::text"""
    """ || ',"labels":' || labels::text || ',"annotations":' || annotations::text"""
    """ || ',"starts_at":' || """
    + _nullable(_POSTGRES_TIME, "starts_at")
    + """ || ',"ends_at":' || """
    + _nullable(_POSTGRES_TIME, "ends_at")
    + """ || ',"seen_count":' || seen_count || ',"url":' || coalesce(to_json(url)::text, 'null')"""
    """ || '}'"""
)
# A NUL or a lone surrogate kept in a JSON column by an older warroom (SQLite only), spelled
# as JSON escapes: the ordinary read repairs them, this one would pass them on.
_UNREPAIRED = re.compile(
    r"\\u0000"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def alerts_json(*, connection: Connection, incident_id: int) -> str:
    """Every alert of the incident as the API's JSON objects joined by commas, in the order
    they came, rendered by the database in one statement (the GIL held for it, not for a
    loop over tens of thousands). NotRendered when a stored value is in a form it cannot
    render as the API does."""
    sqlite = connection.dialect.name == "sqlite"
    items, odd = connection.execute(
        _alerts_statement(sqlite, _ordered_aggregates(connection)), {"incident": incident_id}
    ).one()
    if odd:
        raise NotRendered("a stored time is not in SQLAlchemy's canonical form")
    items = items or ""
    if sqlite and _UNREPAIRED.search(items):
        raise NotRendered("a stored JSON document holds a NUL or a lone surrogate")
    return str(items)


@cache
def _alerts_statement(sqlite: bool, ordered: bool) -> TextClause:
    if sqlite:
        canonical = f" NOT GLOB {_SQLITE_CANONICAL}"
        odd = f"total(starts_at{canonical}) + total(ends_at{canonical})"
        # Before SQLite 3.44 an aggregate takes its rows in the subquery's order.
        order_by = " ORDER BY id" if ordered else ""
        rows = f"SELECT id, starts_at, ends_at, {_SQLITE_ALERT} AS alert FROM alerts"
        aggregate = f"group_concat(alert, ','{order_by})"
    else:
        odd = "0"
        rows = f"SELECT id, starts_at, ends_at, {_POSTGRES_ALERT} AS alert FROM alerts"
        aggregate = "string_agg(alert, ',' ORDER BY id)"
    rows += " WHERE incident_id = :incident ORDER BY id"
    return text(f"SELECT {aggregate}, {odd} FROM ({rows}) AS shown")
