"""The in-process runner starts no new run while a create of its process retries."""

from __future__ import annotations

import time

import pytest

from deployments.inprocess import creates_retrying, retrying_create
from tests.test_flood_inprocess import (  # noqa: F401 - serve_in_process is a fixture
    create_run,
    record_thread,
    serve_in_process,
    state_of,
    wait_for_state,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_retrying_create_marks_and_clears() -> None:
    with retrying_create():
        with retrying_create():
            nested = creates_retrying()
        outer = creates_retrying()

    assert nested is True
    assert outer is True
    assert creates_retrying() is False


def test_inprocess_runner_holds_runs_while_create_retries(
    serve_in_process,  # noqa: F811 - the fixture imported above
) -> None:
    serve_in_process("inprocess-hold", [record_thread])

    with retrying_create():
        run_id = create_run("inprocess-test-record/inprocess-hold", {"value": 11})
        time.sleep(1.5)
        held = state_of(run_id)

    assert held == "SCHEDULED"
    assert wait_for_state(run_id, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"
