"""The running service's shared parts, built once from Settings in the entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.composition.config import Settings
from bot.incidents.clock import Clock, SystemClock
from bot.incidents.context import Domain
from bot.outbox.batching import Traffic
from playbooks import bundled_dir, load_dir
from storage.db import (
    is_sqlite,
    make_engine,
    make_sessionmaker,
    make_statement_engine,
    statement_sessionmaker,
)
from storage.migrate import current_revision, ensure_current, head_revision


class StartupError(RuntimeError):
    """The service cannot start; the message is one line for the operator."""


@dataclass
class Runtime:
    """Settings, database and domain collaborators shared by every adapter."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    domain: Domain
    # Called after a commit that wrote outbox rows, so the dispatcher starts at once
    # instead of at its next poll. The dispatcher replaces this no-op when it starts.
    wake_dispatcher: Callable[[], None] = field(default=lambda: None)
    # For single-statement writes on an answer's path (see `make_statement_engine`);
    # None: the main engine.
    statement_engine: Engine | None = None
    # Alert notifications waiting on their commit: long reads give way while they come.
    alert_traffic: Traffic = field(default_factory=Traffic)

    @property
    def statement_sessions(self) -> sessionmaker[Session]:
        """Sessions for single-statement writes that must be durable once they return."""
        return statement_sessionmaker(self.statement_engine or self.engine)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self.statement_engine is not None:
            self.statement_engine.dispose()


def playbooks_dir(settings: Settings) -> Path:
    """The folder playbooks come from: WARROOM_PLAYBOOKS, else the bundled ones."""
    return Path(settings.playbooks_dir) if settings.playbooks_dir else bundled_dir()


def open_database(settings: Settings) -> Engine:
    """An engine on a database whose schema is current (SQLite is migrated by itself);
    StartupError with the one-line reason otherwise."""
    engine = make_engine(settings.database_url)
    try:
        if is_sqlite(settings.database_url):
            ensure_current(engine)  # Alembic loads only when the schema must change
        elif current_revision(engine) != head_revision():
            raise StartupError(
                "the database schema is not up to date: run `warroom db upgrade` first"
            )
    except StartupError:
        engine.dispose()
        raise
    except Exception as error:
        engine.dispose()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise StartupError(f"cannot use the database: {first_line}") from error
    return engine


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Connect to the database (migrating SQLite by itself) and load the playbooks."""
    engine = open_database(settings)
    try:
        catalog = load_dir(playbooks_dir(settings))
    except Exception as error:
        engine.dispose()
        raise StartupError(f"cannot load playbooks: {error}") from error
    domain = Domain(
        clock=clock or SystemClock(),
        tz=settings.tz,
        catalog=catalog,
        announce_private=settings.announce_private,
        tracker=settings.tracker,
        archive_after=settings.archive_delay,
    )
    return Runtime(
        settings,
        engine,
        make_sessionmaker(engine),
        domain,
        statement_engine=make_statement_engine(settings.database_url),
    )
