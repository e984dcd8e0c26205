"""Render a draft to Markdown through a Jinja2 template, the bundled one or a team's own."""

from __future__ import annotations

import re
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.postmortem.data import Postmortem

if TYPE_CHECKING:
    # Jinja loads with the first draft rendered, not when the service starts.
    from jinja2 import Environment

TEMPLATE = "postmortem.md.j2"
BUNDLED = Path(__file__).parent / "templates"

_NEWLINES = re.compile(r"\r\n|\r|\n")
_SPACES = re.compile(r"\s+")
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"


def cell(value: Any) -> str:
    """Make text safe inside a Markdown table cell.

    `|` would end the cell and a newline the row; `<` could open an HTML comment or tag
    that swallows the rest of the document. Line breaks stay visible as `<br>`.
    """
    text = str(value).strip().replace("<", "&lt;").replace("|", "\\|")
    return _NEWLINES.sub("<br>", text)


def inline(value: Any) -> str:
    """Fold text onto one line, for headings and list items."""
    return _SPACES.sub(" ", str(value).replace("<", "&lt;")).strip()


def link(url: Any, label: str = "link") -> str:
    """A Markdown link to an http(s) URL; anything else is dropped."""
    url = str(url or "").strip()
    if not url.lower().startswith(("http://", "https://")):
        return ""
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


@lru_cache(maxsize=16)
def _environment(folder: str | None) -> Environment:
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined

    bundled = FileSystemLoader(BUNDLED)
    first = FileSystemLoader(folder) if folder else bundled
    # A team template can `{% extends "warroom/postmortem.md.j2" %}` and replace blocks.
    loader = ChoiceLoader([first, PrefixLoader({"warroom": bundled})])
    # Markdown, not HTML: HTML escaping would mangle it; the filters escape what matters.
    env = Environment(
        loader=loader,
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cell=cell, inline=inline, link=link)
    return env


def render(pm: Postmortem, *, template_dir: Path | None = None) -> str:
    """Render the draft with the team's `postmortem.md.j2` if given, else the bundled one."""
    if template_dir is not None and not (Path(template_dir) / TEMPLATE).is_file():
        raise FileNotFoundError(f"{Path(template_dir) / TEMPLATE}: no postmortem template there")
    env = _environment(str(template_dir) if template_dir is not None else None)
    variables = {item.name: getattr(pm, item.name) for item in fields(pm)}
    return env.get_template(TEMPLATE).render(pm=pm, **variables)
