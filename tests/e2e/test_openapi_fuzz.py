"""schemathesis against the app's own OpenAPI: `/alerts/*` and `/api/*` never answer 5xx,
and every 4xx carries our JSON error body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from bot.composition.app import create_app
from bot.composition.runtime import build_runtime
from storage.db import make_engine
from storage.migrate import upgrade
from tests.e2e.conftest import ALERT_TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {ALERT_TOKEN}"}
# Bounded for CI: a few dozen cases per operation and mode, the whole file in seconds.
EXAMPLES = 30


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    """The app in process (no server, no dispatcher) on a fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    runtime = build_runtime(make_settings(url))
    app = create_app(runtime, public_url="http://127.0.0.1:9")
    yield schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex=r"^/(alerts|api)/"
    )
    runtime.close()


def _check(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    assert response.status_code < 500, (case.path, response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), response.text
        assert "Traceback" not in response.text


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_every_4xx_is_a_json_error(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/alerts/{source}", "/api/incidents"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to get wrong: an operation without parameters

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            _check(case)

        run()
