"""The `warroom` command line."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.composition.config import Settings, describe_error

if TYPE_CHECKING:
    from bot.composition.runtime import Runtime
    from bot.replay.runner import ReplayResult

SWITCH_INTERVAL = 0.001  # seconds (CPython's default: 0.005)
# Young objects tracked before a collection (CPython's default: 700). See cmd_serve.
YOUNG_COLLECTION_THRESHOLD = 10_000


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"warroom: {describe_error(error)}") from None


def _runtime(settings: Settings | None = None) -> Runtime:
    """Build the runtime, or exit 1 with the one-line reason (database, playbooks)."""
    from bot.composition.runtime import StartupError, build_runtime

    try:
        return build_runtime(settings or _settings())
    except StartupError as error:
        raise SystemExit(f"warroom: {error}") from None


def _loopback_bind(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name may resolve to anything: treat it as reachable from outside


def _refuse_remote_sandbox(settings: Settings, args: argparse.Namespace) -> None:
    """Exit unless the sandbox (whose tokens anyone reaching it can read) stays on loopback."""
    if not settings.sandbox_mode or _loopback_bind(args.host):
        return
    if args.allow_remote_sandbox or settings.sandbox_allow_remote:
        return
    raise SystemExit(
        f"warroom: no Slack credentials, so this would serve the local sandbox on {args.host}, "
        "where anyone reaching it can act as every sandbox user: bind 127.0.0.1, set "
        "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or pass --allow-remote-sandbox "
        "(WARROOM_SANDBOX_ALLOW_REMOTE=1) to serve it anyway"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service on uvicorn."""
    # Everything built from here to the freeze below lives as long as the process: the
    # cyclic collector's passes over it while it is imported and built would only cost
    # start-up time (10-15% of its CPU here).
    gc.disable()
    import uvicorn

    from bot.composition.app import create_app
    from bot.observability.logs import configure_logging
    from bot.web.deadline import RECEIVE_TIMEOUT, deadline_protocol

    settings = _settings()
    if args.no_sandbox_rate_limits:
        settings = settings.model_copy(update={"sandbox_rate_limits": False})
    _refuse_remote_sandbox(settings, args)
    configure_logging(settings, level=args.log_level.upper())
    runtime = _runtime(settings)
    local_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
    public_url = f"http://{local_host}:{args.port}"
    app = create_app(runtime, public_url=public_url)
    print(f"warroom serving on {public_url}", flush=True)
    if settings.sandbox_mode:
        print(
            f"No Slack credentials: open the local Slack sandbox at {public_url}/sandbox",
            flush=True,
        )
    if settings.slack_app_token is not None:
        print("Slack Socket Mode: commands, clicks and events come over the socket", flush=True)
    # Everything built so far (modules, models, compiled statements) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise walk it
    # all and stall every request for 100-200 ms at a time under load.
    gc.freeze()
    # The youngest generation is collected whenever 700 more objects are alive than at the
    # last pass; a few dozen requests in flight hold that many, so under a storm the
    # collector ran every dozen requests, found nearly nothing (reference counting frees a
    # request's objects), and promoted the live ones to be walked again by the older
    # passes: 5-6% of the server's CPU in an alert storm. Garbage still gets collected,
    # after 10,000 objects' worth instead of 700 (a few MB at most).
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)
    gc.enable()
    # A request's answer waits on a short database write in a writer thread, while other
    # threads run longer pure-Python work (carrying out what was answered before): each time
    # the writer's round trip returns, it waits for the GIL up to the switch interval.
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Logging is ours (redacted, one access line per request without query strings).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        http=deadline_protocol(args.receive_timeout or RECEIVE_TIMEOUT),
    )
    runtime.close()
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Create or migrate the schema."""
    from storage.db import make_engine
    from storage.migrate import current_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        print(f"database at revision {current_revision(engine)}")
    except Exception as error:
        print(f"warroom: cannot upgrade the database: {error}".splitlines()[0], file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_playbooks_check(args: argparse.Namespace) -> int:
    """Validate a playbook folder: `file:line: message` per problem, exit 1 on any."""
    from playbooks import bundled_dir, check_dir, completions, load_dir, summary

    folder = Path(args.dir) if args.dir else bundled_dir()
    problems = check_dir(folder)
    if problems:
        for problem in problems:
            print(problem)
        return 1
    for playbook in load_dir(folder).all():
        print(summary(playbook))
        for line in completions(playbook):
            print(line)
    return 0


def _print_replay(result: ReplayResult, *, tz_name: str, transcript: bool) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    if transcript:
        print("# Transcript\n")
        for message in result.messages:
            when = message.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            text = message.text.replace("\n", "\n    ")
            print(f"{when} #{message.channel} {message.author}: {text}")
        print()
    for warning in result.warnings:
        print(f"warroom: warning: {warning}", file=sys.stderr)
    print("\n\n---\n\n".join(result.drafts))


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a scenario on simulated time and print the postmortem draft."""
    from bot.replay.runner import ReplayError, replay
    from bot.replay.scenario import ScenarioError, load_scenario

    path = Path(args.scenario) if args.scenario else _bundled_scenario()
    try:
        scenario = load_scenario(path)
        # Progress on stderr: stdout stays the draft (and transcript) alone, for pipes.
        print(f"replaying {scenario.title!r}: {len(scenario.steps)} steps", file=sys.stderr)
        result = replay(scenario, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (ScenarioError, ReplayError) as error:
        print(f"warroom: {error}", file=sys.stderr)
        return 1
    _print_replay(result, tz_name=scenario.timezone, transcript=args.transcript)
    return 0


def _bundled_scenario() -> Path:
    return Path(__file__).parent.parent / "replay" / "scenarios" / "reference-incident.yaml"


def cmd_postmortem(args: argparse.Namespace) -> int:
    """Print an incident's postmortem draft."""
    from bot.postmortem import current_draft
    from storage.reads import read_session

    settings = _settings()
    runtime = _runtime(settings)
    try:
        with read_session(runtime.sessions) as session:
            print(
                current_draft(session, args.id, tz=settings.tz, template_dir=settings.template_dir)
            )
    except LookupError:
        print(f"warroom: no incident #{args.id}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def cmd_incidents(args: argparse.Namespace) -> int:
    """List incidents, or show one (`incidents show ID`)."""
    from bot.composition.cli_incidents import run_incidents
    from storage.reads import read_session

    settings = _settings()
    runtime = _runtime(settings)
    try:
        with read_session(runtime.sessions) as session:
            return run_incidents(args, session, settings.tz)
    finally:
        runtime.close()


def cmd_stats(args: argparse.Namespace) -> int:
    """Medians and p90 over stored incidents, drills left out, and the weekly series."""
    # Only the database: no playbooks, Slack, scheduler or statement engine, which the
    # service needs and the figures do not (the playbooks alone were a fifth of the time).
    # What is imported and built until the freeze lives until exit: the cyclic collector's
    # passes over it, while it is built and for every batch of rows read, are wasted.
    gc.disable()
    from bot.composition.cli_stats import print_stats
    from bot.composition.runtime import StartupError, open_database
    from bot.composition.stats_args import weekly_request
    from bot.incidents.clock import SystemClock
    from bot.incidents.stats import read_stats
    from storage.db import make_sessionmaker
    from storage.reads import read_session

    settings = _settings()
    try:
        engine = open_database(settings)
    except StartupError as error:
        raise SystemExit(f"warroom: {error}") from None
    gc.freeze()
    gc.enable()
    try:
        # A read of every incident: on SQLite, one that makes the service's writers wait
        # for nothing (a transaction of its own would hold the file's write lock).
        with read_session(make_sessionmaker(engine)) as session:
            now = SystemClock().now()
            today = now.astimezone(settings.tz).date()
            weekly = weekly_request(args, now, settings.tz)
            stats = read_stats(session, today=today, weekly=weekly)
    finally:
        engine.dispose()
    return print_stats(args, stats)


def cmd_maintenance(args: argparse.Namespace) -> int:
    """Schedule, list or cancel maintenance windows (the service posts the notices)."""
    from bot.incidents.commands import CommandError, parse_command
    from bot.incidents.errors import DomainError
    from bot.incidents.service import execute
    from storage.unit_of_work import unit_of_work

    text = " ".join(["maintenance", *args.words])
    try:
        command = parse_command(text)
    except CommandError as error:
        print(f"warroom: {error}".replace("/incident ", "warroom "), file=sys.stderr)
        return 2
    runtime = _runtime()
    try:
        with unit_of_work(runtime.sessions) as uow:
            outcome = execute(uow, runtime.domain, command, incident=None, actor="cli")
    except DomainError as error:
        print(f"warroom: {error}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(outcome.private or outcome.reply or "done")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="warroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (sandbox mode without Slack tokens)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument(
        "--receive-timeout",
        type=float,
        metavar="SECONDS",
        help="close a connection whose request (headers and body) is not in within this "
        "time (default: 20)",
    )
    serve.add_argument(
        "--allow-remote-sandbox",
        action="store_true",
        help="without Slack credentials, serve the sandbox on a non-loopback --host anyway "
        "(also WARROOM_SANDBOX_ALLOW_REMOTE=1)",
    )
    serve.add_argument(
        "--no-sandbox-rate-limits",
        action="store_true",
        help="without Slack credentials, let the sandbox answer past Slack's rate limits "
        "(also WARROOM_SANDBOX_RATE_LIMITS=0)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default: info (WARROOM_LOG_FORMAT=json for JSON lines)",
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the schema").set_defaults(
        func=cmd_db_upgrade
    )

    demo = sub.add_parser("demo", help="replay the reference incident and print its draft")
    demo.add_argument("--transcript", action="store_true", help="also print every message")
    demo.set_defaults(func=cmd_replay, scenario=None)

    replay_cmd = sub.add_parser("replay", help="replay a scenario on simulated time")
    replay_cmd.add_argument("scenario", help="scenario YAML file")
    replay_cmd.add_argument("--transcript", action="store_true", help="also print every message")
    replay_cmd.set_defaults(func=cmd_replay)

    postmortem = sub.add_parser("postmortem", help="print an incident's postmortem draft")
    postmortem.add_argument("id", type=int)
    postmortem.set_defaults(func=cmd_postmortem)

    from bot.composition.cli_incidents import add_incidents

    add_incidents(sub, cmd_incidents)

    from bot.composition.stats_args import add_stats_arguments

    stats = sub.add_parser("stats", help="response-time figures over stored incidents")
    add_stats_arguments(stats)
    stats.set_defaults(func=cmd_stats)

    maintenance = sub.add_parser(
        "maintenance",
        help="'YYYY-MM-DD HH:MM DURATION TITLE', 'list' or 'cancel ID'",
    )
    maintenance.add_argument("words", nargs="+")
    maintenance.set_defaults(func=cmd_maintenance)

    books = sub.add_parser("playbooks", help="playbook tools")
    books_sub = books.add_subparsers(dest="playbooks_command", required=True)
    check = books_sub.add_parser("check", help="validate a playbook folder")
    check.add_argument("dir", nargs="?", help="folder (default: the bundled playbooks)")
    check.set_defaults(func=cmd_playbooks_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `warroom` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
