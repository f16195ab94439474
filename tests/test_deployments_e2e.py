"""End to end: an SLS alert reaches the receiver and the served response contains it.

Processes, all on 127.0.0.1 and stopped at the end: a Prefect server (SQLite in a
private PREFECT_HOME), the emulator serving tests/scenarios/basic.json moved to the
present, ``python -m deployments.serve`` with the responder's credentials, and
``python -m deployments.receiver``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.testing import PROXY_VARIABLES, start_emulator_process
from tests.respond_support import (
    APP_KEY,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    present_scenario,
)

pytestmark = [pytest.mark.slow, pytest.mark.prefect_server]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "alerts"
TOKEN = "e2eReceiverToken000000000000001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
) -> Any:
    """Call ``check`` until it returns a true value; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Child:
    """A child process in its own process group, with its output in a file."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE if name == "receiver" else self.log,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def base_env(home: Path) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES
    }
    env.update(
        {
            "PREFECT_HOME": str(home),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE"):
        env.pop(name, None)
    return env


def api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, trust_env=False, timeout=30)


def flow_runs(client: httpx.Client, flow_name: str, tag: str) -> list[dict]:
    response = client.post(
        "/flow_runs/filter",
        json={
            "flows": {"name": {"any_": [flow_name]}},
            "flow_runs": {"tags": {"all_": [tag]}},
        },
    )
    response.raise_for_status()
    return response.json()


def run_state(client: httpx.Client, run_id: str) -> str:
    response = client.get(f"/flow_runs/{run_id}")
    response.raise_for_status()
    return response.json()["state"]["type"]


def save_settings_block(api_url: str) -> None:
    """Save a settings block whose steps need no approval, so the run completes."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks.settings import ResponderSettings

    with temporary_settings({PREFECT_API_URL: api_url}):
        ResponderSettings(approval_steps=[], secret_sink_kind="none").save(
            "e2e", overwrite=True
        )


def test_sls_alert_contains_key_once(tmp_path: Path, children: list[Child]) -> None:
    began = time.monotonic()
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = base_env(home)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"

    server = Child(
        "prefect-server",
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
        ],
        env,
        tmp_path,
    )
    children.append(server)

    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(present_scenario()))
    with start_emulator_process(scenario) as emulator, api(api_url) as client:
        emulator.control("POST", "config", {"lookup_events_rate_limit": None})

        def healthy() -> bool:
            if server.process.poll() is not None:
                pytest.fail(f"Prefect server exited:\n{server.tail()}")
            try:
                return client.get("/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 90, "the Prefect server's /api/health")
        save_settings_block(api_url)

        run_env = {
            **env,
            "PREFECT_API_URL": api_url,
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "AKRESPONDER_ENDPOINT": emulator.url,
            "AKRESPONDER_STATE_DIR": str(tmp_path / "state"),
            "AKRESPONDER_ACTIONTRAIL_RPS": "1000",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": RESPONDER_KEY,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": RESPONDER_SECRET,
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "AKRESPONDER_RECEIVER_TOKEN": TOKEN,
        }
        serve = Child(
            "serve",
            [
                sys.executable,
                "-m",
                "deployments.serve",
                "--no-sweep-schedule",
                "--settings-block",
                "e2e",
            ],
            run_env,
            tmp_path,
        )
        children.append(serve)
        receiver = Child(
            "receiver",
            [sys.executable, "-m", "deployments.receiver", "--port", "0"],
            run_env,
            tmp_path,
        )
        children.append(receiver)

        line: dict[str, str] = {}
        reader = threading.Thread(
            target=lambda: line.setdefault("text", receiver.process.stdout.readline()),
            daemon=True,
        )
        reader.start()
        reader.join(60)
        receiver_url = line.get("text", "").strip().removeprefix("listening on ")
        assert receiver_url.startswith("http://127.0.0.1:"), receiver.tail()

        def deployed() -> bool:
            if serve.process.poll() is not None:
                pytest.fail(f"serve exited:\n{serve.tail()}")
            names = ["alert-intake/alert-intake", "respond-to-compromised-key/respond"]
            return all(
                client.get(f"/deployments/name/{name}").status_code == 200
                for name in names
            )

        wait_for(deployed, 90, "the served deployments")

        alert = (DATA / "sls_alert_actiontrail.json").read_bytes()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(trust_env=False, timeout=60) as http:
            first = http.post(
                receiver_url + "/alerts/sls", content=alert, headers=headers
            )
        assert first.status_code == 202, first.text
        intake_id = first.json()["flow_run_id"]

        def intake_done() -> str | None:
            state = run_state(client, intake_id)
            return state if state in ("COMPLETED", "FAILED", "CRASHED") else None

        intake_state = wait_for(intake_done, 60, "the alert-intake run")
        assert intake_state == "COMPLETED", serve.tail()

        responses = flow_runs(client, "respond-to-compromised-key", f"key:{APP_KEY}")
        assert len(responses) == 1
        response_id = responses[0]["id"]

        def response_done() -> str | None:
            state = run_state(client, response_id)
            return state if state in ("COMPLETED", "FAILED", "CRASHED") else None

        response_state = wait_for(response_done, 90, "the response run")
        assert response_state == "COMPLETED", serve.tail()

        state = emulator.control("GET", "state")
        user = next(u for u in state["users"] if u["UserName"] == "app-backend")
        policies = [p["PolicyName"] for p in user["Policies"]]
        key = next(k for k in state["access_keys"] if k["AccessKeyId"] == APP_KEY)
        assert "akresponder-deny-high-risk" in policies or key["Status"] == "Inactive"

        with httpx.Client(trust_env=False, timeout=60) as http:
            again = http.post(
                receiver_url + "/alerts/sls", content=alert, headers=headers
            )
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] is True
        assert again.json()["flow_run_id"] == intake_id
        intakes = flow_runs(client, "alert-intake", f"key:{APP_KEY}")
        assert len(intakes) == 1
        responses = flow_runs(client, "respond-to-compromised-key", f"key:{APP_KEY}")
        assert len(responses) == 1

        receiver_log = receiver.tail()
        assert TOKEN not in receiver_log
        assert "status=202" in receiver_log
        assert "status=200" in receiver_log

    elapsed = time.monotonic() - began
    print(f"end-to-end alert to containment took {elapsed:.1f} s")
