"""The sweep flow against the emulator, through the real SDK clients over HTTP."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.sweep_support import expected, flagged, sweep, sweep_account

pytestmark = pytest.mark.usefixtures("prefect_harness")

EVERY_PLANT = {
    "never-used": 1,
    "unused": 1,
    "rotation": 1,
    "two-active": 1,
    "root": 1,
    "created-by-key": 1,
    "new-ip": 1,
    "new-region": 1,
    "new-agent": 1,
    "console-no-mfa": 1,
    "recent-known": 1,
}


def artifacts_of(flow_run_id: str) -> dict[str, Any]:
    """Return the artifacts of a flow run by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in artifacts}


def prefect_texts() -> list[str]:
    """Return every log message and artifact the Prefect API stores."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        logs = client.read_logs()
        artifacts = client.read_artifacts()
    texts = [log.message for log in logs]
    texts += [json.dumps(artifact.data) for artifact in artifacts]
    return texts


@pytest.mark.slow
def test_sweep_finds_every_planted_risk(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.sweep import SweepRequest, sweep_all_keys

    caplog.set_level(logging.DEBUG)
    with sweep_account(monkeypatch, tmp_path, users=30, plants=EVERY_PLANT) as account:
        state = sweep_all_keys(
            SweepRequest(report_path=str(tmp_path / "sweep.json")),
            return_state=True,
        )
        document = state.result()

        assert flagged(document) == expected(account.manifest)
        assert document["complete"] is True
        assert document["totals"]["users_listed"] == 31
        assert document["totals"]["users_assessed"] == 31
        assert document["totals"]["keys"] == account.manifest["keys"]
        coverage = document["coverage"]
        assert (
            coverage["root_keys"]["method"] == "ActionTrail events signed by the root"
        )
        # new-ip, new-region, new-agent and recent-known were used in the last day.
        assert coverage["usage_checks"]["keys_checked"] == 4
        recent_known = next(
            item
            for item in account.manifest["planted"]
            if item["kind"] == "recent-known"
        )
        row = next(
            row
            for row in document["keys"]
            if row["access_key_id"] == recent_known["access_key_id"]
        )
        assert row["usage"]["recent_events"] == 3
        assert row["usage"]["baseline_events"] == 4
        assert row["score"] == 0

        on_disk = json.loads((tmp_path / "sweep.json").read_text())
        assert on_disk["schema"] == "akresponder.sweep/1"
        assert on_disk["keys"] == document["keys"]

        artifacts = artifacts_of(str(state.state_details.flow_run_id))
        assert set(artifacts) >= {"sweep-keys", "sweep-summary", "sweep-progress"}
        table = artifacts["sweep-keys"].data
        table = json.loads(table) if isinstance(table, str) else table
        assert len(table) == document["totals"]["rows_flagged"]
        assert "# AccessKey sweep of account 1234567890123456" in str(
            artifacts["sweep-summary"].data
        )
        assert artifacts["sweep-progress"].data == 100.0

        texts = prefect_texts() + [record.getMessage() for record in caplog.records]
        texts.append((tmp_path / "sweep.json").read_text())
        for secret in account.secrets():
            assert not any(secret in text for text in texts)


def test_sweep_as_root_lists_root_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plants = {"root": 1, "never-used": 1}
    with sweep_account(
        monkeypatch, tmp_path, users=8, plants=plants, as_root=True
    ) as account:
        document = sweep(tmp_path)

        root_key = account.credentials(as_root=True)[0]
        row = next(r for r in document["keys"] if r["access_key_id"] == root_key)
        assert row["owner_type"] == "root-account"
        assert row["status"] == "Active"
        assert row["is_responder"] is True
        assert [reason["code"] for reason in row["reasons"]] == [
            "root_key",
            "rotation_overdue",
        ]
        assert document["coverage"]["root_keys"]["method"] == (
            "ListAccessKeys as the root"
        )
        assert document["responder"]["identity_type"] == "Account"
        # The responder's own key never starts a response.
        assert root_key not in document["responses"]["candidates"]


def test_sweep_reports_failed_users_with_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    faults = [
        {
            "service": "ram",
            "action": "GetLoginProfile",
            "kind": "error",
            "status": 403,
            "code": "NoPermission",
            "message": "You are not authorized to do this action.",
            "count": 1,
        },
        {"service": "ram", "action": "ListAccessKeys", "kind": "throttle", "count": 3},
    ]
    with sweep_account(
        monkeypatch, tmp_path, users=12, plants={}, faults=faults
    ) as account:
        document = sweep(tmp_path, retry_max_attempts=1, workers_per_batch=1)

        assert document["complete"] is False
        assert document["totals"]["users_listed"] == 13
        assert document["totals"]["users_assessed"] == 12
        assert document["totals"]["users_failed"] == 1
        failure = document["failed_users"][0]
        assert failure["error_code"] == "NoPermission"
        assert failure["retryable"] is False
        assert "ram:GetLoginProfile" in failure["reason"]
        # Three users were throttled once each and assessed in the second pass.
        assert document["coverage"]["users"]["retried"] == 3
        listed = {row["user_name"] for row in document["keys"]}
        assert failure["user_name"] not in listed
        throttled = [
            entry
            for entry in account.running.control("GET", "requests")["requests"]
            if entry["error_code"] == "Throttling.User"
        ]
        assert len(throttled) == 3


def test_sweep_lists_responses_without_deployment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with sweep_account(monkeypatch, tmp_path, users=6, plants={"root": 1}) as account:
        document = sweep(
            tmp_path,
            start_responses=True,
            response_deployment="respond-to-compromised-key/missing",
        )

        root_key = next(
            item["access_key_id"]
            for item in account.manifest["planted"]
            if item["kind"] == "root"
        )
        responses = document["responses"]
        assert responses["candidates"] == [root_key]
        assert responses["started"] == []
        assert (
            "No deployment named 'respond-to-compromised-key/missing'"
            in (responses["note"])
        )


def test_sweep_starts_response_deployment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.respond import respond_to_compromised_key

    deployment_id = respond_to_compromised_key.to_deployment(name="sweep-test").apply()
    try:
        with sweep_account(
            monkeypatch, tmp_path, users=6, plants={"root": 1, "created-by-key": 1}
        ) as account:
            document = sweep(
                tmp_path,
                start_responses=True,
                response_deployment="respond-to-compromised-key/sweep-test",
                high_score=40,
            )

            planted = {item["access_key_id"] for item in account.manifest["planted"]}
            started = {
                item["access_key_id"]: item["flow_run_id"]
                for item in document["responses"]["started"]
            }
            assert set(started) == planted
            with get_client(sync_client=True) as client:
                for key_id, run_id in started.items():
                    run = client.read_flow_run(run_id)
                    assert run.deployment_id == deployment_id
                    assert run.parameters == {"params": {"access_key_id": key_id}}
                    assert "akresponder-sweep" in run.tags
                    assert run.state is not None and run.state.is_scheduled()
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


def test_sweep_cli_writes_report(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from akresponder.cli import main

    with sweep_account(monkeypatch, tmp_path, users=5, plants={"never-used": 1}):
        status = main(
            [
                "sweep",
                "--report",
                str(tmp_path / "cli.json"),
                "--users-per-batch",
                "2",
                "--ram-calls-per-second",
                "500",
            ]
        )

        out = capsys.readouterr().out
        document = json.loads((tmp_path / "cli.json").read_text())
        assert status == 0
        assert f"Report: {tmp_path / 'cli.json'}" in out
        assert "Users: 6 of 6 assessed, 0 failed" in out
        assert "never_used" in out
        assert document["settings"]["users_per_batch"] == 2
        assert document["settings"]["ram_calls_per_second"] == 500.0


def test_sweep_defaults_write_report_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flows.sweep import sweep_all_keys

    monkeypatch.setenv("HOME", str(tmp_path))
    with sweep_account(monkeypatch, tmp_path, users=3, plants={}):
        document = sweep_all_keys()

    report = Path(document["report_path"])
    assert report.parent == tmp_path / ".akresponder" / "sweeps"
    assert report.name.startswith("sweep-")
    assert json.loads(report.read_text())["complete"] is True
