"""Effects to and from the JSON payload of an outbox row: the one place that knows the shape.

A payload always carries `incident_id`, and every other field whose value is not its
default (the rows written before effects were typed look exactly like this). Datetimes
are ISO strings, tuples lists, a notice an object with its `name`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any, Union

from bot.incidents.effects import EFFECT_TYPES, Effect
from bot.incidents.notices import NOTICE_TYPES, Notice

_EFFECTS: dict[tuple[str, int], type[Effect]] = {(t.kind, t.version): t for t in EFFECT_TYPES}
_NOTICES: dict[str, type[Notice]] = {t.name: t for t in NOTICE_TYPES}


class UnknownEffect(ValueError):
    """A stored operation that no effect type of this code reads (kind, version or fields)."""


def encode(effect: Effect) -> dict[str, Any]:
    """The payload stored for `effect` (its kind and version go in columns of their own)."""
    payload: dict[str, Any] = {"incident_id": effect.incident_id}
    payload.update(_fields(effect, skip="incident_id"))
    return payload


def decode(kind: str, version: int, payload: dict[str, Any]) -> Effect:
    """The effect a stored row holds; UnknownEffect if this code cannot read it."""
    effect_type = _EFFECTS.get((kind, version))
    if effect_type is None:
        known = sorted(v for k, v in _EFFECTS if k == kind)
        detail = f"versions {known} are known" if known else "the kind is unknown"
        raise UnknownEffect(f"cannot read a {kind!r} operation of version {version}: {detail}")
    return _build(effect_type, payload, f"{kind} v{version}")


def _fields(value: Any, *, skip: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dataclasses.fields(value):
        if item.name == skip:
            continue
        current = getattr(value, item.name)
        if item.default is not dataclasses.MISSING and current == item.default:
            continue
        out[item.name] = _to_json(current)
    return out


def _to_json(value: Any) -> Any:
    if isinstance(value, Notice):
        return {"name": value.name, **_fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value


_T = typing.TypeVar("_T")


def _build(target: type[_T], data: Any, what: str) -> _T:
    if not isinstance(data, dict):
        raise UnknownEffect(f"{what}: expected an object, got {type(data).__name__}")
    hints = _hints(target)
    values = {
        item.name: _from_json(hints[item.name], data[item.name], f"{what}.{item.name}")
        for item in dataclasses.fields(target)  # type: ignore[arg-type]
        if item.name in data
    }
    try:
        return target(**values)
    except TypeError as error:  # a required field is missing
        raise UnknownEffect(f"{what}: {error}") from error


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(target: type) -> dict[str, Any]:
    hints = _HINTS.get(target)
    if hints is None:
        hints = _HINTS[target] = typing.get_type_hints(target)
    return hints


def _from_json(hint: Any, value: Any, what: str) -> Any:
    if value is None:
        return None
    if typing.get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    try:
        if hint is datetime:
            return datetime.fromisoformat(value)
        if typing.get_origin(hint) is tuple:
            return tuple(value)
    except (TypeError, ValueError) as error:
        raise UnknownEffect(f"{what}: {error}") from error
    if hint is Notice:
        name = value.get("name") if isinstance(value, dict) else None
        notice_type = _NOTICES.get(str(name))
        if notice_type is None:
            raise UnknownEffect(f"{what}: unknown notice {name!r}")
        return _build(notice_type, value, f"{what}:{name}")
    return value
