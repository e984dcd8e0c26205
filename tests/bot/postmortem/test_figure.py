"""The postmortem's timeline figure shows the incident: checked on the figure's objects and
its SVG text, never against a golden image."""

from __future__ import annotations

import re
import struct
from zoneinfo import ZoneInfo

import pytest
from matplotlib.figure import Figure
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.snapshot import snapshot
from bot.postmortem.figure import TimelineData, build_timeline_figure, gather, timeline_figure
from tests.bot.postmortem.conftest import HKT, at_hkt

UTC_ZONE = ZoneInfo("UTC")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def multi_day(run, ingest, clock, people) -> int:
    """An incident acknowledged late on 10 March (HKT) and resolved on 11 March; its id."""
    from tests.bot.incidents.conftest import reference_alert

    iid = ingest(reference_alert()).incident_id
    assert iid is not None
    at_hkt(clock, "23:10")
    run("ack", iid, actor="U0ALICE")
    at_hkt(clock, "23:40")
    run("status identified failed internal dependency of the matching engine", iid)
    at_hkt(clock, "00:30", day=11)
    run("update Still restarting the matching engine", iid, actor="U0BOB")
    at_hkt(clock, "02:15", day=11)
    run("mitigate traffic drained to the standby", iid)
    at_hkt(clock, "03:00", day=11)
    run("resolve service restored", iid)
    return iid


def _data(sessions: sessionmaker[Session], iid: int) -> TimelineData:
    with sessions() as session:
        return gather(session, iid)


def _entered(sessions: sessionmaker[Session], iid: int) -> int:
    with sessions() as session:
        incident = snapshot(session, iid)
        assert incident is not None
        return sum(stage.entered_at is not None for stage in incident.stages)


def _drawn(fig: Figure) -> Figure:
    fig.canvas.draw()  # tick labels exist once laid out
    return fig


def _ticks(fig: Figure) -> list[str]:
    return [label.get_text() for label in fig.axes[0].get_xticklabels() if label.get_text()]


def _gids(fig: Figure, prefix: str) -> list[str]:
    return sorted(
        gid
        for artist in fig.axes[0].get_children()
        if (gid := artist.get_gid()) and gid.startswith(prefix)
    )


def test_reference_figure_has_title_axis_label_and_one_band_per_stage_entered(
    reference, sessions
) -> None:
    data = _data(sessions, reference)
    fig = _drawn(build_timeline_figure(data, HKT))
    ax = fig.axes[0]
    assert ax.get_title() == (
        "Incident #1 (sev1): API error 30030: matching engine upgrade in progress"
    )
    assert ax.get_xlabel() == "2021-03-10, time (Asia/Hong_Kong)"
    entered = _entered(sessions, reference)
    assert entered >= 1
    assert len(_gids(fig, "stage-label-")) == entered
    assert len([g for g in _gids(fig, "stage-") if not g.startswith("stage-label")]) == entered
    labels = [t.get_text().strip() for t in ax.texts]
    assert "Detect" in labels


def test_reference_figure_marks_milestones_updates_and_the_impact_window(
    reference, sessions
) -> None:
    data = _data(sessions, reference)
    fig = _drawn(build_timeline_figure(data, HKT))
    labels = {t.get_text().strip() for t in fig.axes[0].texts}
    # Alert start and declaration coincide, as do resolving and (implied) mitigating.
    assert {"started, declared", "acknowledged", "mitigated, resolved"} <= labels
    assert _gids(fig, "milestone-") == sorted(f"milestone-{name}" for name, _ in data.milestones)
    assert _gids(fig, "updates") == ["updates"]
    assert len(data.updates) == 1
    assert _gids(fig, "impact") == ["impact"]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend == ["impact", "status update"]


def test_ticks_are_hh_mm_in_the_team_zone_and_move_with_it(reference, sessions) -> None:
    data = _data(sessions, reference)
    hong_kong = _ticks(_drawn(build_timeline_figure(data, HKT)))
    utc = _ticks(_drawn(build_timeline_figure(data, UTC_ZONE)))
    assert hong_kong and all(re.fullmatch(r"\d\d:\d\d", tick) for tick in hong_kong)
    # Impact ran 17:56-18:15 HKT, which is 09:56-10:15 UTC.
    assert any(tick.startswith("18:") for tick in hong_kong)
    assert all(tick.startswith(("09:", "10:")) for tick in utc)
    assert hong_kong != utc


def test_multi_day_incident_puts_the_date_on_the_axis(multi_day, sessions) -> None:
    data = _data(sessions, multi_day)
    fig = _drawn(build_timeline_figure(data, HKT))
    ticks = _ticks(fig)
    assert any("10 Mar" in tick for tick in ticks)
    assert any("11 Mar" in tick for tick in ticks)
    assert all(re.fullmatch(r"\d\d \w{3}\n\d\d:\d\d", tick) for tick in ticks)
    assert fig.axes[0].get_xlabel() == "time (Asia/Hong_Kong)"
    # In UTC the same incident (15:56-19:00 on 10 March) stays within one day.
    utc = _drawn(build_timeline_figure(data, UTC_ZONE))
    assert all(re.fullmatch(r"\d\d:\d\d", tick) for tick in _ticks(utc))
    assert utc.axes[0].get_xlabel() == "2021-03-10, time (UTC)"


def test_svg_names_the_parts_and_png_has_the_signature_and_size(reference, sessions) -> None:
    svg, png = timeline_figure(_data(sessions, reference), HKT)
    text = svg.decode()
    assert text.lstrip().startswith("<?xml")
    for part in ('id="impact"', 'id="stage-0"', 'id="milestone-resolved"', 'id="updates"'):
        assert part in text
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (1000, 440)
