"""`warroom serve` as an operator starts it: a real process, health routes, clear start errors."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from storage.db import make_engine
from tests.support.server import free_port, wait_until


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve(tmp_path) as (base, db, _process):
        yield base, db


@contextlib.contextmanager
def serve(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """`warroom serve` with `env` on a fresh SQLite database: its URL, database, process."""
    port = free_port()
    db = tmp_path / "warroom.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=_env(DATABASE_URL=f"sqlite:///{db}", **env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(up, timeout=20)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        yield base, db, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_answers_health_and_readiness_and_migrates_sqlite(served) -> None:
    base, db = served
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert (ready.status_code, ready.json()["database"]) == (200, "ok")
    engine = make_engine(f"sqlite:///{db}")
    assert "incidents" in inspect(engine).get_table_names()
    engine.dispose()


def test_readiness_and_the_start_log_say_which_integrations_are_configured(tmp_path) -> None:
    pagerduty = {"WARROOM_PAGERDUTY_ROUTING_KEY": "R0UTINGKEY0123456789ABCDEFGHIJKL"}
    github = {
        "WARROOM_GITHUB_TOKEN": "github_pat_0123456789abcdefghij",
        "WARROOM_GITHUB_REPO": "exchange/sre",
        "WARROOM_GITHUB_WEBHOOK_SECRET": "hook-secret-0123456789",
    }
    with serve(tmp_path, **pagerduty, **github) as (base, _db, process):
        ready = httpx.get(f"{base}/readyz").json()
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert ready["integrations"] == {
        "pagerduty": "configured",
        "statuspage": "not configured",
        "webhooks": "not configured",
        "github": "configured",
        "jira": "not configured",
        "linear": "not configured",
    }
    assert (
        "integrations: pagerduty configured, statuspage not configured, "
        "webhooks not configured, github configured, jira not configured, "
        "linear not configured" in output
    )
    for secret in (*pagerduty.values(), github["WARROOM_GITHUB_TOKEN"]):
        assert secret not in output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WARROOM_TIMEZONE": "Mars/Olympus"},
            "WARROOM_TIMEZONE: unknown time zone 'Mars/Olympus'",
        ),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL: unsupported database 'mysql'"),
        ({"SLACK_API_URL": "https://slack.com/api"}, "SLACK_API_URL must end with '/'"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"),
        (
            {"WARROOM_ALERT_TOKEN": "hunter2-token"},
            "WARROOM_ALERT_TOKEN: too short (13 characters): use at least 16",
        ),
        (
            {"WARROOM_WEBHOOK_SECRET": "whsec-short"},
            "WARROOM_WEBHOOK_SECRET: too short (11 characters): use at least 16",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "0123456789abcde"},
            "SLACK_SIGNING_SECRET: too short (15 characters): use at least 16",
        ),
        (
            {"WARROOM_SNS_TOPIC_ARNS": "arn:aws:sns:us-west-2:123456789012:ok, MyTopic"},
            "WARROOM_SNS_TOPIC_ARNS: not an SNS topic ARN: 'MyTopic'",
        ),
        (
            {
                "WARROOM_GITHUB_TOKEN": "github_pat_0123456789abcdef",
                "WARROOM_GITHUB_REPO": "acme/ops",
                "WARROOM_LINEAR_API_KEY": "lin_api_0123456789abcdef",
                "WARROOM_LINEAR_TEAM": "ENG",
            },
            "more than one ticket tracker is configured (github, linear)",
        ),
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"},
            "warroom: cannot use the database:",
        ),
        (
            {"DATABASE_URL": "sqlite:////nonexistent-warroom-dir/warroom.db"},
            "warroom: cannot use the database:",
        ),
    ],
)
def test_bad_configuration_fails_at_start_with_one_line(tmp_path, env, message) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        env=_env(**{"DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", **env}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    if "too short" in message:  # the refusal names the variable, never its value
        assert not any(value in done.stderr for value in env.values())
