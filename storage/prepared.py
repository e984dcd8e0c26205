"""Core statements run on the driver's own cursor (`Prepared`): compiled by SQLAlchemy once,
then each execution only binds its parameters. The alert writer's hot path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, exc
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from storage.db import driver_of, found_dead

# SQLite's limit on a statement's parameters (3.32 and later), as SQLAlchemy's own
# many-row INSERT batches by.
SQLITE_MAX_PARAMETERS = 32766
_NO_DEFAULT = object()


@dataclass(frozen=True)
class _Compiled:
    """A statement as SQLAlchemy compiles it for SQLite, with what it does per parameter."""

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # name, default, processor
    values: str | None  # an INSERT's "?, ..." VALUES group, to repeat for several rows
    width: int  # the parameters of that group (the first ones)
    expanding: tuple[str, ...]
    returns: bool


# psycopg's text (named "%(p)s" parameters), every parameter with its default, those the
# caller must give, the column types' bind processors by parameter, whether it returns rows.
_PsycopgCompiled = tuple[str, dict[str, Any], frozenset[str], dict[str, Callable[[Any], Any]], bool]

# One "%(name)s::TYPE" of an INSERT's VALUES group as SQLAlchemy renders it for psycopg.
_CAST_BIND = re.compile(r"%\((\w+)\)s::([A-Z][A-Z0-9_ ]*(?:\(\d+(?:, ?\d+)?\))?(?:\[\])?)")
_VALUES = " VALUES ("
_ROWS = "warroom_rows"  # the recordset's parameter: a name no statement of ours binds
# Column types a JSON value reaches as the driver's own parameter would. Not a timestamp
# without time zone: PostgreSQL would keep an aware value's wall time where psycopg's cast
# converts it to the session's zone.
_JSON_TYPES = frozenset(
    {"INTEGER", "BIGINT", "SMALLINT", "BOOLEAN", "VARCHAR", "TEXT", "JSON", "JSONB"}
    | {"TIMESTAMP WITH TIME ZONE"}
)


@dataclass(frozen=True)
class _Recordset:
    """An INSERT's rows as one JSON array on PostgreSQL: `sql` selects them from
    `jsonb_to_recordset`, one column per parameter of the VALUES group (`names`); `json`
    names the JSON columns' parameters, whose values go in as they are."""

    sql: str
    names: tuple[str, ...]
    json: frozenset[str]
    once: tuple[str, ...]  # the statement's other parameters (its literals), bound once


def _bound(
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...],
    given: dict[str, Any],
    times: dict[tuple[Any, datetime, Any], Any],
) -> tuple[Any, ...]:
    # A plain loop: per row of a storm's batch, a generator costs twice as much.
    values = []
    for name, default, processor in binds:
        value = given[name] if default is _NO_DEFAULT else given.get(name, default)
        values.append(value if processor is None else _processed(processor, value, times))
    return tuple(values)


def _processed(
    processor: Callable[[Any], Any], value: Any, times: dict[tuple[Any, datetime, Any], Any]
) -> Any:
    """The value as the column type binds it. A batch's rows share their times (the
    batch's "now", a group's startsAt): each is converted once per statement. Equal
    instants at other offsets are told apart (a plain DateTime keeps the wall time)."""
    if value.__class__ is not datetime:
        return processor(value)
    key = (processor, value, value.utcoffset())
    done = times.get(key, _NO_DEFAULT)
    if done is _NO_DEFAULT:
        done = times[key] = processor(value)
    return done


