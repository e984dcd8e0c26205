"""Alembic, driven from code so `warroom db upgrade` needs no alembic.ini.

Alembic itself is imported only when the schema must change: a service starting on a
current database compares the stored revision with the scripts' head and goes on.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from storage.reads import read_connection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on the given engine."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a database already there is left untouched."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_current(engine: Engine) -> bool:
    """Upgrade to head unless the database already is there; return whether it upgraded."""
    if current_revision(engine) == head_revision():
        return False
    upgrade(engine)
    return True


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty one."""
    # A read that takes no writer's lock: every process checks this at start, and on SQLite
    # a transaction of its own would wait for (and hold up) a running service's writer.
    with read_connection(engine) as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    # Several rows would mean several heads, which this project's linear chain never has.
    return rows[0][0] if len(rows) == 1 else None


@cache
def head_revision() -> str | None:
    """The newest revision this code knows, read from the scripts' `revision` and
    `down_revision` assignments (without building Alembic's script environment)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = _assignments(script)
        revision, down = found.get("revision"), found.get("down_revision")
        if isinstance(revision, str):
            revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge revision names several
            parents.update(str(each) for each in down)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def _assignments(script: Path) -> dict[str, object]:
    """The module-level `name = literal` assignments of a migration script."""
    found: dict[str, object] = {}
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return found
