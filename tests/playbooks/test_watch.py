import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from watchfiles import Change

from playbooks import Catalog, Problem
from playbooks.watch import PlaybookReloader, is_playbook_change


def playbook_yaml(playbook_id: str, title: str, *, fallback: bool = False) -> str:
    """A one-stage playbook matching `service: <id>` (or none: the fallback)."""
    text = f"id: {playbook_id}\ntitle: {title}\nstages:\n  - id: only\n    title: Only\n"
    return text if fallback else text + f"match: {{service: {playbook_id}}}\n"


@dataclass
class Seen:
    """What the reloader handed over, in order."""

    catalogs: list[Catalog] = field(default_factory=list)
    errors: list[list[str]] = field(default_factory=list)

    def on_change(self, catalog: Catalog) -> None:
        self.catalogs.append(catalog)

    def on_error(self, problems: list[Problem]) -> None:
        self.errors.append([str(problem) for problem in problems])

    def titles(self) -> dict[str, str]:
        """Map id to title in the last catalog handed over."""
        return {playbook.id: playbook.title for playbook in self.catalogs[-1]}


async def wait_until(predicate: Callable[[], Any], limit: float = 10) -> Any:
    """Return predicate()'s first truthy value, or fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {limit}s")
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "first.yaml").write_text(playbook_yaml("first", "First"), encoding="utf-8")
    return tmp_path


@pytest.fixture
def reloader(folder: Path, seen: Seen) -> PlaybookReloader:
    return PlaybookReloader(folder, seen.on_change, seen.on_error, debounce_ms=50)


@pytest.fixture
async def watching(reloader: PlaybookReloader, seen: Seen) -> AsyncIterator[asyncio.Event]:
    """Run the reloader in a task until the test ends; yield its stop event."""
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.run(stop))
    await wait_until(lambda: seen.catalogs)
    yield stop
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_reload_now_hands_over_the_catalog(reloader, seen):
    assert reloader.catalog is None
    assert reloader.reload_now() is True
    assert seen.titles() == {"first": "First"}
    assert reloader.catalog is seen.catalogs[-1]
    assert seen.errors == []


def test_reload_now_keeps_the_whole_previous_catalog_on_any_problem(folder, reloader, seen):
    reloader.reload_now()
    (folder / "first.yaml").write_text(playbook_yaml("first", "First, edited"), encoding="utf-8")
    broken = folder / "second.yaml"
    broken.write_text(playbook_yaml("second", "Second") + "severity: sev9\n", encoding="utf-8")

    assert reloader.reload_now() is False

    assert seen.errors == [
        [f"{broken}:7: severity: 'sev9' is not a severity (sev1, sev2, sev3 or sev4)"]
    ]
    # The valid edit of first.yaml waits for the folder to be valid as a whole.
    assert len(seen.catalogs) == 1
    assert reloader.catalog is seen.catalogs[0]
    assert seen.titles() == {"first": "First"}


def test_reload_now_reports_a_missing_folder(tmp_path, seen):
    missing = tmp_path / "gone"
    reloader = PlaybookReloader(missing, seen.on_change, seen.on_error)
    assert reloader.reload_now() is False
    assert seen.errors == [[f"{missing}:0: not a directory"]]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/p/new.yaml", True),
        ("/p/old.yml", True),
        ("/p/notes.txt", False),
        ("/p/.new.yaml.swp", False),
        ("/p/new.yaml~", False),
    ],
)
def test_only_playbook_files_count_as_changes(path, expected):
    assert is_playbook_change(Change.modified, path) is expected


async def test_watcher_loads_once_when_it_starts(reloader, seen, watching):
    assert seen.titles() == {"first": "First"}
    assert reloader.catalog is seen.catalogs[-1]


async def test_a_new_file_is_used_without_a_restart(folder, seen, watching):
    (folder / "second.yml").write_text(playbook_yaml("second", "Second"), encoding="utf-8")
    await wait_until(lambda: "second" in seen.titles())
    assert seen.titles() == {"first": "First", "second": "Second"}


async def test_an_invalid_edit_keeps_the_last_good_catalog(folder, reloader, seen, watching):
    second = folder / "second.yaml"
    second.write_text(playbook_yaml("second", "Second"), encoding="utf-8")
    await wait_until(lambda: "second" in seen.titles())
    good = seen.catalogs[-1]

    second.write_text(
        playbook_yaml("second", "Second, edited", fallback=True) + "    timebox: soon\n",
        encoding="utf-8",
    )
    expected = [
        f"{second}:6: stages[0].timebox: bad duration 'soon': expected 30s, 15m, 2h, 3d or 1h30m"
    ]
    # An editor's save may be seen half-written first; wait for the finished file's report.
    await wait_until(lambda: expected in seen.errors)

    assert seen.catalogs[-1] is good
    assert reloader.catalog is good
    assert seen.titles() == {"first": "First", "second": "Second"}

    # Fixing the file brings the edit in.
    second.write_text(playbook_yaml("second", "Second, edited"), encoding="utf-8")
    await wait_until(lambda: seen.titles().get("second") == "Second, edited")
    assert reloader.catalog is seen.catalogs[-1]


async def test_a_deleted_file_leaves_the_catalog(folder, seen, watching):
    (folder / "second.yaml").write_text(playbook_yaml("second", "Second"), encoding="utf-8")
    await wait_until(lambda: "second" in seen.titles())
    (folder / "second.yaml").unlink()
    await wait_until(lambda: "second" not in seen.titles())
    assert seen.titles() == {"first": "First"}


async def test_a_failing_listener_does_not_stop_watching(folder, seen, caplog):
    calls: list[Catalog] = []

    def on_change(catalog: Catalog) -> None:
        calls.append(catalog)
        if len(calls) == 1:
            raise RuntimeError("listener bug")

    reloader = PlaybookReloader(folder, on_change, seen.on_error, debounce_ms=50)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="playbooks.watch"):
        task = asyncio.create_task(reloader.run(stop))
        await wait_until(lambda: calls)
        (folder / "second.yaml").write_text(playbook_yaml("second", "Second"), encoding="utf-8")
        await wait_until(lambda: "second" in calls[-1])
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert [record.getMessage() for record in caplog.records] == [
        f"reloading playbooks from {folder} failed"
    ]


async def test_stop_event_and_cancel_end_the_watcher(reloader, seen):
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.run(stop))
    await wait_until(lambda: seen.catalogs)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert task.done() and task.exception() is None

    task = asyncio.create_task(reloader.run())
    await wait_until(lambda: len(seen.catalogs) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)


def test_a_second_fallback_playbook_keeps_the_previous_catalog(folder, reloader, seen):
    (folder / "first.yaml").write_text(playbook_yaml("first", "First", fallback=True))
    reloader.reload_now()
    second = folder / "second.yaml"
    second.write_text(playbook_yaml("second", "Second", fallback=True), encoding="utf-8")

    assert reloader.reload_now() is False

    assert len(seen.errors) == 1 and "only one playbook may be the fallback" in seen.errors[0][0]
    assert seen.errors[0][0].startswith(f"{second}:1: playbook 'second' has no match")
    assert seen.titles() == {"first": "First"}