def _wrapped(connection: Connection, error: Any, sql: str, rows: Any) -> exc.StatementError:
    """The driver's error as SQLAlchemy's; a connection found dead is invalidated, as
    SQLAlchemy's own execute does (the pool then checks the others before their next use)."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
        found_dead(connection.engine)
    return exc.DBAPIError.instance(
        sql, rows, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


def _recordset(compiled: Any) -> _Recordset | None:
    """The recordset form of a compiled INSERT, or None where its VALUES group is more than
    a run of cast parameters (a SQL expression, a type this cannot tell)."""
    sql = compiled.string
    start = sql.find(_VALUES) + len(_VALUES)
    if not sql.startswith("INSERT INTO ") or start < len(_VALUES) or _ROWS in compiled.binds:
        return None
    found: list[re.Match[str]] = []
    end = start
    while (match := _CAST_BIND.match(sql, end)) is not None:
        found.append(match)
        end = match.end()
        if not sql.startswith(", ", end):
            break
        end += 2
    if not found or not sql.startswith(")", end):
        return None
    types: dict[str, str] = {}
    for match in found:
        name, type_ = match.groups()
        if types.setdefault(name, type_) != type_ or type_.split("(")[0] not in _JSON_TYPES:
            return None
    json_names = frozenset(name for name in types if isinstance(compiled.binds[name].type, JSON))
    columns = ", ".join(f'"{name}" {type_}' for name, type_ in types.items())
    select = ", ".join(f'r."{match.group(1)}"' for match in found)
    rows = f" SELECT {select} FROM jsonb_to_recordset(%({_ROWS})s::JSONB) AS r({columns})"
    sql = sql[: start - len(_VALUES)] + rows + sql[end + 1 :]
    once = tuple(name for name in compiled.binds if name not in types and f"%({name})s" in sql)
    if any(compiled.binds[name].required for name in once):
        return None  # a value the caller gives per row outside VALUES (none of ours)
    return _Recordset(sql, tuple(types), json_names, once)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _document(
    form: _Recordset,
    many: list[dict[str, Any]],
    defaults: dict[str, Any],
    processors: dict[str, Callable[[Any], Any]],
) -> str | None:
    """Several rows as the recordset's JSON array, or None to run them one by one: a
    value JSON cannot carry as the column would take it."""
    # A batch's rows share their times: each converted and written out once.
    done: dict[tuple[Any, Any, Any], Any] = {}
    listed = []
    for given in many:
        values = {}
        for name in form.names:
            value = given[name] if name in given else defaults[name]
            if name in form.json:
                # The JSON column's own value (SQLAlchemy's processor only wraps it for
                # psycopg); None is JSON's null to SQLAlchemy but SQL NULL here.
                if value is None:
                    return None
            elif value.__class__ is datetime:
                key = (name, value, value.utcoffset())
                text = done.get(key)
                if text is None:
                    processor = processors.get(name)
                    text = value if processor is None else processor(value)
                    text = done[key] = text.isoformat() if isinstance(text, datetime) else text
                value = text
            else:
                processor = processors.get(name)
                if processor is not None:
                    value = processor(value)
            values[name] = value
        listed.append(values)
    try:
        return json.dumps(listed, default=_jsonable, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


class Prepared:
    """A Core statement run on the driver's own cursor: compiled by SQLAlchemy once, then
    each execution only binds its parameters (with the column types' own bind processing).

    SQLAlchemy's execute path costs 30-150 us a statement in Python (execution context,
    events, result wrapping) against a few us for sqlite3's; an alert batch's statements
    are most of its writer's time. On PostgreSQL rows go through psycopg's own cursor (see
    `_run_psycopg`); a statement with an IN list through `connection.execute`. Rows come
    back as plain tuples, unprocessed: meant for statements returning plain integer and
    text columns.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None
        self._many: dict[int, str] = {}
        self._psycopg: _PsycopgCompiled | None = None
        self._rows_form: _Recordset | None = None
        self._expands: bool | None = None

    def run(
        self, connection: Connection, params: list[dict[str, Any]] | dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Execute with one parameter set, or several (INSERT); return the rows, if any."""
        many = params if isinstance(params, list) else [params]
        dialect = connection.dialect.name
        if dialect == "postgresql" and many and not self._expanding(connection):
            return self._run_psycopg(connection, many)
        if dialect != "sqlite" or not many:
            result = connection.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._compiled or self._compile(connection)
        times: dict[tuple[Any, datetime, Any], Any] = {}
        rows = [_bound(compiled.binds, set_, times) for set_ in many]
        driver = driver_of(connection.connection)
        sql = compiled.sql
        try:
            if compiled.expanding:
                (one,) = many
                sql, row = self._expanded(compiled, one, rows[0])
                return driver.execute(sql, row).fetchall()
            if not compiled.returns:
                if len(rows) == 1:
                    driver.execute(sql, rows[0])
                else:
                    driver.executemany(sql, rows)
                return []
            found: list[tuple[Any, ...]] = []
            # The VALUES group repeated per row; what follows it (the ON CONFLICT clause's
            # own values) once, after them.
            width = compiled.width
            per = max(1, (SQLITE_MAX_PARAMETERS - len(compiled.binds)) // max(1, width))
            for start in range(0, len(rows), per):
                chunk = rows[start : start + per]
                sql = self._for_rows(compiled, len(chunk))
                flat = [value for row in chunk for value in row[:width]]
                flat += chunk[0][width:]
                found += driver.execute(sql, flat).fetchall()
            return found
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, error, sql, rows) from error

    def _run_psycopg(
        self, connection: Connection, many: list[dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        """Rows on psycopg's own cursor: one row by `execute`; several rows of an INSERT as
        one JSON array read by `jsonb_to_recordset` (one statement, one parameter); others
        by one statement text run once per row in one pipeline (`executemany`).

        SQLAlchemy sends several rows as one statement with a VALUES group per row: a new
        text for every batch size, with more parameters than psycopg caches (50), so the
        driver parses it anew each time and PostgreSQL never prepares it. Run per row, each
        row costs psycopg 40-70 us of Python (binding, sending, its result); the JSON array
        is one C encoding and one statement text whatever the count. Values through the
        column types' own bind processing; RETURNING rows in no promised order.
        """
        compiled = self._psycopg or self._compile_psycopg(connection)
        sql, defaults, required, processors, returns = compiled
        for given in many:
            if not required <= given.keys():
                raise KeyError(f"no value for {sorted(required - given.keys())}")
        driver = driver_of(connection.connection)
        form = self._rows_form
        document = None
        if form is not None and len(many) > 1:
            document = _document(form, many, defaults, processors)
        times: dict[tuple[Any, datetime, Any], Any] = {}
        rows: list[dict[str, Any]] = []
        if document is None:
            for given in many:
                row = dict(defaults)
                for name, value in given.items():
                    processor = processors.get(name)
                    row[name] = value if processor is None else _processed(processor, value, times)
                rows.append(row)
        try:
            with driver.cursor() as cursor:
                if document is not None:
                    assert form is not None
                    once = {name: defaults[name] for name in form.once}
                    cursor.execute(form.sql, {**once, _ROWS: document})
                    return cursor.fetchall() if returns else []
                if len(rows) == 1:
                    cursor.execute(sql, rows[0])
                    return cursor.fetchall() if returns else []
                cursor.executemany(sql, rows, returning=returns)
                found: list[tuple[Any, ...]] = []
                if returns:
                    found += cursor.fetchall()
                    while cursor.nextset():
                        found += cursor.fetchall()
                return found
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, error, sql, rows) from error

    def _expanding(self, connection: Connection) -> bool:
        # An IN list's text changes with its length: left to SQLAlchemy, which renders it.
        if self._expands is None:
            statement: Any = self.statement
            compiled: Any = statement.compile(dialect=connection.dialect)
            self._expands = any(
                getattr(bind, "expanding", False) for bind in compiled.binds.values()
            )
        return self._expands

    def _compile_psycopg(self, connection: Connection) -> _PsycopgCompiled:
        statement: Any = self.statement
        compiled: Any = statement.compile(dialect=connection.dialect, for_executemany=True)
        if compiled.escaped_bind_names:
            raise ValueError("bind names that need escaping are not supported")
        # Every parameter the text names, with the value the statement carries (literals).
        defaults = compiled.construct_params(_check=False)
        required = frozenset(
            name for name, bind in compiled.binds.items() if bind.required and name in defaults
        )
        self._rows_form = _recordset(compiled)
        self._psycopg = (
            compiled.string,
            defaults,
            required,
            dict(compiled._bind_processors),
            bool(compiled.returning) or bool(statement.is_select),
        )
        return self._psycopg

    def _compile(self, connection: Connection) -> _Compiled:
        # As for an executemany: SQLite's compiler then says which part of an INSERT's
        # VALUES repeats for each row (its "insertmanyvalues" group).
        statement: Any = self.statement
        compiled: Any = statement.compile(dialect=connection.dialect, for_executemany=True)
        processors = compiled._bind_processors
        expanding = tuple(
            name for name, bind in compiled.binds.items() if getattr(bind, "expanding", False)
        )
        binds = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            # A value the statement carries itself (a literal in `.values()`) has a default.
            default = _NO_DEFAULT if bind.required else bind.effective_value
            binds.append((name, default, processors.get(name)))
        manyvalues = getattr(compiled, "_insertmanyvalues", None)
        values = manyvalues.single_values_expr if manyvalues is not None else None
        width = values.count("?") if values is not None else len(binds)
        if values is not None:
            # What follows the VALUES group is bound once per statement, not per row.
            assert all(default is not _NO_DEFAULT for _, default, _ in binds[width:])
            assert f"VALUES ({values})" in compiled.string
        self._compiled = _Compiled(
            sql=compiled.string,
            binds=tuple(binds),
            values=values,
            width=width,
            expanding=expanding,
            returns=bool(compiled.returning) or bool(statement.is_select),
        )
        return self._compiled

    def _for_rows(self, compiled: _Compiled, count: int) -> str:
        if count == 1:
            return compiled.sql
        sql = self._many.get(count)
        if sql is None:
            assert compiled.values is not None, "several rows for a statement without VALUES"
            group = f"({compiled.values})"
            sql = compiled.sql.replace(f"VALUES {group}", "VALUES " + ", ".join([group] * count), 1)
            self._many[count] = sql
        return sql

    @staticmethod
    def _expanded(
        compiled: _Compiled, params: dict[str, Any], row: tuple[Any, ...]
    ) -> tuple[str, list[Any]]:
        # An expanding IN: one "?" per value, the values in its place among the others.
        sql = compiled.sql
        flat: list[Any] = []
        for (name, _, _), value in zip(compiled.binds, row, strict=True):
            if name in compiled.expanding:
                values = list(params[name])
                if not values:
                    raise ValueError(f"{name}: an empty IN list")
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(values)), 1)
                flat += values
            else:
                flat.append(value)
        return sql, flat
