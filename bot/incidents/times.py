"""Wall-clock times typed by responders, resolved in the team's time zone to UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


class TimeError(ValueError):
    """A time that cannot be placed (bad form, or in the future)."""


def _parse_clock(text: str) -> time:
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
        return time(*numbers)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise TimeError(f"`{text}` is not a time of day (HH:MM)") from error


def resolve_clock(text: str, *, tz: tzinfo, now: datetime) -> datetime:
    """Turn `HH:MM[:SS]` or `YYYY-MM-DD HH:MM[:SS]` in `tz` into an aware UTC datetime.

    Without a date the time is the latest one at or before `now` (a backdated entry
    typed just after midnight for 23:50 means yesterday). A time in the future is an error.
    """
    text = text.strip()
    local_now = now.astimezone(tz)
    if " " in text:
        day_text, clock_text = text.split(None, 1)
        try:
            day = datetime.strptime(day_text, "%Y-%m-%d").date()
        except ValueError as error:
            raise TimeError(f"`{day_text}` is not a date (YYYY-MM-DD)") from error
        local = datetime.combine(day, _parse_clock(clock_text), tzinfo=tz)
    else:
        local = datetime.combine(local_now.date(), _parse_clock(text), tzinfo=tz)
        if local > local_now:
            local -= timedelta(days=1)
            # Re-anchor so a DST change between the two days keeps the wall-clock time.
            local = datetime.combine(local.date(), local.timetz().replace(tzinfo=None), tzinfo=tz)
    result = local.astimezone(UTC)
    if result > now + timedelta(seconds=59):
        raise TimeError(f"{format_local(result, tz, with_date=True)} is in the future")
    return result


def format_local(when: datetime, tz: tzinfo, *, with_date: bool = False) -> str:
    """Show a stored time in the team's zone: `18:05` or `2021-03-10 18:05`."""
    local = when.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def format_on_day(when: datetime, tz: tzinfo, day: date) -> str:
    """A row's time in the team's zone, with its date whenever it is not on `day` (the
    local date the incident started): `18:05`, or `2021-03-11 00:10`."""
    local = when.astimezone(tz)
    return format_local(when, tz, with_date=local.date() != day)


def start_day(started: datetime, tz: tzinfo) -> date:
    """The local date an incident started on, in the team's zone."""
    return started.astimezone(tz).date()


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Time from `start` to `end`, never negative: a moment recorded before the start
    (a paging tool's clock a little behind ours) counts as no time at all."""
    return max(end - start, timedelta(0))


def format_duration(delta: timedelta) -> str:
    """A short human duration: `19m`, `1h 05m`, `2d 3h`."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m" + (f" {seconds:02d}s" if seconds else "")
    return f"{sign}{seconds}s"
