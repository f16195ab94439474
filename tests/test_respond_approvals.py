"""Approvals through a real paused flow run: an answer, and a timeout."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from akresponder.approvals import pause_key
from tests.respond_support import (
    CI_KEY_A,
    actions_by_id,
    respond,
    responder_emulator,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def answer_when_paused(run_input: dict, stop: threading.Event) -> threading.Thread:
    """Resume the first paused flow run with ``run_input``, from another thread."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    paused = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    )

    def watch() -> None:
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                runs = client.read_flow_runs(flow_run_filter=paused)
                if runs:
                    resume_flow_run(runs[0].id, run_input=run_input)
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_respond_approval_answered_in_pause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.hello()  # start the client in this thread before the watcher's
    stop = threading.Event()
    with responder_emulator(monkeypatch) as running:
        watcher = answer_when_paused(
            {"approved": True, "approver": "carol", "comment": "checked"}, stop
        )
        try:
            report = respond(
                tmp_path,
                CI_KEY_A,
                approval={
                    "pause_without_deployment": True,
                    "timeout_seconds": 60,
                    "poll_interval_seconds": 1,
                },
            )
        finally:
            stop.set()
            watcher.join(timeout=5)

        delete = actions_by_id(report)["delete-key"]
        assert delete["status"] == "done"
        assert "Approved by carol." in delete["detail"]
        assert CI_KEY_A not in running.cloud.access_keys


@pytest.mark.slow
def test_respond_approval_timeout_denies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(
            tmp_path,
            CI_KEY_A,
            approval={
                "pause_without_deployment": True,
                "timeout_seconds": 2,
                "poll_interval_seconds": 1,
            },
        )

        delete = actions_by_id(report)["delete-key"]
        assert delete["status"] == "skipped"
        assert "No answer within 2 s" in delete["detail"]
        assert "(no) applied" in delete["detail"]
        assert report["complete"] is False
        assert running.cloud.access_keys[CI_KEY_A].status == "Inactive"


def test_pause_key_accepts_prefect_names_unchanged():
    assert pause_key("delete-old-key") == "delete-old-key"


def test_pause_key_rewrites_ram_names():
    key = pause_key("detach-AdministratorAccess")

    assert re.fullmatch(r"[a-z0-9-]+", key)
    assert key.startswith("detach-administratoraccess-")


def test_pause_key_keeps_case_variants_apart():
    assert pause_key("detach-Admin") != pause_key("detach-admin-")
