"""The outgoing webhooks' JSON Schemas (bot/integrations/webhook_schemas/), ready to validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parents[2] / "bot" / "integrations" / "webhook_schemas"
SHARED = "incident.json"


def validators() -> dict[str, Draft202012Validator]:
    """A validator per event name; the shared incident schema resolved by its relative $ref."""
    documents = {path.name: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
    registry: Registry[Any] = Registry().with_resources(
        (name, Resource.from_contents(schema)) for name, schema in documents.items()
    )
    return {
        name.removesuffix(".json"): Draft202012Validator(schema, registry=registry)
        for name, schema in documents.items()
        if name != SHARED
    }


def problems(event: dict[str, Any]) -> list[str]:
    """What is wrong with one delivered body, against its event's schema."""
    found = validators().get(str(event.get("event")))
    if found is None:
        return [f"no schema for event {event.get('event')!r}"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found.iter_errors(event)]
