"""App Home shows every open incident to anyone in the workspace: a private one untitled."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.incidents.snapshot import IncidentSnapshot
from bot.sandbox.methods.block_kit import view_errors
from bot.slack.blocks import declare_modal, home_view
from bot.slack.modal_origin import ModalOrigin

AT = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def _incident(n: int, title: str, *, private: bool) -> IncidentSnapshot:
    return IncidentSnapshot(
        id=n,
        title=title,
        severity="sev1",
        status="investigating",
        playbook_id="security-incident",
        drill=False,
        channel_id="C0SEC",
        channel_name="sec-20210310-1",
        created_at=AT,
        started_at=AT,
        resolved_at=None,
        private=private,
    )


def test_app_home_names_a_private_incident_only_as_private() -> None:
    incidents = [
        _incident(2, "Leaked API key on GitHub", private=True),
        _incident(1, "Orders slow", private=False),
    ]
    view = home_view(incidents, ZoneInfo("Asia/Hong_Kong"))
    texts = [block["text"]["text"] for block in view["blocks"][1:]]
    assert texts[0].startswith(":red_circle: *#2 Private incident*")
    assert texts[1].startswith(":red_circle: *#1 Orders slow*")
    assert "Leaked" not in str(view)


def test_the_declare_modal_offers_a_private_box_slack_accepts() -> None:
    modal = declare_modal(ModalOrigin(channel="C0GENERAL"))
    assert view_errors(modal) == []
    [privacy] = [b for b in modal["blocks"] if b["block_id"] == "privacy"]
    assert privacy["optional"] is True
    assert [o["value"] for o in privacy["element"]["options"]] == ["private"]
