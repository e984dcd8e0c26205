"""`warroom demo` tells each step on stderr as it plays it; stdout stays the draft alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_tells_each_step_and_stage_on_stderr_with_the_simulated_time(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "replaying 'Matching engine dependency failure': 34 steps"
    assert lines[1] == "17:56:00 step 1/34: alert from alertmanager"
    assert lines[2] == "17:56:00   incident #1: investigating, stage Detect"
    assert "18:05:00   incident #1: identified, stage Identify the failed dependency" in lines
    assert "18:30:30   incident #1: resolved, stage Review and commitments" in lines
    assert lines[-1] == "18:36:00 step 34/34: alice: /incident postmortem"
    steps = [line for line in lines if " step " in line]
    assert len(steps) == 34
    assert "step" not in done.stdout.split("\n", 1)[0]  # the draft starts stdout, as before
    assert done.stdout.startswith("# ")
