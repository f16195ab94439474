"""prefect.yaml: ``prefect deploy --all`` registers the four deployments on the pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from deployments import serve
from deployments.receiver import prefect_api_settings
from emulator.testing import PROXY_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "respond-to-compromised-key": serve.RESPONSE,
    "sweep-all-keys": serve.SWEEP,
    "alert-intake": serve.ALERT_INTAKE,
    "undo-response": serve.UNDO,
}


def test_prefect_yaml_names_match_serve() -> None:
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())

    names = [item["name"] for item in document["deployments"]]
    pools = {item["work_pool"]["name"] for item in document["deployments"]}
    sweep = next(
        item for item in document["deployments"] if item["name"] == "daily-sweep"
    )
    assert sorted(names) == sorted(EXPECTED.values())
    assert pools == {"akresponder"}
    assert sweep["schedules"][0]["cron"] == serve.DEFAULT_SWEEP_CRON
    assert all(item["tags"] == ["akresponder"] for item in document["deployments"])


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_prefect_deploy_all_registers_deployments() -> None:
    api_url, headers = prefect_api_settings()
    assert api_url is not None
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env["PREFECT_API_URL"] = api_url
    prefect = [sys.executable, "-m", "prefect"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefect, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    created = run("work-pool", "create", "akresponder", "--type", "process")
    assert created.returncode == 0 or "already exists" in created.stdout, created
    deployed = run("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]

    with httpx.Client(base_url=api_url, headers=headers, trust_env=False) as client:
        try:
            found = {}
            for flow_name, name in EXPECTED.items():
                response = client.get(f"/deployments/name/{flow_name}/{name}")
                assert response.status_code == 200, (flow_name, name)
                found[name] = response.json()
            assert {d["work_pool_name"] for d in found.values()} == {"akresponder"}
            assert found["daily-sweep"]["parameters"] == {"params": {}}
            schedules = found["daily-sweep"]["schedules"]
            assert schedules[0]["schedule"]["cron"] == serve.DEFAULT_SWEEP_CRON
        finally:
            # Other tests must not find these deployments: nothing executes them.
            for flow_name, name in EXPECTED.items():
                response = client.get(f"/deployments/name/{flow_name}/{name}")
                if response.status_code == 200:
                    client.delete(f"/deployments/{response.json()['id']}")
