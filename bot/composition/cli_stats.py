"""`warroom stats`: the stats' sections as text, one renderer per section, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.incidents.followup_stats import FollowupStats
from bot.incidents.stats import METHOD, ResponseTimes, Stats
from bot.incidents.times import format_duration


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


# Each section's text, in the order printed; a new section of `Stats` adds its renderer.
SECTIONS: tuple[Callable[[Stats], list[str]], ...] = (
    lambda stats: response_times_lines(stats.response_times),
    lambda stats: followup_lines(stats.followups),
)


def render_stats(stats: Stats) -> str:
    """Every section, a blank line between two."""
    return "\n\n".join("\n".join(render(stats)) for render in SECTIONS)
