"""Read a rendered draft back the way a Markdown renderer would."""

from __future__ import annotations

import re

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def section(markdown: str, heading: str) -> str:
    """The body of the `## heading` section, up to the next `## `."""
    start = markdown.index(f"\n## {heading}\n") + len(heading) + 5
    end = markdown.find("\n## ", start)
    return markdown[start : end if end != -1 else None].strip("\n")


def table(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the table under `## heading`, header and separator rows left out."""
    lines = [line for line in section(markdown, heading).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in _UNESCAPED_PIPE.split(line)[1:-1]] for line in lines[2:]]
