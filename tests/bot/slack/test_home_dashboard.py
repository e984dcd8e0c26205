"""The App Home dashboard stays within Slack's limits however many incidents there are."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.overview import IncidentList, Listed
from bot.sandbox.methods.block_kit import view_errors
from bot.slack.home import HOME_LIMIT, dashboard_view


def _listed(n: int, *, resolved: bool = False, hidden: bool = False) -> Listed:
    return Listed(
        id=n,
        severity="sev2",
        status="resolved" if resolved else "investigating",
        age=timedelta(minutes=n),
        title=None if hidden else "Disk full <!channel> " + "x" * 10_000,
        commander=None if hidden else "alice",
        channel_id=None if hidden else f"C{n:05d}",
        hidden=hidden,
        resolved_ago=timedelta(hours=1) if resolved else None,
    )


def test_a_full_dashboard_passes_slacks_block_kit_checks() -> None:
    rows = [_listed(n, hidden=n % 7 == 0) for n in range(HOME_LIMIT - 5)]
    rows += [_listed(n, resolved=True) for n in range(100, 105)]
    view = dashboard_view(
        IncidentList(tuple(rows), more=12, recent=True), {"C00001"}, notice="x" * 5000
    )
    assert view_errors(view) == []
    assert len(view["blocks"]) <= 100
    assert "<!channel>" not in str(view)  # escaped: nobody is pinged from a title
    joins = [b["accessory"]["value"] for b in view["blocks"] if "accessory" in b]
    hidden = {str(n) for n in range(0, HOME_LIMIT - 5, 7)}
    assert set(joins) == {str(n) for n in range(HOME_LIMIT - 5)} - hidden - {"1"}
    assert view["blocks"][-1]["elements"][0]["text"].startswith("…and 12 more")
