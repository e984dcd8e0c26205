"""Run `python -m bot serve` as a real child process: start it, kill it, read what it did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port, wait_until

# Variables of the developer's shell that would change what the child serves.
_OWN_PREFIXES = ("SLACK_", "WARROOM_", "DATABASE_URL")


@dataclass
class ServerProcess:
    """One `python -m bot serve` child, its port, and its combined output in a log file."""

    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    token: str
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON route of this process with the alert/API token."""
        response = self._http.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.token}"}
        )
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST JSON to a route of this process with the alert/API token."""
        response = self._http.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        response.raise_for_status()
        return response.json()

    def sandbox(self, method: str, **params: Any) -> Any:
        """Call a sandbox-only GET method (`sandbox.messages`, `sandbox.info`)."""
        body = self.get(f"/sandbox/api/{method}", **params)
        assert body.get("ok"), body
        return body

    def command(self, text: str, *, channel: str, user: str = "alice") -> dict[str, Any]:
        """Run a slash command as a sandbox user, the way Slack would deliver it.

        The user joins the channel first: Slack gives only members a message box to type in.
        """
        channel_id = self.sandbox("sandbox.channel", channel=channel)["channel"]["id"]
        self.post("/sandbox/ui/join", {"user": user, "channel": channel_id})
        body = self.post(
            "/sandbox/api/sandbox.command", {"user": user, "channel": channel, "text": text}
        )
        assert body.get("ok"), body
        return body

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        """The incident's timeline events, each `at` parsed to an aware datetime."""
        events: list[dict[str, Any]] = []
        path = f"/api/incidents/{incident_id}/timeline"
        page = self.get(path, limit=1000)
        events += page["events"]
        while page["next_cursor"] is not None:  # a page at a time, to the end
            page = self.get(path, limit=1000, cursor=page["next_cursor"])
            events += page["events"]
        for event in events:
            event["at"] = datetime.fromisoformat(event["at"])
        return events

    def ready(self) -> bool:
        try:
            return self._http.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 20) -> None:
        """Wait until /healthz answers; fail with the process's output if it never does."""
        try:
            wait_until(lambda: not self.alive or self.ready(), timeout=timeout)
        except AssertionError:
            self.kill()
            raise AssertionError(f"{self.name} did not start:\n{self.log()}") from None
        if not self.alive:
            raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, connections and locks die with the process."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL if it does not come)."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._http.close()


def child_env(**values: str) -> dict[str, str]:
    """This environment without Slack/warroom settings (sandbox mode), plus values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


def launch(
    name: str,
    workdir: Path,
    *,
    env: dict[str, str],
    port: int | None = None,
    args: Sequence[str] = (),
) -> ServerProcess:
    """Start `python -m bot serve` in workdir (no `.env` of the repo; -P: no cwd on sys.path)."""
    port = port or free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-P", "-m", "bot", "serve", "--port", str(port), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(name, port, popen, log_path, token=env["WARROOM_ALERT_TOKEN"])


def start_server(
    name: str,
    workdir: Path,
    *,
    env: dict[str, str],
    port: int | None = None,
    startup_timeout: float = 20,
    args: Sequence[str] = (),
) -> ServerProcess:
    """Start `python -m bot serve` and wait until it answers /healthz."""
    process = launch(name, workdir, env=env, port=port, args=args)
    process.wait_ready(startup_timeout)
    return process


@contextmanager
def cleanup(*processes: ServerProcess) -> Iterator[list[ServerProcess]]:
    """Stop every process registered in the yielded list when the block ends."""
    started = list(processes)
    try:
        yield started
    except BaseException:
        # pytest shows what a failing test printed: the servers' own story, minus access lines.
        for process in started:
            lines = [
                line
                for line in process.log().splitlines()
                if not any(noise in line for noise in ("HTTP/1.1", "GET /", "warroom.access"))
            ]
            print(f"--- {process.name} (pid {process.popen.pid}) ---", *lines[-60:], sep="\n")
        raise
    finally:
        for process in started:
            process.stop()
