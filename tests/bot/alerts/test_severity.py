"""Severity words to sev1..sev4."""

from __future__ import annotations

import pytest

from bot.alerts import severity_from_labels
from bot.alerts.severity import normalize_severity

TABLE = {
    "sev1": ["critical", "CRITICAL", "page", "p1", "P1", "sev1", "SEV1", "Sev-1"],
    "sev2": ["error", "major", "high", "p2", "sev2", "Error"],
    "sev3": ["warning", "Warning", "minor", "medium", "p3", "sev3", " warning "],
    "sev4": ["info", "low", "p4", "sev4", "INFO"],
}


@pytest.mark.parametrize(
    ("value", "severity"),
    [(value, severity) for severity, values in TABLE.items() for value in values],
)
@pytest.mark.parametrize("key", ["severity", "priority", "Severity"])
def test_table(key, value, severity):
    assert severity_from_labels({key: value}) == severity


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"severity": ""},
        {"severity": "none"},
        {"severity": "sev5"},
        {"severity": "catastrophic"},
        {"level": "critical"},
        {"alertname": "critical"},
    ],
    ids=["empty", "blank", "none", "sev5", "unknown-word", "other-key", "value-elsewhere"],
)
def test_nothing_fits(labels):
    assert severity_from_labels(labels) is None


def test_severity_label_wins_over_priority():
    assert severity_from_labels({"priority": "p1", "severity": "warning"}) == "sev3"


def test_priority_used_when_severity_does_not_fit():
    assert severity_from_labels({"severity": "weird", "priority": "P2"}) == "sev2"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_normalize_severity_of_nothing_is_none(value):
    assert normalize_severity(value) is None
