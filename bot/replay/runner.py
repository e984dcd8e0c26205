"""Run a scenario: a throwaway database, the sandbox, the real routes, a simulated clock."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select
from sqlmodel import col

from bot.composition.app import create_app
from bot.composition.config import Settings
from bot.composition.runtime import Runtime, build_runtime
from bot.incidents.clock import SimulatedClock
from bot.postmortem import draft
from bot.replay.readable import readable
from bot.replay.scenario import Scenario
from bot.sandbox.client import SandboxClient
from bot.scheduling.scheduler import current
from storage import outbox
from storage.models import Incident

BROADCAST = "incidents"
# Told one line at a time as the replay goes (the CLI writes them to stderr).
Progress = Callable[[str], None]


class ReplayError(RuntimeError):
    """A step the service refused; the message names the step."""


@dataclass
class Posted:
    """One message as it appeared in the workspace."""

    at: datetime
    channel: str
    author: str
    text: str


@dataclass
class ReplayResult:
    """What a replay produced: a draft per incident, every message, and warnings."""

    drafts: list[str]
    messages: list[Posted] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(runtime: Runtime) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(runtime, public_url=url, replay=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="replay-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ReplayError("the service did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Replay:
    """Drives one scenario step by step."""

    def __init__(self, scenario: Scenario, folder: Path, progress: Progress | None = None) -> None:
        self.scenario = scenario
        self.progress = progress
        self.seen: dict[int, tuple[str, str]] = {}  # incident id -> (status, stage) told
        self.times = scenario.times()
        self.clock = SimulatedClock(self.times[0] - timedelta(seconds=1))
        self.token = secrets.token_urlsafe(16)
        settings = Settings(
            _env_file=None,
            DATABASE_URL=f"sqlite:///{folder / 'replay.db'}",
            WARROOM_TIMEZONE=scenario.timezone,
            WARROOM_BROADCAST_CHANNEL=BROADCAST,
            WARROOM_ALERT_TOKEN=self.token,
        )
        self.runtime = build_runtime(settings, clock=self.clock)
        self.warnings: list[str] = []

    def _quiet(self, limit: float = 30.0) -> None:
        """Wait until the outbox has carried out everything the last step caused."""
        deadline = time.monotonic() + limit
        while True:
            with self.runtime.sessions() as session:
                if outbox.pending_count(session=session) == 0:
                    return
            if time.monotonic() > deadline:
                raise ReplayError("the outbox did not settle")
            self.runtime.wake_dispatcher()
            time.sleep(0.01)

    def _channel_for(self, sandbox: SandboxClient, step_channel: str | None) -> str:
        if step_channel:
            return step_channel
        with self.runtime.sessions() as session:
            latest = session.scalar(
                select(Incident)
                .where(col(Incident.channel_id).is_not(None))
                .order_by(col(Incident.status) == "resolved", col(Incident.id).desc())
            )
        return latest.channel_id if latest and latest.channel_id else BROADCAST

    def run(self) -> ReplayResult:
        """Play every step; return the drafts of the incidents it opened."""
        with _serving(self.runtime) as url:
            sandbox = SandboxClient(url)
            try:
                for index, (step, when) in enumerate(
                    zip(self.scenario.steps, self.times, strict=True), 1
                ):
                    self._fire_due(when)
                    self.clock.set(when)
                    self._step(index, step, url, sandbox)
                    self._quiet()
                    self._tell(index, step, when)
                messages = self._messages(sandbox)
            finally:
                sandbox.close()
        with self.runtime.sessions() as session:
            ids = list(session.scalars(select(col(Incident.id)).order_by(col(Incident.id))))
            drafts = [draft(session, i, tz=self.scenario.tz) for i in ids if i is not None]
        self.runtime.close()
        return ReplayResult(drafts, messages, self.warnings)

    def _tell(self, index: int, step: Any, when: datetime) -> None:
        """One line for the step just played, and one per incident whose status or stage
        it changed, each with the simulated time."""
        if self.progress is None:
            return
        at = when.astimezone(self.scenario.tz).strftime("%H:%M:%S")
        if step.alert is not None:
            what = f"alert from {step.alert.source}"
        elif step.command is not None:
            command = step.command if len(step.command) <= 80 else step.command[:79] + "…"
            what = f"{step.user or 'responder'}: /incident {command}"
        else:
            what = "time passes"
        self.progress(f"{at} step {index}/{len(self.scenario.steps)}: {what}")
        with self.runtime.sessions() as session:
            incidents = list(session.scalars(select(Incident).order_by(col(Incident.id))))
        for incident in incidents:
            assert incident.id is not None
            now = (incident.status, _stage_title(incident))
            if self.seen.get(incident.id) != now:
                self.seen[incident.id] = now
                self.progress(f"{at}   incident #{incident.id}: {now[0]}, stage {now[1]}")

    def _fire_due(self, until: datetime) -> None:
        scheduler = current()
        if scheduler is None:
            return
        asyncio.run(scheduler.run_due(until, self.clock, after_each=self._settle))

    async def _settle(self) -> None:
        await asyncio.to_thread(self._quiet)

    def _step(self, index: int, step: Any, url: str, sandbox: SandboxClient) -> None:
        where = f"step {index} ({step.at})"
        if step.alert is not None:
            response = httpx.post(
                f"{url}/alerts/{step.alert.source}",
                json=step.alert.payload,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            )
            if response.status_code != 202:
                raise ReplayError(f"{where}: the alert was refused: {response.text}")
            return
        if step.command is None:
            return  # time passes: reminders and notices due by now have fired
        user = sandbox.add_user(step.user or "responder")
        channel = self._channel_for(sandbox, step.channel)
        # Already a member is fine: joining only makes sure the command is allowed there.
        with contextlib.suppress(Exception):
            user.join(channel)
        before = {m.get("ts") for m in sandbox.messages(channel, ephemeral=True)}
        answer = user.command(f"/incident {step.command}", channel)
        if not answer.get("ok", True):
            raise ReplayError(f"{where}: the command failed: {answer.get('error')}")
        for message in sandbox.messages(channel, ephemeral=True):
            if message.get("is_ephemeral") and message.get("ts") not in before:
                text = message.get("text", "")
                if text.startswith(("Unknown", "`")) or "Usage:" in text or "needs" in text:
                    self.warnings.append(f"{where}: {step.command!r}: {text}")

    def _messages(self, sandbox: SandboxClient) -> list[Posted]:
        info = sandbox.info()
        users = {u["id"]: u.get("name", u["id"]) for u in info.get("users", [])}
        names = {c["id"]: c["name"] for c in info.get("channels", []) if c.get("name")}
        posted: list[Posted] = []
        for channel in info.get("channels", []):
            for message in sandbox.messages(channel["id"]):
                if message.get("subtype"):
                    continue
                posted.append(
                    Posted(
                        at=datetime.fromtimestamp(float(message["ts"]), UTC),
                        channel=channel["name"],
                        author=users.get(message.get("user", ""), message.get("user", "?")),
                        text=readable(message.get("text", ""), users, names),
                    )
                )
        posted.sort(key=lambda m: m.at)
        return posted


def _stage_title(incident: Incident) -> str:
    stage = (incident.playbook_state or {}).get("stage", "")
    for known in (incident.playbook_snapshot or {}).get("stages", []):
        if known.get("id") == stage:
            return str(known.get("title") or stage)
    return str(stage or "—")


def replay(scenario: Scenario, progress: Progress | None = None) -> ReplayResult:
    """Replay a scenario in a throwaway workspace and database, telling `progress` each
    step as it is played."""
    with tempfile.TemporaryDirectory(prefix="warroom-replay-") as folder:
        return Replay(scenario, Path(folder), progress).run()
