"""schemathesis against the API's own OpenAPI schema: no input makes the server answer 5xx, and
answers match the schema's status codes; bounded in examples per operation and in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.admin.support import AdminServer, admin_server_fixture

EXAMPLES = 5  # per operation and mode
BUDGET = 90.0  # seconds for the whole run (it stops generating after)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("fuzz") / "data")


def _fuzz(strategy: Any, base: str, headers: dict[str, str]) -> int:
    """Send EXAMPLES requests drawn from ``strategy``; returns how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        nonlocal sent
        case = data.draw(strategy)
        case.call_and_validate(base_url=base, headers=headers, checks=[not_a_server_error])
        sent += 1

    run()
    return sent


def test_no_generated_request_makes_the_server_fail(server: AdminServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/api/openapi.json")
    headers = {"Authorization": f"Bearer {server.write_token}"}
    deadline = time.monotonic() + BUDGET
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    calls, covered = 0, 0
    for operation in operations:
        covered += time.monotonic() <= deadline
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline:
                break
            try:
                calls += _fuzz(operation.as_strategy(generation_mode=mode), server.base, headers)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to spoil: no parameters
    assert covered == len(operations), "the time budget ran out before every operation"
    assert calls >= len(operations)
    with httpx.Client(base_url=server.base, headers=headers) as api:  # still serving
        assert api.get("/api/v1/status").status_code == 200
