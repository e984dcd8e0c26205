"""The stats subcommand's flags, parsed without touching the database: `--since`, `--by`,
`--json`, `--chart`; bad values exit non-zero with argparse's message."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.incidents.weekly_window import (
    BY,
    DEFAULT_BY,
    DEFAULT_SINCE,
    WeeklyRequest,
    parse_by,
    parse_since,
)


def _argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a parser raising ValueError: argparse prints its message."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from error

    return convert


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    """`--since`, `--by`, `--json` and `--chart` on the stats subcommand."""
    parser.add_argument(
        "--since",
        type=_argument(parse_since),
        default=parse_since(DEFAULT_SINCE),
        help=f"weekly series window, days or weeks (default {DEFAULT_SINCE}; e.g. 12w)",
    )
    parser.add_argument(
        "--by",
        type=_argument(parse_by),
        default=DEFAULT_BY,
        help=f"group the weeks by {'|'.join(BY)} (default {DEFAULT_BY})",
    )
    parser.add_argument("--json", action="store_true", help="print what GET /api/stats answers")
    parser.add_argument("--chart", type=Path, metavar="FILE.png", help="write the weekly chart")


def weekly_request(args: argparse.Namespace, now: datetime, tz: ZoneInfo) -> WeeklyRequest:
    """The weekly series the command line asks for, up to `now`."""
    since = getattr(args, "since", parse_since(DEFAULT_SINCE))
    return WeeklyRequest(until=now, tz=tz, since=since, by=getattr(args, "by", DEFAULT_BY))
