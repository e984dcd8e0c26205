"""`GET /api/stats?since=&by=`: the weekly series over real HTTP, 422 on bad parameters,
and `warroom stats --json` printing the very same document."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from bot.composition.cli import build_parser
from bot.composition.cli_stats import print_stats
from bot.composition.stats_args import weekly_request
from bot.incidents.clock import SimulatedClock
from bot.incidents.stats import read_stats
from tests.bot.web.conftest import Served
from tests.support.weekly import NOW, seed


@pytest.fixture
def seeded(web: Served, database: tuple[Engine, str], clock: SimulatedClock) -> Served:
    seed(database[0])
    clock.set(NOW)
    return web


def test_weekly_series_by_service(seeded: Served) -> None:
    response = seeded.get("/api/stats", params={"since": "2w", "by": "service"})

    assert response.status_code == 200, response.text
    weekly = response.json()["weekly"]
    assert (weekly["since"], weekly["until"], weekly["by"]) == (
        "2021-02-26",
        "2021-03-12",
        "service",
    )
    assert weekly["timezone"] == "Asia/Hong_Kong"
    assert weekly["weeks"] == ["2021-W08", "2021-W09", "2021-W10"]
    assert weekly["groups"] == ["(no service)", "api", "orders-db"]
    api = next(row for row in weekly["series"] if row["group"] == "api")
    assert api == {
        "week": "2021-W09",
        "monday": "2021-03-01",
        "group": "api",
        "incidents": 2,
        "figures": [
            {"name": "time to acknowledge", "count": 2, "median_seconds": 180.0, "median": "3m"},
            {"name": "time to mitigate", "count": 2, "median_seconds": 1500.0, "median": "25m"},
            {"name": "time to resolve", "count": 2, "median_seconds": 2700.0, "median": "45m"},
        ],
        "followups_opened": 3,
        "followups_done": 2,
        "followup_completion": pytest.approx(2 / 3),
    }
    # Postmortem completion is by week of resolve, not per group (tests of its figures:
    # tests/bot/incidents/test_postmortem_stats.py).
    assert set(weekly["postmortems"]) == {"overall", "weeks"}
    assert set(weekly["postmortems"]["overall"]) == {
        "resolved",
        "due",
        "published",
        "completion",
        "median_to_publish_seconds",
        "median_to_publish",
    }
    # Today's sections are still there.
    assert {"response_times", "followups"} <= set(response.json())


def test_defaults_are_ninety_days_by_severity(seeded: Served) -> None:
    weekly = seeded.get("/api/stats").json()["weekly"]
    assert (weekly["by"], weekly["since"]) == ("severity", "2020-12-12")
    assert weekly["groups"] == ["sev1", "sev2"]
    # 90 days back reaches the incident of 1 February, left out of two weeks.
    assert weekly["series"][0]["week"] == "2021-W05"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "3 months"}, "since must be a positive number of days or weeks"),
        ({"since": "0d"}, "since must be a positive number of days or weeks"),
        ({"by": "team"}, "by must be one of severity, service, playbook (got 'team')"),
    ],
)
def test_bad_since_or_by_is_a_422(seeded: Served, params: dict[str, str], message: str) -> None:
    response = seeded.get("/api/stats", params=params)

    assert response.status_code == 422
    assert message in response.json()["error"]


def test_cli_json_is_what_the_api_answers(
    seeded: Served, clock: SimulatedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    answered = seeded.get("/api/stats", params={"since": "2w", "by": "playbook"}).json()

    args = build_parser().parse_args(["stats", "--json", "--since", "2w", "--by", "playbook"])
    runtime = seeded.runtime
    with runtime.sessions() as session:
        now = clock.now()
        stats = read_stats(
            session,
            today=now.astimezone(runtime.domain.tz).date(),
            weekly=weekly_request(args, now, runtime.domain.tz),
        )
    assert print_stats(args, stats) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed == answered
    assert printed["weekly"]["by"] == "playbook"
