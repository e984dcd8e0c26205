"""Replays through the real paths on simulated time: the demo, midnight, maintenance notices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.replay.runner import replay
from bot.replay.scenario import ScenarioError, load_scenario


def _warroom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rows(draft: str, section: str) -> list[list[str]]:
    body = draft.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_demo_prints_the_reference_postmortem(tmp_path: Path) -> None:
    done = _warroom("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    draft = done.stdout
    assert "- **Window:** 2021-03-10 17:56 – 18:15 HKT" in draft
    assert "- **Duration:** 19m" in draft
    assert "- **Affected services:** matching-engine" in draft
    assert "error code 30030" in draft
    assert "- **Root cause:** An internal dependency of the matching engine failed" in draft
    for section in (
        "Summary",
        "Impact",
        "Root cause and trigger",
        "Timeline (Asia/Hong_Kong)",
        "Metrics",
        "Playbook adherence",
        "What went well",
        "Action items",
        "Responders and roles",
        "Communications",
        "Appendix: alerts",
    ):
        assert f"\n## {section}" in draft, section
    timeline = _rows(draft, "Timeline (Asia/Hong_Kong)")
    times = [row[0] for row in timeline]
    assert times == sorted(times)
    firsts = {}
    for time, event, _who, source in timeline:
        firsts.setdefault(source, (time, event))
    assert timeline[0][:2] == [
        "17:56",
        "Alert firing: MatchingEngineErrors: API error 30030: matching engine upgrade in progress",
    ]
    assert ["17:57", "acknowledged", "alice", "command"] in timeline
    assert any(r[0] == "18:05" and "identified" in r[1] for r in timeline)
    assert any(r[0] == "18:07" and "Emergency repairs started" in r[1] for r in timeline)
    assert any(r[0] == "18:15" and r[1].startswith("resolved") for r in timeline)
    metrics = {row[0]: row[1] for row in _rows(draft, "Metrics")}
    assert metrics["Time to detect"] == "0s"
    assert metrics["Time to acknowledge"] == "1m"
    assert metrics["Time to mitigate"] == "19m"
    actions = [row[1] for row in _rows(draft, "Action items")]
    assert len(actions) == 5 and actions[-1] == "Review affected customers case by case"
    assert not (tmp_path / "warroom.db").exists(), "the demo must not touch a real database"


MIDNIGHT = """\
title: Orders database replication stalled
timezone: Europe/Berlin
date: 2024-02-28
steps:
  - at: "23:48:00"
    alert:
      source: generic
      payload: {title: Orders replica lag over 5 minutes, severity: sev2,
                labels: {service: orders-db}, starts_at: "2024-02-28T23:45:00+01:00"}
  - at: "23:50:00"
    as: bob
    command: ack
  - at: "00:05:00"
    as: bob
    command: status identified replication slot full
  - at: "00:10:00"
    as: bob
    command: log 23:58 replica restarted, lag still growing
  - at: "00:20:00"
    as: bob
    command: resolve replica caught up
