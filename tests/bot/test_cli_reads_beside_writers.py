"""`warroom stats`, `incidents` and `postmortem` read beside a running service: while another
process holds a write (on SQLite, the file's write lock), they answer with what is
committed instead of waiting for it, and make the writer wait for nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from storage.models import Incident
from tests.support.writers import writing

ROOT = Path(__file__).parents[2]
AT = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def test_cli_reads_answer_while_another_process_holds_a_write(
    database: tuple[Engine, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, url = database
    with engine.begin() as connection:
        row = {"severity": "sev2", "status": "investigating", "playbook_id": "default"}
        incident_id = connection.execute(
            insert(Incident).returning(Incident.id),  # type: ignore[arg-type]
            [{**row, "title": "Matching engine down", "created_at": AT, "updated_at": AT}],
        ).scalar_one()
    monkeypatch.chdir(tmp_path)  # where no developer's .env is
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    def warroom(*words: str) -> subprocess.CompletedProcess[str]:
        # Far below SQLite's 30 s busy timeout: a read that waited for the lock fails here.
        return subprocess.run(
            [sys.executable, "-m", "bot", *words],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
            check=False,
        )

    with writing(url, incident_id):
        stats = warroom("stats")
        shown = warroom("incidents", "show", str(incident_id), "--json")
        draft = warroom("postmortem", str(incident_id))

    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines()[0] == "1 incidents (drills excluded)"
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["title"] == "Matching engine down"
    assert draft.returncode == 0, draft.stderr
    assert "Matching engine down" in draft.stdout
