"""Runs that the in-process runner holds back or does not count against its limit.

It starts no new run while a create of its process retries, and a run past
containment leaves its slot to the next run.
"""

from __future__ import annotations

import time

import pytest
from prefect import flow

from deployments.inprocess import (
    after_containment,
    contained_run_ids,
    creates_retrying,
    retrying_create,
)
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
        state_while_held = state_of(run_id)

    assert state_while_held == "SCHEDULED"
    assert wait_for_state(run_id, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"


@flow(name="inprocess-test-investigate", persist_result=False)
def investigate_after_containment(seconds: float) -> None:
    """Sleep past containment, as a response's investigation takes its time."""
    with after_containment():
        time.sleep(seconds)


@pytest.mark.slow
def test_inprocess_runner_frees_slot_after_containment(
    serve_in_process,  # noqa: F811 - the fixture imported above
) -> None:
    serve_in_process(
        "inprocess-contained", [investigate_after_containment, record_thread], limit=1
    )

    slow = create_run(
        "inprocess-test-investigate/inprocess-contained", {"seconds": 8.0}
    )
    assert wait_for_state(slow, {"RUNNING"}) == "RUNNING"
    quick = create_run("inprocess-test-record/inprocess-contained", {"value": 12})
    quick_state = wait_for_state(quick, {"COMPLETED", "FAILED", "CRASHED"}, 6)
    slow_state = state_of(slow)

    assert quick_state == "COMPLETED"
    assert slow_state == "RUNNING"
    assert wait_for_state(slow, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"
    assert contained_run_ids() == set()
