"""Column types shared by the tables: UTC timestamps and portable JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; always hand back aware UTC datetimes.

    SQLite keeps no offset, so without this a value read back would be naive and
    compare wrongly against the clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the domain only stores aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class written_cadence(FunctionElement[str]):
    """The status-update cadence a playbook snapshot writes, as text (NULL: none), with its
    JSON path spelled inline: a bound path (SQLAlchemy's `["a"]["b"].as_string()`) is not
    matched to the expression index `ix_incidents_cadence` by either database."""

    type = String()
    inherit_cache = True


# Where the snapshot keeps the cadence (the playbook's YAML as written, "20m"), per database;
# migration 0021 spells its index's expression the same (each database matches the shape).
WRITTEN_PATH_SQLITE = "'$.reminders.status_update'"
WRITTEN_PATH_POSTGRESQL = "-> 'reminders' ->> 'status_update'"


@compiles(written_cadence, "sqlite")
def _written_cadence_sqlite(element: written_cadence, compiler: Any, **kw: Any) -> str:
    (snapshot,) = element.clauses
    return f"CAST(json_extract({compiler.process(snapshot, **kw)}, {WRITTEN_PATH_SQLITE}) AS TEXT)"


@compiles(written_cadence, "postgresql")
def _written_cadence_postgresql(element: written_cadence, compiler: Any, **kw: Any) -> str:
    (snapshot,) = element.clauses
    return f"({compiler.process(snapshot, **kw)} {WRITTEN_PATH_POSTGRESQL})"
