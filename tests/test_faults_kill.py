"""The response killed with SIGKILL mid-run and started again with the same state dir.

``akresponder respond`` runs as a child process against ``python -m emulator serve``
and the session's Prefect test server. The test watches the emulator's request log
and kills the CLI right after the chosen step's call succeeded, before the CLI can
record it. The same command then runs again and must finish with the right cloud
state, each write made once, and each step once in the report. The one exception
is a rotation killed after CreateAccessKey: its restart replaces the unrecorded key
with a fresh pair (see ``check_process_state``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import EmulatorProcess, start_emulator_process
from tests.fault_support import ACTION_IDS, DENY_POLICY, WRITES
from tests.respond_support import (
    APP_KEY,
    CI_KEY_A,
    CI_KEY_B,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    present_scenario,
)

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
ARGUMENTS: dict[str, list[str]] = {
    "contain": [APP_KEY, "--rotatable", "no"],
    "rotate": [APP_KEY, "--rotatable", "yes", "--auto-approve"],
    "delete": [CI_KEY_A, "--auto-approve"],
}


def cli_environment(emulator: EmulatorProcess, home: Path) -> dict[str, str]:
    """The CLI's environment: the emulator, the responder's key, the test server."""
    from prefect.settings import PREFECT_API_URL

    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PREFECT_") and name != "PYTEST_CURRENT_TEST"
    }
    env.update(
        {
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(home),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": RESPONDER_KEY,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": RESPONDER_SECRET,
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "AKRESPONDER_ENDPOINT": emulator.url,
            "AKRESPONDER_ACTIONTRAIL_RPS": "1000",
            "AKRESPONDER_RETRY_BASE_DELAY": "0.01",
            "AKRESPONDER_RETRY_MAX_DELAY": "0.05",
        }
    )
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
    return env


def command(path: str, folder: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "akresponder",
        "respond",
        *ARGUMENTS[path],
        "--state-dir",
        str(folder / "state"),
        "--report",
        str(folder / "report.json"),
        "--secret-sink",
        f"file:{folder / 'secrets'}",
    ]


def kill_after(
    process: subprocess.Popen[str],
    emulator: EmulatorProcess,
    action: str,
    timeout: float = 120.0,
) -> None:
    """SIGKILL ``process`` once the emulator logged a successful ``action``.

    The emulator logs a call before it sends the response, and the CLI records a
    step only after its task run completed, so the kill lands before the journal
    records the step.

    Fails the test when the process ends first, since then the step never ran.
    """
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        entries = emulator.control("GET", f"requests?since={seen}")["requests"]
        if entries:
            seen = entries[-1]["seq"]
        fired = any(
            entry["action"] == action
            and entry["status"] == 200
            and entry["access_key_id"] == RESPONDER_KEY
            for entry in entries
        )
        if fired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return
        if process.poll() is not None:
            pytest.fail(
                f"the CLI exited with {process.returncode} before {action} happened"
            )
        time.sleep(0.003)
    process.kill()
    pytest.fail(f"{action} did not happen within {timeout} s")


def state_of(emulator: EmulatorProcess) -> dict[str, Any]:
    return emulator.control("GET", "state")


def writes_made(emulator: EmulatorProcess) -> Counter[str]:
    names = {name for counts in WRITES.values() for name in counts}
    return Counter(
        entry["action"]
        for entry in emulator.control("GET", "requests")["requests"]
        if entry["status"] == 200
        and entry["access_key_id"] == RESPONDER_KEY
        and entry["action"] in names
    )


def check_process_state(
    emulator: EmulatorProcess, path: str, report: dict[str, Any], folder: Path
) -> None:
    """Assert the emulator's state, the writes and the report after the restart."""
    state = state_of(emulator)
    users = {user["UserName"]: user for user in state["users"]}
    keys = {key["AccessKeyId"]: key for key in state["access_keys"]}
    action_ids = [action["id"] for action in report["actions"]]
    expected_writes = WRITES[path]
    orphans = [item for item in action_ids if item.startswith("delete-orphan-")]
    if orphans:
        # Killed after CreateAccessKey, before the journal recorded the key: the
        # restart deletes that key, because the journal cannot show that its
        # secret reached the sink whole, and creates a fresh pair. That is one
        # CreateAccessKey and one DeleteAccessKey more than an uninterrupted run.
        action_ids.remove(orphans[0])
        expected_writes = expected_writes + Counter(
            {"CreateAccessKey": 1, "DeleteAccessKey": 1}
        )
    assert len(orphans) <= 1
    assert action_ids == ACTION_IDS[path]
    assert report["complete"] is True, report["next_steps"]
    assert writes_made(emulator) == expected_writes
    if path == "contain":
        names = [item["PolicyName"] for item in users["app-backend"]["Policies"]]
        assert names.count(DENY_POLICY) == 1
        assert users["app-backend"]["LoginProfile"]["MFABindRequired"] is True
        assert keys[APP_KEY]["Status"] == "Active"
    elif path == "rotate":
        owned = users["app-backend"]["AccessKeyIds"]
        delivered = [
            json.loads(item.read_text()) for item in (folder / "secrets").iterdir()
        ]
        assert APP_KEY not in keys
        assert len(owned) == 1
        assert [item["AccessKeyId"] for item in delivered] == owned
    else:
        assert CI_KEY_A not in keys
        assert users["ci-deploy"]["AccessKeyIds"] == [CI_KEY_B]


@pytest.mark.parametrize(
    ("path", "after"),
    [
        ("contain", "CreatePolicy"),
        ("rotate", "CreateAccessKey"),
        ("delete", "UpdateAccessKey"),
        ("delete", "DeleteAccessKey"),
    ],
)
def test_faults_killed_cli_resumes(tmp_path: Path, path: str, after: str) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(present_scenario()))
    with start_emulator_process(scenario) as emulator:
        emulator.control("POST", "config", {"lookup_events_rate_limit": None})
        env = cli_environment(emulator, tmp_path / "prefect")

        first = subprocess.Popen(
            command(path, tmp_path),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        kill_after(first, emulator, after)
        assert first.returncode == -signal.SIGKILL

        second = subprocess.run(
            command(path, tmp_path),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )

        report = json.loads((tmp_path / "report.json").read_text())
        assert second.returncode == 0, second.stderr[-3000:]
        check_process_state(emulator, path, report, tmp_path)
