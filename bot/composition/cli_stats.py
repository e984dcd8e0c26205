"""`warroom stats`: the stats' sections as text, one renderer per section, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

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


# Each section's text, in the order printed; a new section of `Stats` adds its renderer.
SECTIONS: tuple[Callable[[Stats], list[str]], ...] = (
    lambda stats: response_times_lines(stats.response_times),
)


def render_stats(stats: Stats) -> str:
    """Every section, a blank line between two."""
    return "\n\n".join("\n".join(render(stats)) for render in SECTIONS)
