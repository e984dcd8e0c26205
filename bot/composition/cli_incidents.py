"""`warroom incidents [--status S] [--json]` and `warroom incidents show ID`: the incidents
the API lists, from a shell, so an id is found without curl."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.incidents.commands import STATUSES

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.usecases.queries import IncidentListed

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000  # as GET /api/incidents
# What `GET /api/incidents?status=` takes ('open': not resolved).
STATUS_FILTERS = ("open", *STATUSES)


def add_incidents(sub: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    """Add `incidents` (and `incidents show ID`) to the CLI's subcommands."""
    listing = sub.add_parser("incidents", help="list incidents newest first; 'show ID' for one")
    listing.add_argument(
        "--status",
        choices=STATUS_FILTERS,
        help="only these ('open' = not resolved; default: every status)",
    )
    listing.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"at most this many, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    )
    listing.add_argument("--json", action="store_true", help="as GET /api/incidents answers")
    listing.set_defaults(func=handler, incident_id=None)
    shows = listing.add_subparsers(dest="incidents_command")
    show = shows.add_parser("show", help="one incident: roles, stage, milestones")
    show.add_argument("incident_id", metavar="ID", type=int)
    show.add_argument("--json", action="store_true", help="as GET /api/incidents/ID answers")
    show.set_defaults(func=handler)


def _limit(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_LIMIT}")
    return number


def run_incidents(args: argparse.Namespace, session: Session, tz: ZoneInfo) -> int:
    """Print the list or one incident; exit 1 when there is no such incident."""
    # Here, not at the top: building the parser stays quick for every other subcommand.
    from bot.incidents.people import known_names, name_of
    from bot.usecases.queries import IncidentFilter, incidents
    from bot.web.api import list_incidents
    from bot.web.incident_query import ListQuery

    now = datetime.now(UTC)
    if args.incident_id is not None:
        return _show(session, args.incident_id, tz, as_json=args.json)
    where = IncidentFilter(status=args.status)
    if args.json:
        page = list_incidents(session, ListQuery(where, args.limit, None))
        _print_json(page.model_dump(mode="json"))
        return 0
    page_of = incidents(session, where, limit=args.limit)
    rows = page_of.incidents
    if not rows:
        print("no incidents" + (f" with status {args.status}" if args.status else ""))
        return 0
    known = known_names(session, (row.commander for row in rows))
    for row in rows:
        print(_line(row, tz, now, name_of(row.commander, known)))
    if page_of.next is not None:
        print(f"… more: --limit {min(args.limit * 2, MAX_LIMIT)}, or --status to narrow")
    return 0


def _line(row: IncidentListed, tz: ZoneInfo, now: datetime, commander: str | None) -> str:
    from bot.incidents.times import elapsed, format_duration
    from bot.incidents.untrusted import clean_text

    opened = row.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if row.resolved_at is not None and row.status == "resolved":
        age = f"lasted {format_duration(elapsed(row.created_at, row.resolved_at))}"
    else:
        age = f"open {format_duration(elapsed(row.created_at, now))}"
    where = f"#{row.channel_name}" if row.channel_name else "(no channel yet)"
    parts = [f"#{row.id}", row.severity, row.status, opened, age, where]
    if commander:
        parts.append(f"commander {commander}")
    drill = " (drill)" if row.drill else ""
    return clean_text("  ".join(parts) + f"  {row.title}{drill}")


def _show(session: Session, incident_id: int, tz: ZoneInfo, *, as_json: bool) -> int:
    from bot.incidents.people import known_names, name_of
    from bot.incidents.untrusted import clean_text
    from bot.usecases.queries import incident_record
    from bot.web.api import incident_detail
    from bot.web.errors import WebError

    if as_json:
        try:
            _print_json(incident_detail(session, incident_id).model_dump(mode="json"))
        except WebError:
            print(f"warroom: no incident #{incident_id}", file=sys.stderr)
            return 1
        return 0
    record = incident_record(session, incident_id)
    if record is None:
        print(f"warroom: no incident #{incident_id}", file=sys.stderr)
        return 1
    found = record.incident
    known = known_names(session, found.roles.values())
    print(clean_text(f"#{found.id} {found.title}" + (" (drill)" if found.drill else "")))
    print(f"severity   {found.severity}")
    print(f"status     {found.status}")
    print(f"playbook   {found.playbook_id}")
    print(f"channel    #{found.channel_name or '-'} ({found.channel_id or 'not open yet'})")
    if found.private:
        print("private    yes: kept off public surfaces")
    for role, person in sorted(found.roles.items()):
        print(clean_text(f"{role:<10} {name_of(person, known)}"))
    for name, fact in found.milestones.items():
        print(f"{name:<10} {fact.at.astimezone(tz):%Y-%m-%d %H:%M:%S} ({fact.source})")
    if found.stage is not None:
        print(clean_text(f"stage      {found.stage.title}"))
        for task in found.stage.tasks:
            print(clean_text(f"  [{'x' if task.done else ' '}] {task.n}. {task.text}"))
    print(f"alerts     {len(record.alerts)}; action items {len(record.action_items)}")
    print(f"times in {tz.key}; the timeline: GET /api/incidents/{found.id}/timeline")
    return 0


def _print_json(body: dict[str, Any]) -> None:
    from bot.incidents.untrusted import clean_text

    print(clean_text(json.dumps(body, ensure_ascii=False, indent=2)))
