"""Shared bench helpers: a temporary database, the service (or a baseline) in its own process.

Every bench starts what it measures as a separate `python` process on a free loopback port,
the way `warroom serve` runs in production, so the client's CPU time is not the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ALERT_TOKEN = "bench-alert-token"
AUTH = {"Authorization": f"Bearer {ALERT_TOKEN}"}
STARTUP_TIMEOUT = 60.0


def settle_gc() -> None:
    """Collect now and freeze what exists: the load generator's own collector then does not
    pause it mid-run (timing warroom and its baseline alike)."""
    gc.collect()
    gc.freeze()


@dataclass
class Load:
    """What one closed-loop run saw: each answer's status and time."""

    sent: int
    expected: int  # the status every answer should have
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)  # 0: no answer (transport error)

    @property
    def throughput(self) -> float:
        return self.sent / self.seconds

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != self.expected)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000

    @classmethod
    def pooled(cls, runs: Sequence[Load]) -> Load:
        """Several runs of the same load (segments of one bench) as one."""
        pooled = cls(sent=sum(run.sent for run in runs), expected=runs[0].expected)
        for run in runs:
            pooled.seconds += run.seconds
            pooled.latencies.extend(run.latencies)
            for status, count in run.statuses.items():
                pooled.statuses[status] = pooled.statuses.get(status, 0) + count
        return pooled


Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


