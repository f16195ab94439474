"""Child responses of a served response start as runs of the same deployment.

tests/scenarios/lineage-chain.json: app-backend's leaked key created key B, and B
created key C. The parent response runs from a deployment that an
``InProcessRunner`` serves from this process, as ``python -m deployments.serve``
does. Each minted key must then get a run of that deployment of its own, with its
own tags, linked to the parent run in the Prefect API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from deployments.inprocess import (
    InProcessRunner,
    waiting_for_other_runs,
    waiting_run_ids,
)
from tests.investigation_support import SCENARIOS, present, serve
from tests.respond_support import APP_KEY

pytestmark = pytest.mark.usefixtures("prefect_harness")

B_KEY = "LTAI5tCHAINUSERB00000001"
C_KEY = "LTAI5tCHAINUSERC00000001"
# No other test creates runs of a deployment with this name.
DEPLOYMENT_NAME = "respond-served-children"
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@pytest.fixture
def served_response() -> Iterator[str]:
    """Serve the response flow from this process; yield ``flow/deployment``."""
    from prefect.client.orchestration import get_client

    from flows.respond import respond_to_compromised_key

    deployment = respond_to_compromised_key.to_deployment(
        name=DEPLOYMENT_NAME, tags=["akresponder"]
    )
    # With one slot, the parent that waits for its children must leave the slot
    # to them.
    runner = InProcessRunner(
        [deployment],
        {respond_to_compromised_key.name: respond_to_compromised_key},
        poll_seconds=0.2,
        limit=1,
    )
    runner.start()
    try:
        yield f"{respond_to_compromised_key.name}/{DEPLOYMENT_NAME}"
    finally:
        runner.stop(grace=5)
        with get_client(sync_client=True) as client:
            for deployment_id in runner.deployment_ids:
                client.delete_deployment(deployment_id)


def wait_final(client: Any, run_id: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run = client.read_flow_run(run_id)
        if run.state is not None and run.state.type.value in FINAL:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"flow run {run_id} still {run.state} after {timeout} s")
        time.sleep(0.5)


@flow(name="inprocess-test-waiting", persist_result=False)
def marked_while_waiting() -> tuple[bool, bool]:
    """Return whether this run is marked inside and after the block."""
    from prefect.context import FlowRunContext

    run_id = FlowRunContext.get().flow_run.id
    with waiting_for_other_runs():
        inside = run_id in waiting_run_ids()
    return inside, run_id in waiting_run_ids()


def test_waiting_for_other_runs_marks_run() -> None:
    inside, after = marked_while_waiting()

    assert inside is True
    assert after is False


def test_waiting_for_other_runs_outside_flow() -> None:
    with waiting_for_other_runs():
        assert waiting_run_ids() == set()


@pytest.mark.slow
def test_related_served_parent_starts_child_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, served_response: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterTags,
    )
    from prefect.deployments import run_deployment

    scenario = present(json.loads((SCENARIOS / "lineage-chain.json").read_text()))
    params = {
        "access_key_id": APP_KEY,
        "rotatable_now": "no",
        "approval": {"auto_approve": True},
        "state_dir": str(tmp_path / "state"),
        "secret_sink": f"file:{tmp_path / 'secrets'}",
        "report_path": str(tmp_path / "report.json"),
    }
    with serve(monkeypatch, scenario) as running:
        began = time.monotonic()
        parent = run_deployment(
            served_response, parameters={"params": params}, timeout=0
        )
        with get_client(sync_client=True) as client:
            parent = wait_final(client, parent.id, timeout=180)
            elapsed = time.monotonic() - began
            assert parent.state.type.value == "COMPLETED", parent.state
            report = json.loads((tmp_path / "report.json").read_text())
            incident = report["incident_id"]
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"parent:{incident}"])
                ),
                deployment_filter=DeploymentFilter(
                    id=DeploymentFilterId(any_=[parent.deployment_id])
                ),
            )
            by_key = {
                tag.removeprefix("key:"): child
                for child in children
                for tag in child.tags
                if tag.startswith("key:")
            }
            parent_task_runs = {
                key: client.read_task_run(child.parent_task_run_id)
                for key, child in by_key.items()
                if child.parent_task_run_id is not None
            }

        assert B_KEY not in running.cloud.access_keys
        assert C_KEY not in running.cloud.access_keys
        assert APP_KEY in running.cloud.access_keys

    assert sorted(by_key) == [B_KEY, C_KEY]
    related = {item["access_key_id"]: item for item in report["related_credentials"]}
    for key, child in by_key.items():
        response = related[key]["response"]
        assert child.state.type.value == "COMPLETED", (key, child.state)
        assert child.deployment_id == parent.deployment_id
        assert "akresponder" in child.tags
        assert f"incident:{response['incident_id']}" in child.tags
        assert child.parameters["params"]["parent_incident_id"] == incident
        assert child.parameters["params"]["mode"] == "delete"
        assert parent_task_runs[key].flow_run_id == parent.id
        assert response["status"] == "done", response
        assert response["flow_run_id"] == str(child.id)
        assert response["path"] == "delete"
        assert response["complete"] is True
    print(f"parent and two child runs took {elapsed:.1f} s")
