"""The postmortem's picture of one incident: impact window, stages, milestones and updates
on one time axis in the team's time zone, drawn with matplotlib's Agg canvas (no display).

Rendering takes a few hundred milliseconds of CPU: async callers run `timeline_figure` in
a worker thread (`asyncio.to_thread`). Only `matplotlib.figure.Figure` is used, never
pyplot, so no global figure state is shared between threads.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.postmortem.figure_data import TimelineData, gather

__all__ = ["TimelineData", "build_timeline_figure", "gather", "timeline_figure"]

# 1000 x 440 pixels: legible in Slack's preview, and still sharp when opened.
SIZE_INCHES = (10.0, 4.4)
DPI = 100
STAGE_COLOURS = ("#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#c44e52")
IMPACT_COLOUR = "#f4a6a6"
# Heights on the axes' 0-1 scale: stage bands low, milestone marks, update ticks, labels.
STAGE_Y, STAGE_H = 0.06, 0.22
UPDATE_Y = (0.62, 0.76)
LABEL_Y = 0.97


def _spans_days(data: TimelineData, tz: ZoneInfo) -> bool:
    start = min(data.impact_start, *(at for _, at in data.milestones))
    return start.astimezone(tz).date() != data.end.astimezone(tz).date()


def build_timeline_figure(data: TimelineData, tz: ZoneInfo) -> Figure:
    """The incident's figure as a matplotlib Figure (what `timeline_figure` saves).

    Artists carry ids (`gid`) the SVG keeps: `impact`, `stage-<n>`, `milestone-<name>`,
    `updates`."""
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    first = min(data.impact_start, *(at for _, at in data.milestones), *data.updates)
    last = max(data.end, first + timedelta(minutes=10))
    margin = (last - first) * 0.04
    ax.set_xlim(mdates.date2num(first - margin), mdates.date2num(last + margin))
    ax.set_ylim(0, 1)
    ax.set_yticks([])

    if data.impact_start is not None:
        impact_end = data.impact_end or last
        ax.axvspan(
            mdates.date2num(data.impact_start),
            mdates.date2num(impact_end),
            color=IMPACT_COLOUR,
            alpha=0.45,
            label="impact",
            gid="impact",
        )
    for n, stage in enumerate(data.stages):
        start, stop = mdates.date2num(stage.start), mdates.date2num(stage.end)
        ax.broken_barh(
            [(start, max(stop - start, 1e-6))],
            (STAGE_Y, STAGE_H),
            facecolors=STAGE_COLOURS[n % len(STAGE_COLOURS)],
            edgecolor="white",
            gid=f"stage-{n}",
        )
        ax.text(
            start,
            STAGE_Y + STAGE_H + 0.01,
            f" {stage.title}",
            fontsize=8,
            va="bottom",
            ha="left",
            rotation=20,
            gid=f"stage-label-{n}",
        )
    if data.updates:
        ax.vlines(
            [mdates.date2num(at) for at in data.updates],
            *UPDATE_Y,
            colors="#333333",
            linewidth=1.5,
            label="status update",
            gid="updates",
        )
    # Milestones at the same moment (resolving sets mitigated too) share one mark and label.
    marks: dict[datetime, list[str]] = {}
    for name, at in data.milestones:
        marks.setdefault(at, []).append(name)
    for at, names in marks.items():
        x = mdates.date2num(at)
        for name in names:
            ax.axvline(x, color="#222222", linestyle="--", linewidth=0.8, gid=f"milestone-{name}")
        ax.plot([x], [0.55], marker="D", color="#222222", markersize=5)
        ax.text(
            x,
            LABEL_Y,
            " " + ", ".join(names),
            rotation=90,
            va="top",
            ha="left",
            fontsize=8,
            gid=f"label-{names[0]}",
        )

    multi_day = _spans_days(data, tz)
    locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.DateFormatter("%d %b\n%H:%M" if multi_day else "%H:%M", tz=tz)
    )
    day = data.impact_start.astimezone(tz).strftime("%Y-%m-%d")
    ax.set_xlabel(f"time ({tz.key})" if multi_day else f"{day}, time ({tz.key})")
    ax.set_title(f"Incident #{data.incident_id} ({data.severity}): {data.title}", fontsize=11)
    fig.legend(loc="outside right upper", fontsize=8)
    return fig


def timeline_figure(data: TimelineData, tz: ZoneInfo) -> tuple[bytes, bytes]:
    """The incident's timeline figure as (SVG, PNG) bytes, times in `tz`.

    Shows the impact window shaded, one labelled band per stage entered, milestones as
    dashed marks with their names, status updates as ticks, HH:MM ticks (with the date when
    the incident spans more than one local day). CPU-bound: call it from async code
    through `asyncio.to_thread`. The PNG is 1000 x 440 pixels.
    """
    fig = build_timeline_figure(data, tz)
    svg, png = io.BytesIO(), io.BytesIO()
    # No timestamp in the SVG, so the same incident renders to the same bytes.
    fig.savefig(svg, format="svg", metadata={"Date": None})
    fig.savefig(png, format="png", dpi=DPI)
    return svg.getvalue(), png.getvalue()
