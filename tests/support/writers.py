"""A write held open by another connection, as another process of warroom would hold one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def writing(url: str, incident_id: int) -> Iterator[None]:
    """Another connection retitles the incident and holds its transaction open until the
    block ends, then rolls it back: SQLite's write lock on the file, PostgreSQL's row lock."""
    other = create_engine(url)  # not the service's: its own pool, and on SQLite no lock of ours
    try:
        with other.connect() as connection:
            if other.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.execute(
                text("UPDATE incidents SET title = 'being retitled' WHERE id = :id"),
                {"id": incident_id},
            )
            yield
            connection.rollback()
    finally:
        other.dispose()
