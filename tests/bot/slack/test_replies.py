"""Private answers as a responder reads them in Slack: the timeline and the checklist."""

from __future__ import annotations

from bot.incidents.views import Entry, TasksShown, TimelineShown
from bot.slack.replies import reply_text
from bot.usecases.run_command import Reply


def test_the_timeline_reads_in_local_time_with_who_did_what() -> None:
    shown = TimelineShown(
        7,
        "Asia/Hong_Kong",
        (Entry("17:56", "alert", "API error 30030", None), Entry("17:57", "ack", "ack", "bob")),
        earlier=3,
    )
    assert reply_text(Reply(shown=shown)) == (
        "*Timeline of incident #7* (Asia/Hong_Kong)\n"
        "_…3 earlier entries in the postmortem_\n"
        "`17:56` alert: API error 30030\n"
        "`17:57` ack: ack — bob"
    )


def test_the_checklist_ticks_what_is_done() -> None:
    shown = TasksShown("Emergency response", ((1, "Page on-call", True), (2, "Post update", False)))
    assert reply_text(Reply(shown=shown)) == (
        "*Emergency response*\n"
        ":white_check_mark: 1. Page on-call\n"
        ":white_large_square: 2. Post update"
    )
    assert reply_text(Reply(shown=TasksShown(None))) == "This incident has no playbook stages."
    assert reply_text(Reply(shown=TasksShown("Review"))) == "Stage *Review* has no tasks."
    assert reply_text(Reply("plain words")) == "plain words"
    assert reply_text(Reply()) is None