async def closed_loop(
    url: str,
    requests: Iterable[Request],
    *,
    sent: int,
    connections: int,
    expected: int,
    on_start: Callable[[], object] | None = None,
) -> Load:
    """POST every request over `connections` concurrent connections, each sending its next
    as soon as it has an answer; time each answer. Requests are built as they are sent.
    `on_start` is called once the clients are connected, as the first request goes."""
    load = Load(sent=sent, expected=expected)
    queue = iter(requests)

    async def worker(client: httpx.AsyncClient) -> None:
        for path, body, headers in queue:
            began = time.perf_counter()
            try:
                status = (await client.post(url + path, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                status = 0
            load.latencies.append(time.perf_counter() - began)
            load.statuses[status] = load.statuses.get(status, 0) + 1

    # One single-connection client per connection: httpcore's pool scans every connection
    # for every queued request, which at 50 connections in one client costs the client more
    # CPU than a bare FastAPI endpoint costs the server, and the bench would time httpx.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=120) for _ in range(connections)]
    try:
        # Connect every client before the clock starts.
        await asyncio.gather(*(client.get(url + "/healthz") for client in clients))
        settle_gc()
        if on_start is not None:
            on_start()
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        load.seconds = time.perf_counter() - began
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return load


def parse_args(doc: str | None, quick_help: str) -> argparse.Namespace:
    """The options every bench takes: `--quick` and `--postgres URL`."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL: a server URL such as "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (a temporary database is "
        "created beside the one named, and dropped after)",
    )
    return parser.parse_args()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.02, what: str = ""
) -> Any:
    """Return predicate()'s first truthy value, or raise after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout:.0f}s: {what or predicate}")
        time.sleep(interval)


def outbox_idle(client: httpx.Client) -> bool:
    """Whether warroom's outbox holds no pending or running operation (its /metrics): the
    Slack work an incident leaves behind (card, broadcast, pins, notices) is done."""
    text = client.get("/metrics").raise_for_status().text
    return not any(
        line.startswith("warroom_outbox_depth{")
        and ('"pending"' in line or '"running"' in line)
        and float(line.rsplit(" ", 1)[1]) > 0
        for line in text.splitlines()
    )


def machine() -> dict[str, Any]:
    """What the figures ran on: cores, memory, Python."""
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


# -- databases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """A database kind to run on: `sqlite`, or `postgresql` on the server at `server_url`."""

    name: str
    server_url: str | None = None


def backends(args: argparse.Namespace) -> list[Backend]:
    """SQLite always; PostgreSQL too when `--postgres` names a server."""
    found = [Backend("sqlite")]
    if args.postgres:
        found.append(Backend("postgresql", args.postgres))
    return found


def _admin_engine(server_url: str) -> Any:
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=None)


@contextmanager
def temp_database(backend: Backend, folder: Path) -> Iterator[str]:
    """Yield the DATABASE_URL of a fresh, migrated database; drop it afterwards."""
    if backend.server_url is None:
        yield f"sqlite:///{folder / 'warroom.db'}"  # the service migrates SQLite itself
        return
    name = f"warroom_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _admin_engine(backend.server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = (
        make_url(backend.server_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            env=service_env(url),
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"warroom db upgrade failed: {done.stderr.strip()}")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- processes ---------------------------------------------------------------------------------


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for `python -m bot`: sandbox mode (no SLACK_*), our token and time zone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "WARROOM_ALERT_TOKEN": ALERT_TOKEN,
            "WARROOM_TIMEZONE": "Asia/Hong_Kong",
            "WARROOM_BROADCAST_CHANNEL": "incidents",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


@dataclass
class Server:
    """A process serving HTTP on `url`; its output goes to `log`."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def run_server(
    argv: list[str], *, port: int, env: dict[str, str], cwd: Path, name: str
) -> Iterator[Server]:
    """Start argv (it must listen on port), wait for GET /healthz, and stop it (SIGTERM) after."""
    log = cwd / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.tail()}")
            try:
                return httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=STARTUP_TIMEOUT, interval=0.1, what=f"{name} healthy")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextmanager
def warroom(backend: Backend, **extra_env: str) -> Iterator[Server]:
    """`python -m bot serve` in sandbox mode on a fresh database of this backend."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as raw:
        folder = Path(raw)
        with temp_database(backend, folder) as url:
            port = free_port()
            argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
            argv += ["--port", str(port)]
            env = service_env(url, **extra_env)
            with run_server(argv, port=port, env=env, cwd=folder, name="warroom") as server:
                yield server


@contextmanager
def slack_host() -> Iterator[Server]:
    """A second service in sandbox mode whose sandbox plays Slack: Slack's side of every Web
    API call then runs in another process, as real Slack's does (its own bot stays idle)."""
    with warroom(Backend("sqlite")) as host:
        yield host


def slack_env(host: Server) -> dict[str, str]:
    """The Slack credentials of `host`'s sandbox, as the measured service's environment."""
    info = httpx.get(f"{host.url}/sandbox/api/sandbox.info", timeout=10).raise_for_status()
    return {
        "SLACK_BOT_TOKEN": info.json()["bot_token"],
        "SLACK_SIGNING_SECRET": info.json()["signing_secret"],
        "SLACK_API_URL": f"{host.url}/sandbox/api/",
    }


@contextmanager
def baseline(script: str, **env_extra: str) -> Iterator[Server]:
    """A bench/ baseline script (`python bench/SCRIPT --port N`) in its own process."""
    with tempfile.TemporaryDirectory(prefix="warroom-baseline-") as raw:
        port = free_port()
        argv = [sys.executable, str(BENCH_DIR / script), "--port", str(port)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_extra}
        with run_server(argv, port=port, env=env, cwd=Path(raw), name=script) as server:
            yield server


def verdict(passed: bool) -> str:
    return "pass" if passed else "MISS"


def report(results: dict[str, dict[str, Any]], bars: Callable[[str, dict[str, Any]], bool]) -> None:
    """Print each backend's bars, then the last line: one JSON object (SQLite at the top
    level, PostgreSQL under "postgresql")."""
    passed = all([bars(name, result) for name, result in results.items()])
    summary: dict[str, Any] = {"backend": "sqlite", **results["sqlite"], "passed": passed}
    if "postgresql" in results:
        summary["postgresql"] = results["postgresql"]
    print(json.dumps(summary))
