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
