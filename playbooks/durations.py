"""Durations as playbooks write them: ``30s``, ``15m``, ``2h``, ``3d`` (and ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS: dict[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}

_PART = re.compile(r"(\d+)([dhms])")
_WHOLE = re.compile(r"(?:\d+[dhms])+")
EXAMPLES = "30s, 15m, 2h, 3d or 1h30m"


def parse_duration(text: str) -> timedelta:
    """Turn ``15m`` (or ``1h30m``) into a positive timedelta; raise ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration like {EXAMPLES}, got {text!r}")
    cleaned = text.strip().lower()
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"bad duration {text!r}: expected {EXAMPLES}")
    units = [unit for _, unit in _PART.findall(cleaned)]
    if len(set(units)) != len(units) or units != sorted(units, key=list(UNITS).index):
        raise ValueError(f"bad duration {text!r}: units go largest first, each once (1h30m)")
    seconds = sum(int(number) * UNITS[unit] for number, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """Write a whole-second positive timedelta the way `parse_duration` reads it."""
    if td <= timedelta(0) or td.microseconds:
        raise ValueError(f"cannot write {td!r} as a duration: needs whole seconds above zero")
    remaining = int(td.total_seconds())
    parts = []
    for unit, size in UNITS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
