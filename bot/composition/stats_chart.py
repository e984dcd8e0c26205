"""`warroom stats --chart FILE.png`: the weekly series as a figure, one panel per measure,
weeks on x, one line per group; matplotlib's Agg canvas, no display."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.incidents.weekly_stats import WEEKLY_MEASURES, WeekGroup, WeeklyStats

DPI = 100


def _minutes(name: str) -> Callable[[WeekGroup], float | None]:
    def value(row: WeekGroup) -> float | None:
        median = row.figure(name).median
        return median.total_seconds() / 60 if median is not None else None

    return value


def _completion(row: WeekGroup) -> float | None:
    share = row.followup_completion
    return share * 100 if share is not None else None


# (panel title, y label, value of one week and group; None: no point). The postmortems'
# panel follows them: one line for the whole team, by week of resolve.
PANELS: tuple[tuple[str, str, Callable[[WeekGroup], float | None]], ...] = (
    *((f"median {name}", "minutes", _minutes(name)) for name, _ in WEEKLY_MEASURES),
    ("follow-ups done", "% of opened", _completion),
)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def build_chart(weekly: WeeklyStats) -> Figure:
    """One panel per measure, ISO weeks on x (every week of the window), a line per group."""
    count = len(PANELS) + (weekly.postmortems is not None)
    fig = Figure(figsize=(10, 2.6 * count), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    if weekly.postmortems is not None:
        _postmortem_panel(axes[-1], weekly)
    for ax, (title, unit, value) in zip(axes, PANELS, strict=False):
        for group in weekly.groups:
            # Every week has a place; a week without a value is NaN, a gap in the line
            # rather than a slope drawn across weeks that had no incident.
            found = {row.week: value(row) for row in weekly.series if row.group == group}
            xs = list(range(len(weekly.weeks)))
            ys = [_or_nan(found.get(week)) for week in weekly.weeks]
            ax.plot(xs, ys, marker="o", label=group)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        if weekly.groups:
            ax.legend(fontsize=8, loc="upper left", title=weekly.by, title_fontsize=8)
    axes[-1].set_xticks(range(len(weekly.weeks)), [w.split("-")[1] for w in weekly.weeks])
    axes[-1].set_xlabel(f"ISO week ({weekly.timezone}), {weekly.since} to {weekly.until}")
    axes[-1].tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.suptitle(f"warroom stats by {weekly.by}, per week")
    return fig


def _postmortem_panel(ax: Any, weekly: WeeklyStats) -> None:
    """Postmortems published, as a share of the incidents resolved that week."""
    assert weekly.postmortems is not None
    found = {
        row.week: row.completion * 100 if row.completion is not None else None
        for row in weekly.postmortems.weeks
    }
    ys = [_or_nan(found.get(week)) for week in weekly.weeks]
    ax.plot(range(len(weekly.weeks)), ys, marker="o", color="black", label="all")
    ax.set_title("postmortems published (by week of resolve, UTC)", fontsize=10)
    ax.set_ylabel("% of resolved")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def write_chart(weekly: WeeklyStats, path: Path) -> None:
    """Save the chart as PNG at `path`."""
    buffer = io.BytesIO()
    build_chart(weekly).savefig(buffer, format="png", dpi=DPI)
    path.write_bytes(buffer.getvalue())
