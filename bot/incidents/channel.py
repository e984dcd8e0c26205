"""What the incident channel says about itself: its topic and purpose, kept to the state.

The topic leads with what changes (severity, status) so that Slack's 250-character cut
takes the end of a long title, never the facts.
"""

from __future__ import annotations

from bot.incidents import effects
from bot.incidents.records import Recorder
from bot.incidents.times import format_local
from storage.models import Incident


def topic(incident: Incident) -> str:
    """`SEV1 · investigating · Matching engine down`."""
    return f"{incident.severity.upper()} · {incident.status} · {incident.title}"


def purpose(incident: Incident, rec: Recorder) -> str:
    """`Incident #7: Matching engine down. Opened 17:56.`"""
    opened = format_local(incident.created_at or rec.now, rec.tz)
    return f"Incident #{incident.id}: {incident.title}. Opened {opened}."


def describe(rec: Recorder) -> None:
    """Bring the channel's topic and purpose up to the incident as it is now."""
    incident = rec.incident
    assert incident is not None
    rec.effect(effects.DescribeChannel(topic=topic(incident), purpose=purpose(incident, rec)))
