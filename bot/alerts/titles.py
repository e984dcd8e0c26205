"""An alert's title: its name first, then its summary when the summary adds something."""

from __future__ import annotations


def name_first(name: str | None, summary: str | None) -> str:
    """Return "name: summary", or the one of them that says it all ("" when neither does).

    The summary alone when it already starts with the name ("InstanceDown on db-1"); the
    name alone when the summary is blank or only repeats it.
    """
    name = (name or "").strip()
    summary = (summary or "").strip()
    if not summary or summary.casefold() == name.casefold():
        return name
    if not name or summary.casefold().startswith(name.casefold()):
        return summary
    return f"{name}: {summary}"
