"""The alert intake passes its ``approval`` settings to the responses it starts.

CI_KEY_A of the base scenario takes the delete path: disable the key, then delete
it after approval. No response deployment exists here, so each response runs as a
subflow of the intake, as with ``akresponder alert`` and no Prefect server. Other
tests respond to the same key, so every intake here has a dedupe window of 0 h and
starts a new response instead of attaching to theirs.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from akresponder.cli import main
from flows.alert_intake import alert_intake
from tests.respond_support import (
    CI_KEY_A,
    RESPONDER_KEY,
    requests_by,
    responder_emulator,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def read_run(flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def journal_action(state_dir: Path, action_id: str) -> dict[str, Any]:
    journal = json.loads((state_dir / f"{CI_KEY_A}.json").read_text())
    return journal["actions"][action_id]


@pytest.mark.slow
def test_alert_intake_auto_approve_reaches_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        result = alert_intake(
            {"access_key_id": CI_KEY_A},
            state_dir=str(tmp_path),
            dedupe_window_hours=0,
            approval={"auto_approve": True},
        )

        assert CI_KEY_A not in running.cloud.access_keys

    outcome = result["outcomes"][0]
    assert outcome["action"] == "started"
    assert "path delete" in outcome["reason"]
    delete = journal_action(tmp_path, "delete-key")
    assert delete["status"] == "done"
    assert "auto_approve answered yes" in delete["detail"]


def test_alert_intake_approval_through_deployment(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from flows.respond import respond_to_compromised_key

    # Registered only: nothing runs it, so the run stays scheduled.
    deployment_id = respond_to_compromised_key.to_deployment(
        name="intake-approval-test"
    ).apply()
    outcome: dict[str, Any] = {}
    try:
        result = alert_intake(
            {"access_key_id": CI_KEY_A},
            state_dir=str(tmp_path),
            dedupe_window_hours=0,
            response_deployment="respond-to-compromised-key/intake-approval-test",
            approval={"auto_approve": True, "timeout_seconds": 120},
        )
        outcome = result["outcomes"][0]
        run = read_run(outcome["flow_run_id"])
    finally:
        # A scheduled run tagged with the key would be an open incident for the
        # intakes of later tests, which would attach to it.
        with get_client(sync_client=True) as client:
            if outcome.get("flow_run_id"):
                client.delete_flow_run(outcome["flow_run_id"])
            client.delete_deployment(deployment_id)

    assert outcome["action"] == "started"
    assert run.deployment_id == deployment_id
    # Only the given fields are passed, so the rest still come from the settings
    # block that the response loads.
    assert run.parameters["params"]["approval"] == {
        "auto_approve": True,
        "timeout_seconds": 120,
    }


@pytest.mark.slow
def test_alert_intake_approval_pauses_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    paused = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
        tags=FlowRunFilterTags(all_=[f"key:{CI_KEY_A}"]),
    )
    seen: dict[str, Any] = {}

    def deny_when_paused() -> None:
        """Record the journal while the response waits, then deny the approval."""
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                runs = client.read_flow_runs(flow_run_filter=paused)
                if runs:
                    seen["run_id"] = str(runs[0].id)
                    seen["delete"] = journal_action(tmp_path, "delete-key")
                    resume_flow_run(
                        runs[0].id,
                        run_input={"approved": False, "approver": "carol"},
                    )
                    return
                time.sleep(0.2)

    with get_client(sync_client=True) as client:
        client.hello()  # start the client in this thread before the watcher's
    with responder_emulator(monkeypatch) as running:
        watcher = threading.Thread(target=deny_when_paused, daemon=True)
        watcher.start()
        try:
            result = alert_intake(
                {"access_key_id": CI_KEY_A},
                state_dir=str(tmp_path),
                dedupe_window_hours=0,
                approval={
                    "pause_without_deployment": True,
                    "timeout_seconds": 60,
                    "poll_interval_seconds": 1,
                },
            )
        finally:
            watcher.join(timeout=70)

        key = running.cloud.access_keys[CI_KEY_A]
        assert key.status == "Inactive"

    outcome = result["outcomes"][0]
    assert outcome["action"] == "started"
    assert seen["run_id"] == outcome["flow_run_id"]
    assert seen["delete"]["status"] == "awaiting-approval"
    delete = journal_action(tmp_path, "delete-key")
    assert delete["status"] == "skipped"
    assert "Denied by carol." in delete["detail"]


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        ("0", "invalid --approval-timeout 0: Input should be greater than or equal"),
        ("9999999", "invalid --approval-timeout 9999999: Input should be less than"),
    ],
)
def test_alert_cli_approval_timeout_invalid(
    timeout: str,
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps({"access_key_id": CI_KEY_A}))

    with responder_emulator(monkeypatch) as running:
        status = main(["alert", str(alert), "--approval-timeout", timeout])

        lines = [line for line in capsys.readouterr().err.splitlines() if line]
        assert status == 2
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"akresponder: {expected}")
        assert requests_by(running, RESPONDER_KEY) == []
