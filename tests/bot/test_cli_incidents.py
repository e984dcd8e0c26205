"""`warroom incidents [--status S] [--json]` and `warroom incidents show ID`, run as a user
would, against a database holding two incidents, one of them resolved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from storage.models import Incident
from storage.unit_of_work import unit_of_work

ROOT = Path(__file__).parents[2]


@pytest.fixture
def url(
    database: tuple[Engine, str],
    sessions: sessionmaker[Session],
    domain: Domain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The database with #1 "Orders API slow" (resolved) and #2 "Checkout errors" (open,
    commanded by bob)."""

    def run(text: str, incident_id: int | None = None) -> None:
        with unit_of_work(sessions) as uow:
            incident = uow.session.get(Incident, incident_id) if incident_id else None
            execute(uow, domain, parse_command(text), incident=incident, actor="U0ALICE")

    run("declare Orders API slow sev2")
    run("resolve cache flushed", 1)
    run("declare Checkout errors sev1")
    run("role commander <@U0BOB>", 2)
    # Run where no developer's .env is, with this checkout's `bot` first on the path.
    monkeypatch.chdir(tmp_path)
    return database[1]


def _warroom(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WARROOM_TIMEZONE": "Asia/Hong_Kong",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "incidents", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_incidents_lists_newest_first_and_filters_by_status(url: str) -> None:
    done = _warroom(url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("  ")[:3] for line in lines] == [
        ["#2", "sev1", "investigating"],
        ["#1", "sev2", "resolved"],
    ]
    assert lines[0].endswith("commander U0BOB  Checkout errors")
    assert "2021-03-10 17:56" in lines[0]  # opened, in WARROOM_TIMEZONE
    assert "lasted 0s" in lines[1] and lines[1].endswith("Orders API slow")

    opened = _warroom(url, "--status", "open")
    assert [line.split("  ")[0] for line in opened.stdout.splitlines()] == ["#2"]
    assert _warroom(url, "--status", "monitoring").stdout == "no incidents with status monitoring\n"


def test_incidents_json_is_what_the_api_lists(url: str) -> None:
    done = _warroom(url, "--status", "resolved", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [(i["id"], i["title"], i["status"]) for i in body["incidents"]] == [
        (1, "Orders API slow", "resolved")
    ]
    assert body["next_cursor"] is None
    assert body["incidents"][0]["resolved_at"].startswith("2021-03-10T09:56:00")


def test_incidents_show_one_and_refuse_what_does_not_exist(url: str) -> None:
    shown = _warroom(url, "show", "2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "#2 Checkout errors"
    assert "status     investigating" in lines and "commander  U0BOB" in lines
    assert "declared   2021-03-10 17:56:00 (command)" in lines

    detail = json.loads(_warroom(url, "show", "2", "--json").stdout)
    assert (detail["roles"], detail["severity"]) == ({"commander": "U0BOB"}, "sev1")

    missing = _warroom(url, "show", "99")
    assert (missing.returncode, missing.stderr) == (1, "warroom: no incident #99\n")
    assert _warroom(url, "show", "99", "--json").returncode == 1
    bad = _warroom(url, "--status", "closed")
    assert bad.returncode == 2 and "invalid choice: 'closed'" in bad.stderr
