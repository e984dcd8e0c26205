"""Effects to outbox payloads and back: every type, every notice, and rows written before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.incidents import effects, notices
from bot.incidents.effect_codec import UnknownEffect, decode, encode

AT = datetime(2021, 3, 10, 10, 5, tzinfo=UTC)
UNTIL = datetime(2021, 3, 10, 12, 0, tzinfo=UTC)

NOTICES: list[notices.Notice] = [
    notices.StageStarted(stage_id="respond"),
    notices.StageStarted(
        stage_id="respond", title="Emergency response", timebox_seconds=300, tasks=("Page", "Post")
    ),
    notices.TimeboxOverdue(stage_id="respond", title="Emergency response", timebox_seconds=300),
    notices.StatusUpdateDue(elapsed_seconds=905, since_last_update=True),
    notices.Unacknowledged(waited_seconds=600),
    notices.Paged(outcome=notices.PAGED, key="warroom-7-2", page=2, summary="[SEV1] Down"),
    notices.Paged(outcome=notices.REFUSED, reason="PagerDuty trigger refused (HTTP 400)"),
    notices.PostmortemDue(),
    notices.PostmortemDue(owner="U0BOB", due="2021-03-17", late_days=2),
    notices.ChannelArchiving(path="/srv/pm/2021-03-10-spot.md", permalink="https://x.test/p1"),
    notices.MaintenanceScheduled(maintenance_id=3, title="DB upgrade", starts_at=AT, ends_at=UNTIL),
    notices.MaintenanceDue(
        maintenance_id=3, title="DB upgrade", phase="t1h", starts_at=AT, ends_at=UNTIL
    ),
    notices.InviteRefused(people=("U0NOBODY", "x@example.com"), reasons=("user_not_found",) * 2),
    notices.DeliveryFailed(kind="card.post", reason="Slack refused card.post: is_archived"),
    notices.StatusPageResult(status="investigating", updated=True),
    notices.StatusPageResult(
        status="investigating", updated=False, reason="Statuspage is not configured"
    ),
    notices.StillFiringAfterResolve(title="Matching engine errors", resolved_at=AT),
    notices.TicketFiled(
        number=2, tracker="github", key="acme/ops#12", url="https://github.com/acme/ops/issues/12"
    ),
]

EFFECTS: list[effects.Effect] = [
    effects.OpenChannel(
        incident_id=7,
        name="inc-20210310-spot",
        topic="SEV1 · Spot",
        purpose="Incident #7: Spot.",
        invite=("U0BOB", "oncall@example.com"),
        private=True,
    ),
    effects.Invite(incident_id=7, users=("U0DAVE",)),
    effects.DescribeChannel(
        incident_id=7, topic="SEV2 · monitoring · Spot", purpose="Incident #7: Spot."
    ),
    effects.PostCard(incident_id=7),
    effects.UpdateCard(incident_id=7),
    effects.PostMessage(incident_id=7, text="ack <!channel>", actor="U0BOB"),
    effects.PostMessage(incident_id=7, text=":arrow_forward: playbook post", trusted=True),
    *(effects.PostNotice(incident_id=7, notice=notice) for notice in NOTICES),
    effects.Broadcast(incident_id=None, text="Playbook change refused"),
    effects.Broadcast(incident_id=7, text="A private incident was opened.", link=False),
    *(effects.BroadcastNotice(notice=notice) for notice in NOTICES),
    effects.Page(incident_id=7, action="trigger", escalation=True),
    effects.Page(incident_id=7, action="trigger", page=2, waited_seconds=600),
    effects.UpdateStatusPage(incident_id=7, status="identified", text="We found it"),
    effects.UpdateStatusPage(incident_id=7, status="resolved", text="Resolved.", follow=True),
    effects.PublishMaintenance(maintenance_id=3, phase="scheduled"),
    effects.SendWebhook(incident_id=7, event="playbook.stage", url="https://hooks.test/x"),
    effects.SendWebhook(incident_id=7, event="incident.severity_changed", severity="sev1"),
    effects.PostPostmortem(incident_id=7),
    effects.PublishPostmortem(incident_id=7),
    effects.ArchiveChannel(incident_id=7),
    effects.Schedule(incident_id=7, job="archive", due_at=UNTIL),
    effects.Schedule(incident_id=7, job="reminder", due_at=AT, every_seconds=900),
    effects.Schedule(job="maintenance", maintenance_id=3, phase="end", due_at=UNTIL),
    effects.Unschedule(incident_id=7, job="timebox", stage="respond"),
    effects.Unschedule(job="maintenance", maintenance_id=3),
    effects.CreateTicket(incident_id=7, number=2),
]


def test_the_samples_cover_every_effect_and_notice_type() -> None:
    assert {type(e) for e in EFFECTS} == set(effects.EFFECT_TYPES)
    assert {type(n) for n in NOTICES} == set(notices.NOTICE_TYPES)


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_every_effect_comes_back_from_its_payload_unchanged(effect: effects.Effect) -> None:
    payload = encode(effect)
    assert decode(effect.kind, effect.version, payload) == effect


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_every_payload_is_plain_json(effect: effects.Effect) -> None:
    payload = encode(effect)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["incident_id"] == effect.incident_id


def test_payloads_keep_the_shape_rows_had_before_effects_were_typed() -> None:
    echo = effects.PostMessage(incident_id=7, text="acknowledged the incident", actor="U0BOB")
    assert encode(echo) == {"incident_id": 7, "text": "acknowledged the incident", "actor": "U0BOB"}
    job = effects.Schedule(incident_id=7, job="ack", due_at=AT)
    assert encode(job) == {"incident_id": 7, "job": "ack", "due_at": "2021-03-10T10:05:00+00:00"}
    notice = effects.PostNotice(incident_id=7, notice=notices.Unacknowledged(waited_seconds=600))
    assert encode(notice) == {
        "incident_id": 7,
        "notice": {"name": "unacknowledged", "waited_seconds": 600},
    }


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "message.post",
            {"incident_id": 7, "text": ":alarm_clock: It has been 15m", "trusted": True},
            effects.PostMessage(incident_id=7, text=":alarm_clock: It has been 15m", trusted=True),
        ),
        (
            "channel.open",
            {
                "incident_id": 7,
                "name": "inc-x",
                "topic": "t",
                "purpose": "p",
                "invite": ["U0BOB"],
                "private": False,
            },
            effects.OpenChannel(
                incident_id=7, name="inc-x", topic="t", purpose="p", invite=("U0BOB",)
            ),
        ),
        (
            "schedule.set",
            {"incident_id": 7, "job": "timebox", "stage": "respond", "due_at": AT.isoformat()},
            effects.Schedule(incident_id=7, job="timebox", stage="respond", due_at=AT),
        ),
        (
            "schedule.clear",
            {"incident_id": 7, "job": "*"},
            effects.Unschedule(incident_id=7),
        ),
        (
            "broadcast.post",
            {"incident_id": None, "text": "Playbook change refused"},
            effects.Broadcast(text="Playbook change refused"),
        ),
    ],
    ids=["message", "channel", "schedule", "unschedule", "broadcast"],
)
def test_rows_written_before_effects_were_typed_still_read(
    kind: str, payload: dict[str, object], expected: effects.Effect
) -> None:
    assert decode(kind, 1, payload) == expected


def test_what_this_code_cannot_read_is_refused_with_a_reason() -> None:
    refusals = {
        "cannot read a 'message.post' operation of version 2: versions [1] are known": (
            "message.post",
            2,
            {"incident_id": 7, "text": "hi"},
        ),
        "cannot read a 'fax.send' operation of version 1: the kind is unknown": (
            "fax.send",
            1,
            {"incident_id": 7},
        ),
        "notice.post v1.notice: unknown notice 'solar_flare'": (
            "notice.post",
            1,
            {"incident_id": 7, "notice": {"name": "solar_flare"}},
        ),
    }
    for reason, (kind, version, payload) in refusals.items():
        with pytest.raises(UnknownEffect) as refused:
            decode(kind, version, payload)
        assert str(refused.value) == reason
    with pytest.raises(UnknownEffect, match=r"^schedule\.set v1\.due_at: "):
        decode("schedule.set", 1, {"incident_id": 7, "job": "ack", "due_at": "soon"})
