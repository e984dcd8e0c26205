"""The `warroom` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings, describe_error


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"warroom: {describe_error(error)}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service on uvicorn."""
    import uvicorn

    from bot.app import create_app
    from bot.runtime import StartupError, build_runtime

    settings = _settings()
    try:
        runtime = build_runtime(settings)
    except StartupError as error:
        print(f"warroom: {error}", file=sys.stderr)
        return 1
    local_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
    public_url = f"http://{local_host}:{args.port}"
    app = create_app(runtime, public_url=public_url)
    print(f"warroom serving on {public_url}", flush=True)
    if settings.sandbox_mode:
        print(
            f"No Slack credentials: open the local Slack sandbox at {public_url}/sandbox",
            flush=True,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
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
    from pathlib import Path

    from playbooks import bundled_dir, check_dir, load_dir, summary

    folder = Path(args.dir) if args.dir else bundled_dir()
    problems = check_dir(folder)
    if problems:
        for problem in problems:
            print(problem)
        return 1
    for playbook in load_dir(folder).all():
        print(summary(playbook))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="warroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (sandbox mode without Slack tokens)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the schema").set_defaults(
        func=cmd_db_upgrade
    )

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
