"""Alertmanager bodies are validated from their raw bytes: the answers must be those of the
decoder's way, for good bodies and bad ones alike."""

from __future__ import annotations

import json

import pytest

from bot.alerts import AlertPayloadError, alertmanager, decode_json, parse
from tests.bot.alerts.payloads import load, raw

FIRING = "alertmanager_firing.json"


def _with_label(value: str) -> bytes:
    """The firing body with a label whose JSON value is `value`, written as is."""
    body = load(FIRING)
    body["alerts"][0]["labels"]["odd"] = "PLACEHOLDER"
    return json.dumps(body).encode().replace(b'"PLACEHOLDER"', value.encode())


def test_raw_bytes_give_the_alerts_the_decoded_body_gives():
    body = raw(FIRING)

    assert parse("alertmanager", body) == alertmanager.normalize(decode_json(body))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_python_only_constant_inside_a_valid_body_is_still_400(value: str):
    with pytest.raises(AlertPayloadError) as caught:
        parse("alertmanager", _with_label(value))

    assert caught.value.status_code == 400
    assert "is not valid JSON" in caught.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xef\xbb\xbf" + raw(FIRING), "body is not JSON: Unexpected UTF-8 BOM"),
        (raw(FIRING) + b" x", "body is not JSON: Extra data at line"),
        (_with_label('"tab\there"'), "body is not JSON: Invalid control character at"),
    ],
    ids=["bom", "trailing-data", "raw-tab-in-string"],
)
def test_json_the_decoder_refuses_is_400_worded_by_the_decoder(body: bytes, message: str):
    with pytest.raises(AlertPayloadError) as caught:
        parse("alertmanager", body)

    assert caught.value.status_code == 400
    assert caught.value.message.startswith(message)


def test_a_repeated_key_keeps_its_last_value_as_the_decoder_does():
    body = raw(FIRING).replace(b'"labels": {', b'"labels": {"severity": "info", ', 1)

    [alert] = parse("alertmanager", body)

    assert alert.labels["severity"] == load(FIRING)["alerts"][0]["labels"]["severity"]
    assert alert == alertmanager.normalize(decode_json(body))[0]


def test_numbers_become_label_text_as_the_decoder_makes_them():
    body = _with_label("1.10")

    [alert] = parse("alertmanager", body)

    assert alert.labels["odd"] == "1.1"
    assert alert == alertmanager.normalize(decode_json(body))[0]
