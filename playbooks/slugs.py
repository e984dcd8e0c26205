"""Channel-name slugs of incident titles, in any script."""

from __future__ import annotations

import re
import unicodedata

# What Slack takes in a channel name besides `-` and `_`: lowercase letters of any script
# (a letter with no case, such as kana or han, included), their marks, and digits.
SLUG_CATEGORIES = frozenset({"Ll", "Lo", "Lm", "Mn", "Mc", "Nd"})
_MARKS = frozenset({"Mn", "Mc"})


def _is_variation_selector(char: str) -> bool:
    # Emoji presentation selectors (U+FE0F after ❤) are marks too, but mark no letter.
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _kept(text: str) -> str:
    """The slug of the letters, digits and their marks of already lowercased text."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category not in SLUG_CATEGORIES or _is_variation_selector(char):
            out.append("-")
        elif category in _MARKS and (not out or out[-1] == "-"):
            out.append("-")  # a mark is kept only on a character that is kept
        else:
            out.append(char)
    return re.sub(r"-+", "-", "".join(out)).strip("-")


def _symbol_names(text: str) -> str:
    """The Unicode names of the symbols (emoji among them) of text, a repeat said once."""
    names: list[str] = []
    for char in text:
        if unicodedata.category(char).startswith("S"):
            name = unicodedata.name(char, "").lower()
            if name and (not names or names[-1] != name):
                names.append(name)
    return " ".join(names)


def slugify(text: str) -> str:
    """Make a channel-safe slug of a title: its lowercase words, in any script, joined by '-'.

    A Japanese or Cyrillic title keeps its words; emoji, punctuation and letters with no
    lowercase form become separators. A title of symbols only ("🔥🔥") is spelled by their
    names ("fire"). "" when nothing of the title can be said in a channel name.
    """
    lowered = unicodedata.normalize("NFC", text.lower())
    return _kept(lowered) or _kept(_symbol_names(lowered))
