"""How an alert's incident is named: its group key, the severity and the title it opens with."""

from __future__ import annotations

from bot.incidents.alerts import NormalizedAlert
from bot.incidents.opening import DEFAULT_SEVERITY
from bot.incidents.untrusted import bounded_key
from playbooks import Playbook


def grouping_key(alert: NormalizedAlert, playbook: Playbook) -> str:
    """The group an alert belongs to: the source's own, else the playbook's labels.

    Bounded in length (a long one hashed), since it is kept in a unique index.
    """
    if alert.group_key:
        key = f"{alert.source}:{alert.group_key}"
    elif playbook.group_by:
        values = ",".join(f"{k}={alert.labels.get(k, '')}" for k in playbook.group_by)
        key = f"{alert.source}:{playbook.id}:{values}"
    else:
        key = f"{alert.source}:fp:{alert.fingerprint}"
    return bounded_key(key)


def former_grouping_key(alert: NormalizedAlert) -> str | None:
    """The key an older warroom grouped the alert under, when it differs from today's."""
    if not alert.group_key or not alert.former_group_key:
        return None
    return bounded_key(f"{alert.source}:{alert.former_group_key}")


def opening_severity(alert: NormalizedAlert, playbook: Playbook) -> str:
    """The severity an alert opens its incident with: the playbook's `severity_override`
    if it sets one, else the alert's own, else the playbook's `severity` (its default)."""
    # The alert's own comes before the playbook's default: a critical alert must page
    # even when it falls through to the sev3 fallback playbook.
    return playbook.severity_override or alert.severity or playbook.severity or DEFAULT_SEVERITY


def firing_names(alerts: list[NormalizedAlert], keys: list[str]) -> dict[str, list[str]]:
    """Each group's distinct firing alert names, in the order they arrived."""
    # Dicts as ordered sets: a storm's group may bring thousands of alerts at once.
    names: dict[str, dict[str, None]] = {}
    for alert, key in zip(alerts, keys, strict=True):
        group = names.setdefault(key, {})
        if alert.status == "firing":
            group.setdefault(alert.alert_name)
    return {key: list(group) for key, group in names.items()}


def opening_title(alert: NormalizedAlert, names: list[str]) -> str:
    """The title an incident opens with: the opening alert's own ("High memory usage:
    This alert was triggered for zone us-1"), or, when the notification brings several
    distinct alerts of the group, the first's name and how many more ("InstanceDown and
    2 more")."""
    if len(names) <= 1:
        return alert.title
    return f"{names[0]} and {len(names) - 1} more"