"""


def test_a_scenario_across_midnight_shows_dates_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "midnight.yaml"
    path.write_text(MIDNIGHT)
    result = replay(load_scenario(path))
    draft = result.drafts[0]
    assert "- **Window:** 2024-02-28 23:45 – 2024-02-29 00:20 CET" in draft
    assert "- **Duration:** 35m" in draft
    timeline = _rows(draft, "Timeline (Europe/Berlin)")
    assert timeline[0][0] == "2024-02-28 23:45"
    assert ["2024-02-28 23:50", "acknowledged", "bob", "command"] in timeline
    assert any(r[0] == "2024-02-29 00:05" and "identified" in r[1] for r in timeline)
    backdated = next(r for r in timeline if "replica restarted" in r[1])
    assert (backdated[0], backdated[3]) == ("2024-02-28 23:58", "backdate")
    assert [r[0] for r in timeline] == sorted(r[0] for r in timeline)
    metrics = {row[0]: row[1] for row in _rows(draft, "Metrics")}
    assert (metrics["Time to acknowledge"], metrics["Time to resolve"]) == ("5m", "35m")
    # The transcript reads as Slack shows it: people and channels by name, never ids, and
    # no page claimed that a replay never sends.
    texts = [m.text for m in result.messages]
    assert "@bob: acknowledged the incident" in texts
    assert not [t for t in texts if "<@" in t or "<#" in t or "&lt;" in t]
    assert ":pager: Not paged: a replay never pages anyone." in texts
    assert "paged" not in draft  # the rehearsal's plumbing is no part of the record


def test_times_that_go_backwards_roll_to_the_next_day(tmp_path: Path) -> None:
    path = tmp_path / "rolling.yaml"
    path.write_text(
        "title: t\ntimezone: Europe/Berlin\ndate: 2024-02-28\nsteps:\n"
        "  - {at: '23:48'}\n  - {at: '00:05'}\n  - {at: '00:02'}\n  - {at: '00:20'}\n"
    )
    scenario = load_scenario(path)
    days = [t.astimezone(ZoneInfo("Europe/Berlin")).strftime("%d %H:%M") for t in scenario.times()]
    assert days == ["28 23:48", "29 00:05", "01 00:02", "01 00:20"]  # 2024 is a leap year


MAINTENANCE = """\
title: Matching engine upgrade window
timezone: Asia/Hong_Kong
date: 2021-03-11
steps:
  - at: "10:00"
    as: carol
    command: maintenance 2021-03-12 12:00 1h Matching engine upgrade
  - at: "09:00"
  - at: "14:00"
"""


def test_maintenance_notices_fire_at_their_simulated_times(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.yaml"
    path.write_text(MAINTENANCE)
    result = replay(load_scenario(path))
    tz = ZoneInfo("Asia/Hong_Kong")
    notices = [
        (m.at.astimezone(tz).strftime("%m-%d %H:%M"), m.text.split(":", 2)[1].strip())
        for m in result.messages
        if m.channel == "incidents" and "maintenance #1" in m.text.lower()
    ]
    assert [when for when, _ in notices] == [
        "03-11 10:00",
        "03-11 12:00",
        "03-12 11:00",
        "03-12 12:00",
        "03-12 13:00",
    ]
    texts = [m.text for m in result.messages if m.channel == "incidents"]
    assert any("in 24 hours" in t for t in texts) and any("in 1 hour" in t for t in texts)
    assert any("has started" in t for t in texts) and any("is over" in t for t in texts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: x\ndate: 2024-01-01\nsteps:\n  - at: '25:00'\n", ":4: steps.0.at: "),
        (
            "title: x\ndate: 2024-01-01\nsteps:\n  - at: '10:00'\n    command: ack\n",
            ":4: steps.0: ",
        ),
        (
            "title: x\ndate: 2024-01-01\ntimezone: Mars/Base\nsteps: [{at: '10:00'}]\n",
            ":3: timezone:",
        ),
        ("title: [unclosed\n", ":2: bad YAML"),  # YAML notices at the end of the stream
    ],
)
def test_bad_scenarios_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}{message}")
    done = _warroom("replay", str(path), cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith(f"warroom: {path}{message}")


SCENARIOS = Path(__file__).parent / "scenarios"
POST_ONE = "Post one with `/incident update <text>`."


def test_status_update_reminders_fire_at_their_simulated_times(tmp_path: Path) -> None:
    done = _warroom(
        "replay", str(SCENARIOS / "updates-every-30m.yaml"), "--transcript", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    transcript, draft = done.stdout.split("\n\n", 1)[1].split("\n\n", 1)
    reminders = [
        tuple(line.split(" warroom: :alarm_clock: It has been ", 1))
        for line in transcript.splitlines()
        if "Post one with `/incident update" in line
    ]
    channel = "#inc-20240305-checkout-latency-over-2-seconds"
    assert reminders == [
        (f"2024-03-05 10:30:00 {channel}", "30m since the incident opened. " + POST_ONE),
        (f"2024-03-05 11:10:00 {channel}", "30m since the last status update. " + POST_ONE),
        (f"2024-03-05 11:40:00 {channel}", "1h 00m since the last status update. " + POST_ONE),
    ]
    timeline = _rows(draft, "Timeline (Europe/Berlin)")
    assert [row[0] for row in timeline if row[1].startswith("status update due")] == [
        "10:30",
        "11:10",
        "11:40",
    ]
