"""Postmortem drafts: an incident's record gathered once (`build`) and rendered to Markdown."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.postmortem.data import Postmortem, build
from bot.postmortem.markdown import render

__all__ = ["Postmortem", "build", "draft", "render"]


def draft(
    session: Session, incident_id: int, *, tz: ZoneInfo, template_dir: Path | None = None
) -> str:
    """Draft an incident's postmortem as Markdown, times in `tz`."""
    return render(build(session, incident_id, tz=tz), template_dir=template_dir)
