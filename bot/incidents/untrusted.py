"""Text from outside made storable where it enters: by every alert source and Slack alike.

JSON can carry what no database stores: a lone surrogate (`"\\ud800"`, what a JavaScript
sender emits when it cuts a string inside an emoji) cannot be encoded as UTF-8, and a NUL
(`"\\u0000"`) is refused by PostgreSQL in text and JSONB alike. A key that goes into a
unique index cannot be longer than an index row (about 2.7 KB on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"

KEY_MAX_BYTES = 512
"""Longest key (UTF-8 bytes) stored as is; several fit one PostgreSQL index row."""
_KEY_PREFIX = 100  # characters of a long key kept readable before its hash


def _repair(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else REPLACEMENT


def clean_text(text: str) -> str:
    """Return `text` with lone surrogates replaced by U+FFFD and NUL characters removed."""
    if _UNSAFE.search(text) is None:  # the usual case: no copy
        return text
    return _UNSAFE.sub(_repair, text)


def clean_json(value: Any) -> Any:
    """Return decoded JSON with `clean_text` applied to every string, object keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def bounded_key(key: str, limit: int = KEY_MAX_BYTES) -> str:
    """Return `key` as is when it fits `limit` UTF-8 bytes, else a readable prefix and its hash.

    The same long key always gives the same result, so deduplication and grouping hold;
    two long keys differing anywhere give different ones.
    """
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return key
    digest = hashlib.sha256(encoded).hexdigest()
    return f"{key[:_KEY_PREFIX]}…sha256:{digest}"
