"""Declaring a private incident: the modal's box, as Slack takes it.

The App Home's side (a private incident untitled to outsiders) is tested with the dashboard
in test_home_dashboard.py and tests/e2e."""

from __future__ import annotations

from bot.sandbox.methods.block_kit import view_errors
from bot.slack.blocks import declare_modal
from bot.slack.modal_origin import ModalOrigin


def test_the_declare_modal_offers_a_private_box_slack_accepts() -> None:
    modal = declare_modal(ModalOrigin(channel="C0GENERAL"))
    assert view_errors(modal) == []
    [privacy] = [b for b in modal["blocks"] if b["block_id"] == "privacy"]
    assert privacy["optional"] is True
    assert [o["value"] for o in privacy["element"]["options"]] == ["private"]
