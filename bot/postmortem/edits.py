"""Keep what the team wrote: a draft cut into sections by its headings, and a three-way merge.

A section runs from one Markdown heading (`#` to `######` at the start of a line, outside a
fenced code block) to the next; the text before the first heading is a section of its own.
Sections are matched across versions by key: the heading's level and text (the document's
`#` title by its place, since it carries the incident's title, which may change), with a
count when a heading repeats. The sections joined give the text back, byte for byte.

`merge(last, edited, fresh)`, with `last` what warroom generated last time, `edited` the
team's version of it and `fresh` a new generation:

- a section the team left as generated is replaced by its fresh version (or dropped, when
  the fresh draft no longer has it);
- a section the team changed is kept as the team wrote it, where the team put it;
- a section the team added is kept, where the team put it;
- a section the team deleted stays deleted, even though the fresh draft has it;
- a section new in the fresh draft (neither in `last` nor `edited`) is added after the
  section that precedes it in the fresh draft.

Kept sections carry no marker in the text: the text is the team's, and a marker would
become part of the next comparison. `Merged.kept` names them for the message that goes
with the draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
PREAMBLE = ""  # the key of the text before the first heading


@dataclass(frozen=True)
class Section:
    """One section: `key` matches it across versions, `heading` is its title as shown."""

    key: str
    heading: str
    text: str


@dataclass(frozen=True)
class Merged:
    """A merge's result, and which sections it took from where (by heading)."""

    text: str
    kept: tuple[str, ...]  # changed or added by the team, kept as written
    refreshed: tuple[str, ...]  # left as generated, replaced by the fresh version
    dropped: tuple[str, ...]  # deleted by the team, and not brought back


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def split(text: str) -> list[Section]:
    """Cut a Markdown draft into sections at its headings; `"".join` of the texts is `text`."""
    sections: list[Section] = []
    seen: dict[str, int] = {}
    current: list[str] = []
    key, heading = PREAMBLE, ""
    fence: str | None = None
    titles = 0

    def close() -> None:
        if current or key != PREAMBLE:
            sections.append(Section(key, heading, "".join(current)))

    for line in _lines(text):
        opened = _FENCE.match(line)
        if fence is not None:
            # A fence closes with the same character, at least as long, and nothing after.
            marker = opened.group(1) if opened else ""
            closes = marker[:1] == fence[0] and len(marker) >= len(fence)
            if closes and not line.strip().strip(fence[0]):
                fence = None
            current.append(line)
            continue
        if opened:
            fence = opened.group(1)
            current.append(line)
            continue
        found = _HEADING.match(line.rstrip("\r\n"))
        if found is None:
            current.append(line)
            continue
        close()
        level, title = len(found.group(1)), (found.group(2) or "").strip()
        if level == 1:
            # The document's title names the incident, which can be renamed: by its place.
            base = f"#{titles}"
            titles += 1
        else:
            base = f"{'#' * level} {' '.join(title.split()).casefold()}"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base} ({seen[base]})"
        heading = title or "#" * level
        current = [line]
    close()
    return sections


def merge(last: str, edited: str, fresh: str) -> Merged:
    """Refresh the sections the team left as generated; keep the ones it wrote or deleted."""
    if _same(edited, last):  # nothing edited: the fresh draft as it is
        return Merged(fresh, (), tuple(s.heading for s in split(fresh)), ())
    before = {section.key: section for section in split(last)}
    new = split(fresh)
    after = {section.key: section for section in new}
    ours = split(edited)
    ours_keys = {section.key for section in ours}
    out: list[Section] = []
    kept: list[str] = []
    refreshed: list[str] = []
    for section in ours:
        generated = before.get(section.key)
        if generated is not None and _same(generated.text, section.text):
            if section.key in after:
                out.append(after[section.key])
                refreshed.append(section.heading)
            continue
        out.append(section)
        kept.append(section.heading)
    # Sections the generator now writes that neither version had: after their predecessor.
    for index, section in enumerate(new):
        if section.key in before or section.key in ours_keys:
            continue
        place = 0
        for earlier in reversed(new[:index]):
            spot = next((i for i, s in enumerate(out) if s.key == earlier.key), None)
            if spot is not None:
                place = spot + 1
                break
        out.insert(place, section)
        refreshed.append(section.heading)
    dropped = tuple(s.heading for s in new if s.key in before and s.key not in ours_keys and s.key)
    return Merged(_joined(out), tuple(kept), tuple(refreshed), dropped)


def _same(ours: str, generated: str) -> bool:
    """Equal but for line endings and trailing blank space: what editors and uploads change
    without anyone editing."""
    return _normal(ours) == _normal(generated)


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).rstrip()


def _joined(sections: list[Section]) -> str:
    """Join sections, giving one that lost its last line break (it ended the team's file)
    a new one, so the next heading stays at the start of a line."""
    parts: list[str] = []
    for index, section in enumerate(sections):
        text = section.text
        if index < len(sections) - 1 and text and not text.endswith(("\n", "\r")):
            text += "\n"
        parts.append(text)
    return "".join(parts)


def edited_headings(last: str, edited: str) -> tuple[str, ...]:
    """The headings of the sections the team changed or added, for the reply that saved it."""
    before = {section.key: section.text for section in split(last)}
    return tuple(
        section.heading
        for section in split(edited)
        if section.key not in before or not _same(section.text, before[section.key])
    )
