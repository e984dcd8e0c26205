"""Reads of the timeline by kind, in the form `ix_timeline_kind` serves.

The index leaves out the alerts' entries (migration 0024: a storm writes thousands, no
read by kind asks for them). Neither SQLite nor a prepared PostgreSQL plan proves
`kind <> 'alert'` from `kind = ?`, so a read by kind states the index's condition in its
own words, or the database reads around the index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, literal_column

NOT_ALERT = "kind <> 'alert'"  # the index's condition, as the models declare it


def of_kind(kind: Any, *kinds: str) -> ColumnElement[bool]:
    """Where the timeline entry's `kind` column is one of `kinds`, in the form that lets
    ix_timeline_kind serve it."""
    chosen = kind == kinds[0] if len(kinds) == 1 else kind.in_(kinds)
    if "alert" in kinds:
        return chosen  # the index holds none of them: the condition would hide them
    return and_(chosen, kind != literal_column("'alert'"))
