"""`warroom stats --since --by --json --chart` run as a user would, and the chart's panels,
legend and week labels checked on the figure."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.composition.stats_chart import PANELS, build_chart
from bot.incidents.weekly_stats import weekly_stats
from bot.incidents.weekly_window import WeeklyRequest
from tests.support.weekly import HKT, NOW, seed

ROOT = Path(__file__).parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _warroom(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "stats", *args],
        capture_output=True,
        text=True,
        cwd=cwd,  # where no developer's .env is
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "3m"), "argument --since: since must be a positive number of days or weeks"),
        (("--since", "0w"), "argument --since: since must be a positive number of days or weeks"),
        (("--by", "team"), "argument --by: by must be one of severity, service, playbook"),
    ],
)
def test_bad_flags_exit_non_zero_with_a_clear_message(
    database: tuple[Engine, str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _warroom(database[1], tmp_path, *args)

    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_json_and_chart(database: tuple[Engine, str], tmp_path: Path) -> None:
    chart = tmp_path / "weeks.png"
    done = _warroom(
        database[1], tmp_path, "--since", "12w", "--by", "service", "--json", "--chart", str(chart)
    )

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert {"response_times", "followups", "weekly"} <= set(printed)
    assert printed["weekly"]["by"] == "service"
    # Twelve weeks back from today, whichever day it is: 12 or 13 ISO weeks.
    assert len(printed["weekly"]["weeks"]) in (12, 13)
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_text_prints_the_weekly_section(database: tuple[Engine, str], tmp_path: Path) -> None:
    done = _warroom(database[1], tmp_path, "--by", "playbook")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("per week by playbook, ") for line in lines)
    assert "(no incident in the window)" in lines


def test_an_unwritable_chart_exits_non_zero(database: tuple[Engine, str], tmp_path: Path) -> None:
    done = _warroom(database[1], tmp_path, "--chart", str(tmp_path / "missing" / "c.png"))

    assert done.returncode == 1
    assert "cannot write" in done.stderr


def test_chart_has_a_panel_per_measure_a_line_per_group_and_every_week(engine, sessions) -> None:
    seed(engine)
    with sessions() as session:
        weekly = weekly_stats(
            session, WeeklyRequest(until=NOW, tz=HKT, since=timedelta(weeks=2), by="service")
        )
    fig = build_chart(weekly)
    fig.canvas.draw()

    assert [ax.get_title() for ax in fig.axes] == [
        "median time to acknowledge",
        "median time to mitigate",
        "median time to resolve",
        "follow-ups done",
        "postmortems published (by week of resolve, UTC)",
    ]
    assert len(fig.axes) == len(PANELS) + 1
    [postmortems] = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert postmortems == "all"  # the whole team's, not per group
    for ax in fig.axes[:-1]:
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == ["(no service)", "api", "orders-db"]
    assert [label.get_text() for label in fig.axes[-1].get_xticklabels()] == ["W08", "W09", "W10"]
    # The `api` line of the first panel: a value in week 9 only, its median of 3 minutes.
    api = next(line for line in fig.axes[0].get_lines() if line.get_label() == "api")
    assert list(api.get_xdata()) == [0, 1, 2]
    assert [None if math.isnan(y) else y for y in api.get_ydata()] == [None, 3.0, None]
    completion = next(line for line in fig.axes[3].get_lines() if line.get_label() == "api")
    assert completion.get_ydata()[1] == pytest.approx(200 / 3)
