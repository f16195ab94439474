"""The in-process runner that serves responses and alert intakes without a subprocess.

Each test registers deployments of small flows in the session's Prefect test server
and creates their runs through the API, as the receiver and the alert intake do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prefect import flow
from prefect.flow_runs import pause_flow_run

from deployments.inprocess import InProcessRunner

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Threads that ran a flow, by the value the flow was given.
ran_in: dict[int, str] = {}


@flow(name="inprocess-test-record", persist_result=False)
def record_thread(value: int) -> int:
    """Note the thread this run executes in."""
    ran_in[value] = threading.current_thread().name
    return value


@flow(name="inprocess-test-pause", persist_result=False)
def wait_for_person() -> str:
    """Pause until resumed, as a response waiting for approval does."""
    pause_flow_run(timeout=60, poll_interval=1)
    return "resumed"


@flow(name="inprocess-test-sleep", persist_result=False)
def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


@pytest.fixture
def serve_in_process() -> Iterator[Callable[..., InProcessRunner]]:
    """Start runners for flows under a deployment name; stop them after the test."""
    started: list[InProcessRunner] = []

    def start(name: str, flows: list[Any], **options: Any) -> InProcessRunner:
        runner = InProcessRunner(
            [item.to_deployment(name=name) for item in flows],
            {item.name: item for item in flows},
            poll_seconds=0.2,
            **options,
        )
        runner.start()
        started.append(runner)
        return runner

    try:
        yield start
    finally:
        for runner in started:
            runner.stop(grace=5)


def create_run(deployment: str, parameters: dict[str, Any] | None = None) -> str:
    from prefect.deployments import run_deployment

    run = run_deployment(deployment, parameters=parameters or {}, timeout=0)
    return str(run.id)


def state_of(run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return run.state.type.value if run.state else "UNKNOWN"


def wait_for_state(run_id: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = state_of(run_id)
        if state in wanted or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_inprocess_runner_runs_in_thread(serve_in_process) -> None:
    serve_in_process("inprocess-a", [record_thread])

    run_id = create_run("inprocess-test-record/inprocess-a", {"value": 7})

    assert wait_for_state(run_id, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"
    assert ran_in[7] == f"flow-run-{run_id}"


def test_inprocess_runner_leaves_claimed_run(serve_in_process) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Pending

    record_thread.to_deployment(name="inprocess-b").apply()
    run_id = create_run("inprocess-test-record/inprocess-b", {"value": 8})
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Pending())
    serve_in_process("inprocess-b", [record_thread])

    time.sleep(2)

    assert state_of(run_id) == "PENDING"
    assert 8 not in ran_in


def test_inprocess_runner_paused_run_frees_slot(serve_in_process) -> None:
    from prefect.flow_runs import resume_flow_run

    serve_in_process("inprocess-c", [wait_for_person, record_thread], limit=1)
    paused = create_run("inprocess-test-pause/inprocess-c")
    assert wait_for_state(paused, {"PAUSED"}) == "PAUSED"

    second = create_run("inprocess-test-record/inprocess-c", {"value": 9})
    second_state = wait_for_state(second, {"COMPLETED", "FAILED", "CRASHED"})
    resume_flow_run(paused)
    paused_state = wait_for_state(paused, {"COMPLETED", "FAILED", "CRASHED"})

    assert second_state == "COMPLETED"
    assert paused_state == "COMPLETED"


def test_inprocess_runner_stop_marks_crashed(serve_in_process) -> None:
    runner = serve_in_process("inprocess-d", [sleep_for])
    run_id = create_run("inprocess-test-sleep/inprocess-d", {"seconds": 3})
    assert wait_for_state(run_id, {"RUNNING"}) == "RUNNING"

    runner.stop(grace=0.2)

    assert state_of(run_id) == "CRASHED"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"poll_seconds": 0}, "poll interval 0 s is not positive"),
        ({"limit": 0}, "run limit 0 is below 1"),
    ],
)
def test_inprocess_runner_rejects_bad_settings(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        InProcessRunner([], {}, **options)


def test_inprocess_runner_needs_flow_of_deployment() -> None:
    with pytest.raises(ValueError, match="no flow object given"):
        InProcessRunner([record_thread.to_deployment(name="inprocess-e")], {})
