"""A postmortem's life over HTTP against the sandbox: an owner, review, a reminder to the
owner on the due date, publish (the Markdown file and the final version in the channel),
and the channel archived a week later with a last word saying where the postmortem is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from bot.incidents.clock import SimulatedClock
from bot.scheduling import scheduler
from storage.models import Postmortem
from storage.postmortems import postmortem_of
from tests.e2e.conftest import Service, serving
from tests.e2e.test_slack_flow import _incident
from tests.support.server import fetch_file, wait_until

# Wednesday 2038-01-06 17:56 in Hong Kong: years later than the real clock, so APScheduler's own
# thread never fires these jobs by itself; the test fires them as their time comes.
START = datetime(2038, 1, 6, 9, 56, tzinfo=UTC)


def _said(service: Service, channel: str, words: str) -> list[dict]:
    return [m for m in service.sandbox.messages(channel) if words in m.get("text", "")]


def _private(service: Service, channel: str, user: str) -> list[str]:
    return [
        m["text"]
        for m in service.sandbox.messages(channel, ephemeral=True)
        if m.get("ephemeral_user") == user
    ]


def _record(service: Service) -> Postmortem | None:
    with service.runtime.sessions() as session:
        return postmortem_of(session=session, incident_id=1)


def _jobs(service: Service) -> set[str]:
    with service.runtime.engine.connect() as connection:
        return set(connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars())


def test_owner_review_reminder_publish_and_archive(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    folder = tmp_path / "postmortems" / "published"  # made by the first publish
    clock = SimulatedClock(START)
    with serving(database[1], clock=clock, WARROOM_POSTMORTEM_DIR=str(folder)) as service:
        sandbox = service.sandbox
        sandbox.rate_limits(False)
        alice = sandbox.as_user("alice")
        alice.command("/incident declare Trading down sev2", "general")
        channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
        wait_until(lambda: "U0ALICE" in sandbox.channel(channel)["members"], timeout=10)

        # Before resolve: refused privately, nothing recorded.
        alice.command("/incident postmortem publish", channel)
        wait_until(
            lambda: any("is not resolved yet" in t for t in _private(service, channel, "U0ALICE"))
        )
        assert _record(service) is None

        alice.command("/incident role commander @alice", channel)
        wait_until(lambda: _said(service, channel, "commander is now"))
        alice.command("/incident resolve restored", channel)
        wait_until(lambda: any(m.get("files") for m in sandbox.messages(channel)), timeout=10)
        record = wait_until(lambda: _record(service))
        # The commander owns it; sev2: 5 business days after Wednesday.
        assert (record.owner, record.status, record.due.isoformat()) == (
            "U0ALICE",
            "draft",
            "2038-01-13",
        )
        wait_until(lambda: "postmortem:1" in _jobs(service), timeout=10)

        # Nobody by that name: a private error, the owner unchanged.
        alice.command("/incident postmortem owner @nobody", channel)
        wait_until(lambda: any("nobody" in t for t in _private(service, channel, "U0ALICE")))
        assert _record(service).owner == "U0ALICE"
        alice.command("/incident postmortem sign", channel)
        wait_until(
            lambda: any(
                "Unknown postmortem step" in t for t in _private(service, channel, "U0ALICE")
            )
        )

        alice.command("/incident postmortem owner @bob", channel)
        wait_until(lambda: _said(service, channel, "Postmortem owner is now <@U0BOB>"))
        alice.command("/incident postmortem review", channel)
        wait_until(lambda: _said(service, channel, "Postmortem is in review"))
        assert _record(service).status == "in_review"

        # The due date, 09:00 in Hong Kong: Bob is reminded in the channel.
        clock.set(datetime(2038, 1, 13, 1, 0, tzinfo=UTC))
        scheduler.fire_postmortem(1)
        reminder = wait_until(
            lambda: _said(service, channel, "postmortem for this incident is due")
        )
        assert reminder[0]["text"].startswith(":memo: <@U0BOB>: the postmortem")
        assert "(due 2038-01-13)" in reminder[0]["text"]

        alice.command("/incident postmortem publish", channel)
        wait_until(
            lambda: _said(
                service, channel, "Postmortem published; the channel is archived in 7 days"
            )
        )
        written = folder / "2038-01-06-trading-down.md"
        wait_until(written.exists, timeout=10)
        final = wait_until(lambda: _said(service, channel, "Published postmortem for incident #1"))
        assert f"Written to `{written}`" in final[0]["text"]
        (file,) = final[0]["files"]
        assert file["name"] == "2038-01-06-trading-down.md"
        content = written.read_text(encoding="utf-8")
        assert content.startswith("# ")
        # The timeline figure lies beside it, as SVG and PNG, and is embedded under the title.
        assert content.split("\n")[2] == (
            "![Timeline of the incident](2038-01-06-trading-down.png)"
        )
        assert (folder / "2038-01-06-trading-down.png").read_bytes().startswith(b"\x89PNG")
        assert "<svg" in (folder / "2038-01-06-trading-down.svg").read_text(encoding="utf-8")
        assert fetch_file(service.sandbox, file["url_private"]).text == content
        assert not list(folder.glob(".*.tmp"))  # written through a temporary file, renamed
        wait_until(lambda: "archive:1" in _jobs(service) and "postmortem:1" not in _jobs(service))
        record = wait_until(lambda: (r := _record(service)) and r.path and r)
        assert record.path == str(written) and record.permalink

        # Published again: the same file name, rewritten.
        written.write_text("stale", encoding="utf-8")
        alice.command("/incident postmortem publish", channel)
        wait_until(lambda: written.read_text(encoding="utf-8") == content, timeout=10)
        assert sorted(p.name for p in folder.iterdir()) == [
            "2038-01-06-trading-down.md",
            "2038-01-06-trading-down.png",
            "2038-01-06-trading-down.svg",
        ]

        # A week later the channel is archived, after a last word on where the postmortem is.
        clock.advance(timedelta(days=7))
        scheduler.fire_archive(1)
        wait_until(lambda: sandbox.channel(channel)["is_archived"], timeout=10)
        last = _said(service, channel, "This channel is being archived")
        assert f"The postmortem is published in `{written}`" in last[0]["text"]


def test_publish_without_a_folder_says_it_wrote_no_file(database: tuple[Engine, str]) -> None:
    with serving(database[1], clock=SimulatedClock(START), WARROOM_ARCHIVE_AFTER="off") as service:
        sandbox = service.sandbox
        sandbox.rate_limits(False)
        alice = sandbox.as_user("alice")
        alice.command("/incident declare Trading down sev1", "general")
        channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
        wait_until(lambda: "U0ALICE" in sandbox.channel(channel)["members"], timeout=10)
        alice.command("/incident resolve", channel)
        wait_until(lambda: _said(service, channel, "Incident resolved"), timeout=10)
        alice.command("/incident postmortem publish", channel)
        final = wait_until(lambda: _said(service, channel, "Published postmortem for incident #1"))
        assert "No file written: WARROOM_POSTMORTEM_DIR is not set." in final[0]["text"]
        assert _said(service, channel, "Postmortem published")[0]["text"].endswith(
            "Postmortem published"
        )
        assert "archive:1" not in _jobs(service)
