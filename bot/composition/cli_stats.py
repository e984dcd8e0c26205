"""`warroom stats`: the stats' sections as text, one renderer per section, in order."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bot.incidents.followup_stats import FollowupStats
from bot.incidents.postmortem_stats import PostmortemStats
from bot.incidents.stats import METHOD, ResponseTimes, Stats
from bot.incidents.times import format_duration
from bot.incidents.weekly_stats import WEEKLY_MEASURES, WeeklyStats


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "—"


def response_times_lines(section: ResponseTimes) -> list[str]:
    """The response-times table, its cadence line and how the figures were computed."""
    lines = [f"{section.incidents} incidents (drills excluded)", ""]
    lines.append(f"{'measure':<22} {'n':>4} {'median':>10} {'p90':>10}")
    for row in section.figures:
        lines.append(
            f"{row.name:<22} {row.count:>4} {_duration(row.median):>10} {_duration(row.p90):>10}"
        )
    kept = f"{section.on_cadence:.0%}" if section.on_cadence is not None else "—"
    lines += ["", f"status updates on cadence: {kept}"]
    lines.append(f"times from impact start (first update: from declaration); {METHOD}")
    return lines


def followup_lines(section: FollowupStats) -> list[str]:
    """Follow-ups per severity: recorded, done, overdue (open past due) and the median
    time from recording to done."""
    lines = [f"follow-ups as of {section.today.isoformat()}", ""]
    lines.append(
        f"{'severity':<10} {'opened':>7} {'done':>6} {'overdue':>8} {'median to close':>16}"
    )
    for row in section.severities:
        lines.append(
            f"{row.severity:<10} {row.opened:>7} {row.done:>6} {row.overdue:>8}"
            f" {_duration(row.median_to_close):>16}"
        )
    return lines


def weekly_lines(section: WeeklyStats | None) -> list[str]:
    """Per ISO week and group: incidents, the median times, follow-ups done of opened."""
    if section is None:
        return []
    lines = [
        f"per week by {section.by}, {section.since.isoformat()} to {section.until.isoformat()}"
        f" ({section.timezone}; weeks by impact start)",
        "",
    ]
    heads = [name.removeprefix("time to ") for name, _ in WEEKLY_MEASURES]
    lines.append(
        f"{'week':<9} {section.by:<16} {'n':>3} "
        + " ".join(f"{head:>11}" for head in heads)
        + f" {'follow-ups':>11}"
    )
    for row in section.series:
        medians = " ".join(f"{_duration(figure.median):>11}" for figure in row.figures)
        done = f"{row.followups_done}/{row.followups_opened}"
        lines.append(f"{row.week:<9} {row.group:<16} {row.incidents:>3} {medians} {done:>11}")
    if not section.series:
        lines.append("(no incident in the window)")
    if section.postmortems is not None:
        lines += ["", *postmortem_lines(section.postmortems)]
    return lines


def postmortem_lines(stats: PostmortemStats) -> list[str]:
    """Postmortems of the incidents resolved in the window, by ISO week of resolve."""
    lines = ["postmortems by week of resolve (UTC)", ""]
    lines.append(
        f"{'week':<9} {'resolved':>8} {'due':>4} {'published':>9} {'done':>5} {'to publish':>11}"
    )
    rows = [(row.week, row) for row in stats.weeks] + [("all", stats.overall)]
    for week, row in rows:
        done = f"{row.completion:.0%}" if row.completion is not None else "—"
        lines.append(
            f"{week:<9} {row.resolved:>8} {row.due:>4} {row.published:>9} {done:>5}"
            f" {_duration(row.median_to_publish):>11}"
        )
    return lines


# Each section's text, in the order printed; a new section of `Stats` adds its renderer.
SECTIONS: tuple[Callable[[Stats], list[str]], ...] = (
    lambda stats: response_times_lines(stats.response_times),
    lambda stats: followup_lines(stats.followups),
    lambda stats: weekly_lines(stats.weekly),
)


def render_stats(stats: Stats) -> str:
    """Every section, a blank line between two."""
    return "\n\n".join(text for render in SECTIONS if (text := "\n".join(render(stats))))


def print_stats(args: argparse.Namespace, stats: Stats) -> int:
    """Print the stats as text or JSON, and write the chart when asked; the exit status."""
    if getattr(args, "json", False):
        from bot.web.stats_out import stats_out

        print(stats_out(stats).model_dump_json(indent=2))
    else:
        print(render_stats(stats))
    chart: Path | None = getattr(args, "chart", None)
    if chart is not None and stats.weekly is not None:
        from bot.composition.stats_chart import write_chart

        try:
            write_chart(stats.weekly, chart)
        except OSError as error:
            print(f"warroom: cannot write {chart}: {error.strerror or error}", file=sys.stderr)
            return 1
    return 0
