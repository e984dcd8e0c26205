"""Map the severity words monitoring systems use onto warroom's sev1..sev4."""

from __future__ import annotations

from collections.abc import Mapping

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")

_WORDS: dict[str, str] = {}
for _sev, _words in {
    "sev1": ("critical", "crit", "page", "p1", "sev1", "s1", "1"),
    "sev2": ("error", "err", "major", "high", "p2", "sev2", "s2", "2"),
    "sev3": ("warning", "warn", "minor", "medium", "moderate", "p3", "sev3", "s3", "3"),
    "sev4": ("info", "informational", "low", "p4", "p5", "sev4", "s4", "4"),
}.items():
    for _word in _words:
        _WORDS[_word] = _sev

# Label keys consulted in this order: the first that maps to a severity wins.
SEVERITY_LABELS = ("severity", "priority")


def normalize_severity(value: str | None) -> str | None:
    """Return sev1..sev4 for a severity word ("CRITICAL", "P2", "SEV-3"), else None.

    Case, surrounding space, and "-", "_" or " " inside the word are ignored, so
    PagerDuty-style "SEV-1" and "P 1" read like "sev1" and "p1".
    """
    if not value:
        return None
    word = value.strip().lower()
    for ch in "-_ ":
        word = word.replace(ch, "")
    return _WORDS.get(word)


def severity_from_labels(labels: Mapping[str, str]) -> str | None:
    """Return the severity the labels state explicitly, or None if none fits.

    | label value (case-insensitive)                     | severity |
    |----------------------------------------------------|----------|
    | critical, crit, page, p1, sev1                     | sev1     |
    | error, err, major, high, p2, sev2                  | sev2     |
    | warning, warn, minor, medium, moderate, p3, sev3   | sev3     |
    | info, informational, low, p4, p5, sev4             | sev4     |

    The `severity` label is read first, then `priority`; label keys match
    case-insensitively (Grafana users write `Severity` as often as `severity`).
    """
    by_key = {key.lower(): value for key, value in labels.items()}
    for key in SEVERITY_LABELS:
        severity = normalize_severity(by_key.get(key))
        if severity is not None:
            return severity
    return None
