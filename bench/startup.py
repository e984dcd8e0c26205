"""Time `warroom serve` from process start until it answers, against the import floor.

Usage: python bench/startup.py [--quick] [--postgres URL]
Each round times, in turns whose order flips every round: (a) the import floor, a process
that only imports the libraries serve needs at start and exits (with Alembic too: the
floor of a first start, which creates the schema), (b) `python -m bot serve` in sandbox
mode on a fresh SQLite database, (c) the same on a database already current. A serve turn
ends when /healthz and then /readyz answer 200. Prints medians and the ratios serve/floor,
then as its last line one JSON object; bar: both ratios <= 2.0. With --postgres, (c) also
runs on a temporary PostgreSQL database migrated beforehand (serve never migrates one).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    REPO,
    STARTUP_TIMEOUT,
    Backend,
    backends,
    free_port,
    machine,
    parse_args,
    report,
    service_env,
    temp_database,
    verdict,
)

FULL_ROUNDS, QUICK_ROUNDS = 9, 3
BAR = 2.0
# What `warroom serve` needs at start, and nothing of ours.
LIBRARIES = (
    "fastapi",
    "uvicorn",
    "slack_bolt.async_app",
    "slack_sdk.web.async_client",
    "sqlmodel",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "apscheduler.schedulers.asyncio",
    "apscheduler.jobstores.sqlalchemy",
    "httpx",
)


def floor_seconds(*, alembic: bool) -> float:
    """Seconds for a fresh interpreter to import the libraries and exit."""
    modules = [*LIBRARIES, *(["alembic.command"] if alembic else [])]
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {', '.join(modules)}"], check=True)
    return time.perf_counter() - began


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def serve_seconds(database_url: str, folder: Path) -> tuple[float, float]:
    """Start `python -m bot serve`; return seconds until /healthz, then /readyz, answer 200."""
    port = free_port()
    argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**service_env(database_url), "PYTHONPATH": str(REPO)}
    base = f"http://127.0.0.1:{port}"
    with (folder / "serve.log").open("ab") as log:
        began = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=folder, stdout=log, stderr=log)
    try:
        healthy = ready = None
        while ready is None:
            if process.poll() is not None:
                tail = (folder / "serve.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"serve exited with {process.returncode}:\n{tail}")
            if time.perf_counter() - began > STARTUP_TIMEOUT:
                raise TimeoutError(f"serve not ready within {STARTUP_TIMEOUT:.0f}s")
            if healthy is None and _answers(f"{base}/healthz"):
                healthy = time.perf_counter() - began
            if healthy is not None and _answers(f"{base}/readyz"):
                ready = time.perf_counter() - began
            else:
                time.sleep(0.01)
        assert healthy is not None
        return healthy, ready
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def run(backend: Backend, rounds: int) -> dict[str, Any]:
    """Alternate the turns for `rounds` rounds; return medians and ratios."""
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="warroom-startup-") as raw:
        folder = Path(raw)
        with temp_database(backend, folder) as current_url:
            if backend.name == "sqlite":
                serve_seconds(current_url, folder)  # creates the schema: current from now on
            serve_seconds(current_url, folder)  # warm the file cache before timing anything
            turns = ["floor", "current"]
            if backend.name == "sqlite":
                turns += ["floor_alembic", "fresh"]
            for number in range(rounds):
                for turn in turns if number % 2 == 0 else reversed(turns):
                    if turn == "floor":
                        times.setdefault(turn, []).append(floor_seconds(alembic=False))
                    elif turn == "floor_alembic":
                        times.setdefault(turn, []).append(floor_seconds(alembic=True))
                    else:
                        url = current_url
                        if turn == "fresh":
                            fresh = folder / f"fresh-{number}.db"
                            url = f"sqlite:///{fresh}"
                        healthy, ready = serve_seconds(url, folder)
                        times.setdefault(f"{turn}_healthz", []).append(healthy)
                        times.setdefault(turn, []).append(ready)
    result: dict[str, Any] = {"rounds": rounds}
    for name, values in times.items():
        result[f"{name}_s"] = round(statistics.median(values), 3)
    result["ratio_current"] = round(result["current_s"] / result["floor_s"], 2)
    if "fresh_s" in result:
        result["ratio_fresh"] = round(result["fresh_s"] / result["floor_alembic_s"], 2)
    return result


def bars(name: str, result: dict[str, Any]) -> bool:
    """Print this backend's bars; return whether all pass."""
    checks = [("ratio_current", "serve on a current database / import floor")]
    if "ratio_fresh" in result:
        checks.append(("ratio_fresh", "serve on a fresh database / floor with Alembic"))
    passed = True
    for key, label in checks:
        ok = result[key] <= BAR
        passed &= ok
        print(f"  {name:<11} {verdict(ok):<4} {label}: {result[key]:.2f} <= {BAR}")
    return passed


def compile_sources() -> None:
    """Write our modules' bytecode, as installing the package does (`pip install .` in the
    Docker image): otherwise, under PYTHONDONTWRITEBYTECODE, serve would compile every
    module from source at each start while the floor's libraries load theirs compiled."""
    packages = ["bot", "storage", "playbooks"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], cwd=REPO, check=True)


def main() -> None:
    args = parse_args(__doc__, f"{QUICK_ROUNDS} rounds instead of {FULL_ROUNDS}")
    rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    compile_sources()
    print(f"machine: {machine()}")
    print(f"{rounds} rounds, medians in seconds from process start (serve: until /readyz)")
    results: dict[str, dict[str, Any]] = {}
    for backend in backends(args):
        result = run(backend, rounds)
        results[backend.name] = result
        shown = "  ".join(f"{key}={value}" for key, value in result.items() if key != "rounds")
        print(f"{backend.name:<11} {shown}")
    print("bars:")
    report(results, bars)


if __name__ == "__main__":
    os.chdir(REPO)
    main()
