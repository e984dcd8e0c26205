"""Resolving posts the postmortem draft and then its timeline figure as a PNG; a figure that
cannot be drawn leaves the draft posted alone."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.incidents.effects import POST_POSTMORTEM
from storage.models import OutboxOp
from tests.support.commands import run_command
from tests.support.server import fetch_file, wait_until

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _resolve(service) -> str:
    runtime, sandbox = service.runtime, service.sandbox
    run_command(runtime, "declare Spot trading errors sev1", user_id="U0ALICE")
    channel = wait_until(
        lambda: next((c for c in sandbox.info()["channels"] if c["name"].startswith("inc-")), None),
        timeout=10,
    )
    wait_until(lambda: any(m.get("pinned_to") for m in sandbox.messages(channel["id"])))
    run_command(runtime, "resolve restored", user_id="U0ALICE", channel_id=channel["id"])
    return str(channel["id"])


def _files(service, channel_id: str) -> list[dict]:
    return [f for m in service.sandbox.messages(channel_id) for f in m.get("files", [])]


def _postmortem_done(service) -> OutboxOp | None:
    """The postmortem operation, once it is done."""
    with service.runtime.sessions() as session:
        return session.exec(
            select(OutboxOp).where(OutboxOp.kind == POST_POSTMORTEM, OutboxOp.state == "done")
        ).first()


def test_resolve_uploads_the_timeline_png_after_the_draft(service) -> None:
    channel_id = _resolve(service)
    names = wait_until(
        lambda: (n := [f["name"] for f in _files(service, channel_id)]) and len(n) == 2 and n,
        timeout=20,
    )
    assert sorted(names) == ["postmortem-incident-1-timeline.png", "postmortem-incident-1.md"]
    png = next(f for f in _files(service, channel_id) if f["name"].endswith(".png"))
    assert png["title"] == "Timeline: Spot trading errors"
    assert fetch_file(service.sandbox, png["url_private"]).content.startswith(PNG_SIGNATURE)


def test_a_figure_that_fails_to_draw_leaves_the_draft_posted(
    service, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.postmortem.figure

    def broken(*_args, **_kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(bot.postmortem.figure, "timeline_figure", broken)
    channel_id = _resolve(service)

    op = wait_until(lambda: _postmortem_done(service), timeout=20)
    # Done at the first attempt, the figure reported missing: nothing retried the draft.
    assert (op.attempts, op.result["figure_id"]) == (1, None)
    assert op.result["file_id"]
    assert [f["name"] for f in _files(service, channel_id)] == ["postmortem-incident-1.md"]


def test_a_draft_whose_figure_never_went_out_gets_it_when_its_operation_resumes(
    service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.slack.operations import SlackOperations

    upload_figure = SlackOperations._upload_figure
    stopped = []

    async def stop_after_the_draft(self, *args, **kwargs):
        # The first attempt stops between the draft and the figure, as a process killed
        # there would; the operation is tried again as resumed (as after a lease expiry).
        if not stopped:
            stopped.append(True)
            raise RuntimeError("worker stopped after the draft")
        return await upload_figure(self, *args, **kwargs)

    monkeypatch.setattr(SlackOperations, "_upload_figure", stop_after_the_draft)
    channel_id = _resolve(service)

    op = wait_until(lambda: _postmortem_done(service), timeout=30)
    names = sorted(f["name"] for f in _files(service, channel_id))
    # The draft once (found, not uploaded again), and its figure after all.
    assert names == ["postmortem-incident-1-timeline.png", "postmortem-incident-1.md"]
    assert op.attempts == 2 and op.result["found"] is True
    figure = next(f for f in _files(service, channel_id) if f["name"].endswith(".png"))
    assert op.result["figure_id"] == figure["id"]
