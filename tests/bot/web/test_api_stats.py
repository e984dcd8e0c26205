"""`GET /api/stats` over real HTTP: the numbers `warroom stats` prints, as JSON."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from bot.web.api import build_api_router
from storage.unit_of_work import unit_of_work
from tests.bot.web.conftest import Served
from tests.bot.web.test_api import run

ROOT = Path(__file__).parents[3]


def _declare(web: Served, text: str) -> int:
    with unit_of_work(web.runtime.sessions) as uow:
        outcome = execute(uow, web.runtime.domain, parse_command(text), incident=None, actor="U0A")
    assert outcome.incident is not None and outcome.incident.id is not None
    return outcome.incident.id


@pytest.fixture
def worked(web: Served, clock: SimulatedClock) -> Served:
    """Three incidents acknowledged after 1, 3 and 5 minutes, updated, resolved; a drill."""
    for minutes in (1, 3, 5):
        incident = _declare(web, "declare Orders slow sev2")
        clock.advance(timedelta(minutes=minutes))
        run(web, "ack", incident)
        run(web, "update looking into it", incident)
        clock.advance(timedelta(minutes=10))
        run(web, "resolve fixed", incident)
    drill = _declare(web, "drill trading-engine-outage")
    run(web, "ack", drill)
    return web


def test_stats_are_what_warroom_stats_prints(
    worked: Served, database: tuple[Engine, str], tmp_path: Path
) -> None:
    response = worked.get("/api/stats")

    assert response.status_code == 200, response.text
    section = response.json()["response_times"]
    assert section["incidents"] == 3
    ack = section["figures"][0]
    # p90 of 1, 3 and 5 minutes: position 2 * 0.9 = 1.8, 3m + 0.8 * 2m = 4m 36s.
    assert ack == {
        "name": "time to acknowledge",
        "count": 3,
        "median_seconds": 180.0,
        "p90_seconds": 276.0,
        "median": "3m",
        "p90": "4m 36s",
    }
    assert [f["name"] for f in section["figures"]] == [
        "time to acknowledge",
        "time to mitigate",
        "time to resolve",
        "time to first update",
    ]
    mitigate = section["figures"][1]
    # Resolving mitigates too: 1, 3 or 5 minutes, then 10.
    assert (mitigate["count"], mitigate["median"], mitigate["median_seconds"]) == (3, "13m", 780.0)

    printed = subprocess.run(
        [sys.executable, "-m", "bot", "stats"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # where no developer's .env is
        env={**os.environ, "DATABASE_URL": database[1], "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert printed[0] == f"{section['incidents']} incidents (drills excluded)"
    for figure in section["figures"]:
        shown = [figure["median"] or "—", figure["p90"] or "—"]
        assert f"{figure['name']:<22} {figure['count']:>4} {shown[0]:>10} {shown[1]:>10}" in printed
    assert f"status updates on cadence: {section['on_cadence']:.0%}" in printed
    assert any(section["method"] in line for line in printed)


def test_stats_of_no_incidents(web: Served) -> None:
    section = web.get("/api/stats").json()["response_times"]

    assert (section["incidents"], section["on_cadence"]) == (0, None)
    assert all(f["count"] == 0 and f["p90_seconds"] is None for f in section["figures"])


def test_stats_need_the_token(web: Served) -> None:
    response = web.get("/api/stats", headers={})

    assert response.status_code == 401
    assert "error" in response.json()


def test_stats_are_in_the_openapi_schema(web: Served) -> None:
    app = FastAPI()
    app.include_router(build_api_router(web.runtime))
    operation = app.openapi()["paths"]["/api/stats"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatsOut"
    }
    assert "401" in operation["responses"]
