"""Notices as responders read them in Slack: the same words the domain used to write."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.incidents import notices
from bot.slack.notices import render

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
END = datetime(2024, 3, 1, 3, 30, tzinfo=UTC)
WHEN = "2024-03-01 02:00–04:30 Europe/Berlin"


@pytest.mark.parametrize(
    ("notice", "text"),
    [
        (
            notices.StageStarted(
                stage_id="respond",
                title="Emergency response",
                timebox_seconds=300,
                tasks=("Page the on-call", "Post a first update"),
            ),
            ":arrow_forward: *Stage: Emergency response* (timebox 5m)\n"
            "1. Page the on-call\n2. Post a first update",
        ),
        (
            notices.StageStarted(stage_id="recover", title="Recovery"),
            ":arrow_forward: *Stage: Recovery*",
        ),
        (notices.StageStarted(stage_id="recover"), "Stage recover"),
        (
            notices.TimeboxOverdue(
                stage_id="respond", title="Emergency response", timebox_seconds=300
            ),
            ":alarm_clock: Stage *Emergency response* ran past its 5m timebox. Move on with "
            "`/incident stage next`, or say why with `/incident note`.",
        ),
        (
            notices.TimeboxOverdue(stage_id="respond", title="Emergency response"),
            ":alarm_clock: Stage *Emergency response* ran past its set timebox. Move on with "
            "`/incident stage next`, or say why with `/incident note`.",
        ),
        (
            notices.StatusUpdateDue(elapsed_seconds=905, since_last_update=True),
            ":alarm_clock: It has been 15m 05s since the last status update. Post one with "
            "`/incident update &lt;text&gt;`.",  # Slack shows <text>
        ),
        (
            notices.StatusUpdateDue(elapsed_seconds=3900, since_last_update=False),
            ":alarm_clock: It has been 1h 05m since the incident opened. Post one with "
            "`/incident update &lt;text&gt;`.",  # Slack shows <text>
        ),
        # A drill's: nobody is paged, so nothing claims an escalation.
        (
            notices.Unacknowledged(waited_seconds=600),
            ":rotating_light: Not acknowledged after 10m.",
        ),
        # What became of a page, told only once it is known.
        (
            notices.Paged(
                outcome=notices.PAGED, key="warroom-7", summary="[SEV1] Incident #7: Down"
            ),
            ":pager: PagerDuty paged: [SEV1] Incident #7: Down",
        ),
        (
            notices.Paged(
                outcome=notices.PAGED,
                key="warroom-7-2",
                page=2,
                summary="[SEV1] Incident #7: <!channel> down",
            ),
            ":pager: PagerDuty paged: [SEV1] Incident #7: &lt;!channel&gt; down "
            "(page 2, a new alert: `warroom-7-2`)",
        ),
        (
            notices.Paged(
                outcome=notices.PAGED,
                key="warroom-7-2",
                page=2,
                summary="[ESCALATED] [SEV1] Incident #7: Down",
                waited_seconds=600,
            ),
            ":rotating_light: Not acknowledged after 10m. Escalated: PagerDuty paged: "
            "[ESCALATED] [SEV1] Incident #7: Down (page 2, a new alert: `warroom-7-2`)",
        ),
        (
            notices.Paged(outcome=notices.NOT_PAGED, reason="PagerDuty is not configured"),
            ":pager: Not paged: PagerDuty is not configured.",
        ),
        (
            notices.Paged(
                outcome=notices.NOT_PAGED,
                reason="PagerDuty is not configured",
                waited_seconds=600,
            ),
            ":warning: Not acknowledged after 10m. Not paged: PagerDuty is not configured.",
        ),
        (
            notices.Paged(outcome=notices.REFUSED, reason="PagerDuty trigger refused (HTTP 400)"),
            ":warning: Not paged: PagerDuty trigger refused (HTTP 400).",
        ),
        (
            notices.Paged(outcome=notices.HELD, key="warroom-7"),
            ":pager: Not paged again: the page `warroom-7` is still open and nobody has "
            "acknowledged it.",
        ),
        (
            notices.PostmortemDue(),
            ":memo: The postmortem for this incident is due. Finish the draft, "
            "`/incident postmortem review`, then `/incident postmortem publish`.",
        ),
        (
            notices.PostmortemDue(owner="U0BOB", due="2021-03-17", late_days=2),
            ":memo: <@U0BOB>: the postmortem for this incident is due (due 2021-03-17, 2 "
            "business days late). Finish the draft, `/incident postmortem review`, then "
            "`/incident postmortem publish`.",
        ),
        (
            notices.ChannelArchiving(path="/srv/pm/x.md", permalink="https://x.test/p1"),
            ":file_cabinet: The postmortem is published in `/srv/pm/x.md` and "
            "<https://x.test/p1|in this channel>. This channel is being archived.",
        ),
        (
            notices.MaintenanceScheduled(
                maintenance_id=4, title="DB upgrade", starts_at=START, ends_at=END
            ),
            f":calendar: Scheduled maintenance #4: DB upgrade, {WHEN}.",
        ),
        (
            notices.InviteRefused(people=("U0NOBODY",), reasons=("user_not_found",)),
            ":warning: Could not invite <@U0NOBODY>: user_not_found",
        ),
        (
            notices.InviteRefused(
                people=("U0GUEST", "<!here>@x.test"), reasons=("cant_invite", "users_not_found")
            ),
            ":warning: Could not invite <@U0GUEST>: cant_invite; &lt;!here&gt;@x.test: "
            "users_not_found",
        ),
        (
            notices.DeliveryFailed(kind="card.post", reason="Slack refused card.post: is_archived"),
            ":warning: Could not post the incident card: Slack refused card.post: is_archived. "
            "The steps after it went on.",
        ),
        (
            notices.DeliveryFailed(kind="fax.send", reason="no handler for fax.send"),
            ":warning: Could not carry out `fax.send`: no handler for fax.send. The steps "
            "after it went on.",
        ),
        (
            notices.StillFiringAfterResolve(title="InstanceDown", resolved_at=START),
            ":repeat: *Still firing after resolve*: InstanceDown. This incident was resolved "
            "at 2024-03-01 02:00 Europe/Berlin and its alerts fire again; they are added to the "
            "timeline, and further repeats only counted. Reopen it if it is not over.",
        ),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_each_notice_reads_as_before(notice: notices.Notice, text: str) -> None:
    assert render(notice, BERLIN) == text


@pytest.mark.parametrize(
    ("phase", "text"),
    [
        (
            "t24h",
            f":calendar: Maintenance #4 in 24 hours: DB upgrade, {WHEN}.",
        ),
        (
            "t1h",
            f":hourglass: Maintenance #4 in 1 hour: DB upgrade, {WHEN}.",
        ),
        (
            "start",
            ":construction: Maintenance #4 has started: DB upgrade (until 04:30 Europe/Berlin).",
        ),
        ("end", ":white_check_mark: Maintenance #4 is over: DB upgrade."),
    ],
)
def test_each_maintenance_phase_has_its_notice(phase: str, text: str) -> None:
    notice = notices.MaintenanceDue(
        maintenance_id=4, title="DB upgrade", phase=phase, starts_at=START, ends_at=END
    )
    assert render(notice, BERLIN) == text


@pytest.mark.parametrize(
    "notice",
    [
        notices.StageStarted(stage_id="s", title="<!channel> & co", tasks=("<@U0ALICE> & co",)),
        notices.TimeboxOverdue(stage_id="s", title="<!channel> & co", timebox_seconds=60),
        notices.MaintenanceScheduled(
            maintenance_id=4, title="<!channel> & co", starts_at=START, ends_at=END
        ),
        notices.MaintenanceDue(
            maintenance_id=4, title="<!channel> & co", phase="start", starts_at=START, ends_at=END
        ),
        notices.StillFiringAfterResolve(title="<!channel> & co", resolved_at=START),
    ],
    ids=["stage", "timebox", "scheduled", "due", "still-firing"],
)
def test_titles_in_a_notice_are_escaped_once(notice: notices.Notice) -> None:
    text = render(notice, BERLIN)
    assert "&lt;!channel&gt; &amp; co" in text
    assert "<!" not in text and "<@" not in text and "&amp;amp;" not in text
