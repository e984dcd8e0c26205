"""Alembic environment: runs migrations on the engine handed over by storage.migrate."""

from __future__ import annotations

from alembic import context

import storage.models  # registers the tables on the metadata
from sqlmodel import SQLModel

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
