"""The cheap schema check at start: Alembic runs only when the stored revision is behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import MIGRATIONS, current_revision, ensure_current, head_revision, upgrade


def test_head_read_from_the_scripts_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_fresh_database_is_created_and_a_current_one_left_alone(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert ensure_current(engine) is True
    assert current_revision(engine) == head_revision()
    assert "incidents" in inspect(engine).get_table_names()
    assert ensure_current(engine) is False
    engine.dispose()


def test_a_database_behind_is_upgraded_to_head(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine, "0015")
    assert current_revision(engine) == "0015"
    assert ensure_current(engine) is True
    assert current_revision(engine) == head_revision()
    assert "catchups_sent" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_current_database_never_imports_alembic(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    script = textwrap.dedent(
        f"""
        import sys
        from storage.db import make_engine
        from storage.migrate import ensure_current
        print(ensure_current(make_engine({url!r})), "alembic" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]
