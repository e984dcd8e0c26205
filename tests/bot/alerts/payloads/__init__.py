"""Realistic webhook bodies, one JSON file per source and situation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def raw(name: str) -> bytes:
    """Return the bytes of payloads/<name>, exactly as a source would send them."""
    return (HERE / name).read_bytes()


def load(name: str) -> Any:
    """Return payloads/<name> decoded, for tests that change one field."""
    return json.loads(raw(name))


def dump(payload: Any) -> bytes:
    """Encode a payload the way a source puts it on the wire."""
    return json.dumps(payload).encode("utf-8")


def set_path(payload: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """Set payload[path[0]][path[1]]... to value (deleting it if value is DELETE)."""
    *parents, last = path
    node = payload
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return payload


DELETE = object()


def alertmanager_group(size: int, group_key: str = '{}:{alertname="InstanceDown"}') -> bytes:
    """One Alertmanager notification carrying a whole node-down storm: `size` alerts.

    Each alert is the one of `alertmanager_firing.json` on its own instance. Keys are in
    Alertmanager's wire order: `notify/webhook/webhook.go` (prometheus/alertmanager) embeds
    `template.Data` (receiver, status, alerts, the common labels, externalURL) before
    version, groupKey and truncatedAlerts, so the group key comes after every alert.
    """
    sample = load("alertmanager_firing.json")
    [alert] = sample["alerts"]
    alerts = []
    for n in range(size):
        instance = f"node-{n:05d}.hk.example.com:9100"
        alerts.append(
            {
                **alert,
                "labels": {**alert["labels"], "instance": instance},
                "annotations": {**alert["annotations"], "description": f"{instance} is down."},
                "fingerprint": f"{n:016x}",
            }
        )
    body = {
        "receiver": sample["receiver"],
        "status": "firing",
        "alerts": alerts,
        "groupLabels": sample["groupLabels"],
        "commonLabels": sample["commonLabels"],
        "commonAnnotations": sample["commonAnnotations"],
        "externalURL": sample["externalURL"],
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }
    return dump(body)
