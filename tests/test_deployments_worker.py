"""The work-pool path: ``prefect deploy --all`` from a fresh checkout, then a worker.

The checkout is a copy of the files git would clone (tracked and new, unignored
files), so the test finds pull steps or entrypoints that only work from this tree.
A ``process`` worker started with ``--run-once`` picks up one response run, runs
prefect.yaml's pull step in its flow-run subprocess and contains the key in the
emulator. Prefect is the session's test server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deployments import serve
from deployments.receiver import prefect_api_settings
from emulator.testing import PROXY_VARIABLES
from tests.respond_support import CI_KEY_A, responder_emulator

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

ROOT = Path(__file__).resolve().parent.parent
POOL = "akresponder"
DEPLOYMENTS = {
    "respond-to-compromised-key": serve.RESPONSE,
    "sweep-all-keys": serve.SWEEP,
    "alert-intake": serve.ALERT_INTAKE,
    "undo-response": serve.UNDO,
}


def copy_checkout(target: Path) -> Path:
    """Copy the files a clone of this repository would have into ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return target


def prefect_env(api_url: str, checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env.update(
        {
            "PREFECT_API_URL": api_url,
            # prefect.yaml's pull step records "{{ $PWD }}", which a shell sets to
            # the directory it runs "prefect deploy" in; subprocess's cwd does not.
            "PWD": str(checkout),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # The worker's flow-run subprocess must import the copy, not this checkout.
    env.pop("PYTHONPATH", None)
    return env


def prefect(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def delete_deployments(client: httpx.Client) -> None:
    """Remove the deployments, because other tests must not find them."""
    for flow_name, name in DEPLOYMENTS.items():
        response = client.get(f"/deployments/name/{flow_name}/{name}")
        if response.status_code == 200:
            client.delete(f"/deployments/{response.json()['id']}")


def test_worker_runs_deployed_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    began = time.monotonic()
    api_url, headers = prefect_api_settings()
    assert api_url is not None
    checkout = copy_checkout(tmp_path / "checkout")
    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()

    with (
        responder_emulator(monkeypatch) as running,
        httpx.Client(base_url=api_url, headers=headers, trust_env=False) as client,
    ):
        env = prefect_env(api_url, checkout)
        run_id: str | None = None
        try:
            created = prefect(
                ["work-pool", "create", POOL, "--type", "process"], checkout, env
            )
            assert created.returncode == 0 or "already exists" in created.stdout, (
                created.stdout + created.stderr
            )
            deployed = prefect(["--no-prompt", "deploy", "--all"], checkout, env)
            assert deployed.returncode == 0, (
                deployed.stdout[-3000:] + (deployed.stderr[-3000:])
            )
            found = client.get(
                f"/deployments/name/respond-to-compromised-key/{serve.RESPONSE}"
            )
            assert found.status_code == 200, found.text
            deployment = found.json()
            pull = deployment["pull_steps"][0]
            step = pull["prefect.deployments.steps.set_working_directory"]
            assert step["directory"] == str(checkout)
            assert deployment["entrypoint"] == (
                "flows/respond.py:respond_to_compromised_key"
            )
            deployed_at = time.monotonic()

            params = {
                "access_key_id": CI_KEY_A,
                "approval": {"auto_approve": True},
                "state_dir": str(tmp_path / "state"),
                "secret_sink": f"file:{tmp_path / 'secrets'}",
                "report_path": str(tmp_path / "report.json"),
            }
            run = client.post(
                f"/deployments/{deployment['id']}/create_flow_run",
                json={"parameters": {"params": params}},
            )
            assert run.status_code == 201, run.text
            run_id = run.json()["id"]

            # --limit makes --run-once wait for the run it started.
            worker = prefect(
                ["worker", "start", "--pool", POOL, "--run-once", "--limit", "1"],
                elsewhere,
                env,
                timeout=180,
            )
            worked_at = time.monotonic()
            assert worker.returncode == 0, (
                worker.stdout[-3000:] + (worker.stderr[-3000:])
            )
            finished = client.get(f"/flow_runs/{run_id}").json()
            logs = client.post(
                "/logs/filter",
                json={"logs": {"flow_run_id": {"any_": [run_id]}}},
            ).json()
        finally:
            # A run left scheduled would count as an open incident for the key in
            # the alert-intake tests of this session.
            if run_id is not None:
                state = client.get(f"/flow_runs/{run_id}").json().get("state") or {}
                if state.get("type") not in ("COMPLETED", "FAILED", "CRASHED"):
                    client.delete(f"/flow_runs/{run_id}")
            delete_deployments(client)
            # The copy contains the test scenarios' secrets, which the session's
            # secret scan would report as written by a test.
            shutil.rmtree(checkout, ignore_errors=True)

        assert CI_KEY_A not in running.cloud.access_keys
    assert finished["state"]["type"] == "COMPLETED", (
        finished["state"],
        worker.stdout[-3000:],
        worker.stderr[-3000:],
    )
    assert f"key:{CI_KEY_A}" in finished["tags"]
    assert "akresponder" in finished["tags"]
    messages = [item["message"] for item in logs]
    assert "All deployment steps completed successfully" in messages
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["decision"]["path"] == "delete"
    assert report["complete"] is True
    print(
        f"deploy {deployed_at - began:.1f} s, worker run {worked_at - deployed_at:.1f}"
        f" s, total {time.monotonic() - began:.1f} s"
    )
