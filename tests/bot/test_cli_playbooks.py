"""`warroom playbooks check`: what completes each task is shown, and a second fallback
playbook is an error at its line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FALLBACK = "id: {id}\ntitle: {id}\nstages:\n  - id: only\n    title: Only\n"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "playbooks", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_shows_the_tasks_a_milestone_or_command_ticks_off() -> None:
    done = _check()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("trading-engine-outage:")))
    assert lines[start + 1 : start + 4] == [
        "  detect 3: Acknowledge with /incident ack to start the emergency response "
        "(done_on acknowledged)",
        "  respond 2: Post a first status update (done_by update)",
        "  identify 2: Confirm which service failed and record it with /incident cause "
        "(done_by cause)",
    ]


def test_two_fallback_playbooks_fail_the_check(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(FALLBACK.format(id="default"))
    (tmp_path / "b.yaml").write_text(FALLBACK.format(id="catch-all"))
    done = _check(str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'b.yaml'}:1: playbook 'catch-all' has no match, like 'default' at "
        f"{tmp_path / 'a.yaml'}:1: only one playbook may be the fallback; give one of them a match"
    ]
