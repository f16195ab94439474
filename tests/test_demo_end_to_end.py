"""``akresponder demo`` from the command line, as a new user runs it.

One run in a subprocess with ``--keep-running``: it starts Prefect's ephemeral server
with a fresh database (20-40 s on 2 cores), so the checks share it. The emulator it
leaves running is inspected through its control plane and then stopped by pid.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from akresponder.demo_scenario import LEAKED_KEY_ID, LEAKED_USER, SHIPPED_SCENARIO
from emulator.testing import PROXY_VARIABLES, control_request

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "docs" / "report.schema.json"
DEMO_TIMEOUT_SECONDS = 400
KEEP_RUNNING = re.compile(r"The emulator keeps running at (\S+) \(pid (\d+)\)\.")
# Step 1 prints this line as soon as the emulator listens.
EMULATOR_LINE = re.compile(
    r"^\s+(http://127\.0\.0\.1:\d+) \(pid (\d+)\)$", re.MULTILINE
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(DEMO_TIMEOUT_SECONDS + 60)]


class DemoRun:
    """The finished demo: its output, its folder and the emulator it left running."""

    def __init__(
        self, result: subprocess.CompletedProcess[str], out: Path, timed_out: bool
    ) -> None:
        self.result = result
        self.out = out
        self.timed_out = timed_out
        # The emulator's pid comes from step 1, so that it is stopped even when the
        # demo failed or was killed later.
        started = EMULATOR_LINE.search(result.stdout)
        self.pid = int(started.group(2)) if started else None
        still_running = KEEP_RUNNING.search(result.stdout)
        self.url = still_running.group(1) if still_running else None

    def field(self, label: str) -> str:
        """Return the value printed after ``label:`` in the summary."""
        match = re.search(rf"^\s*{label}:\s+(.+)$", self.result.stdout, re.MULTILINE)
        assert match, f"no {label}: line in the demo output:\n{self.result.stdout}"
        return match.group(1).strip()

    def stop_emulator(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)


def scenario_secrets() -> list[str]:
    """Return every AccessKeySecret of the shipped scenario."""
    data = json.loads(SHIPPED_SCENARIO.read_text())
    keys = [key for user in data["users"] for key in user["AccessKeys"]]
    keys += data.get("root_access_keys", [])
    return [key["AccessKeySecret"] for key in keys]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in PROXY_VARIABLES and name != "PREFECT_API_URL"
    }
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        }
    )
    command = [
        sys.executable,
        *("-m", "akresponder", "demo", "--out", str(out), "--keep-running"),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=DEMO_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.kill()
        stdout, stderr = process.communicate()
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    run = DemoRun(result, out, timed_out)
    try:
        yield run
    finally:
        run.stop_emulator()


def test_demo_exits_0_with_summary(demo: DemoRun) -> None:
    output = demo.result.stdout + demo.result.stderr

    assert not demo.timed_out, f"no exit in {DEMO_TIMEOUT_SECONDS} s: {output[-4000:]}"
    assert demo.result.returncode == 0, output[-4000:]
    assert "[5/5] Report" in demo.result.stdout
    assert demo.field("Decision") == "contain"
    assert demo.field("Complete") == "yes"
    assert "Approval needed: Detach System policy AdministratorAccess" in output
    assert "-> yes (akresponder demo)" in output
    assert re.search(r"the responder made \d+ LookupEvents calls", output)
    assert re.search(
        r"attributable to the compromised credentials: [\d,.]+ CNY", output
    )
    assert re.search(r"Demo finished in \d+ s\.", demo.result.stdout)


def test_demo_pictures_and_evidence_exist(demo: DemoRun) -> None:
    pictures = demo.field("Pictures").split(", ")
    evidence = Path(demo.field("Evidence"))

    assert pictures != ["none"], demo.result.stdout[-4000:]
    for picture in pictures:
        assert Path(picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    assert (evidence / "manifest.json").is_file()
    assert evidence.is_relative_to(demo.out)


def test_demo_report_matches_schema(demo: DemoRun) -> None:
    report_path = Path(demo.field("JSON"))
    report = json.loads(report_path.read_text())
    schema = json.loads(SCHEMA.read_text())

    jsonschema.validate(report, schema)
    assert report["access_key_id"] == LEAKED_KEY_ID
    assert report["owner"]["user_name"] == LEAKED_USER
    assert report["decision"]["path"] == "contain"
    assert report_path.is_relative_to(demo.out)
    assert Path(demo.field("Markdown")).is_file()


def test_demo_contained_key_in_emulator(demo: DemoRun) -> None:
    assert demo.url is not None, demo.result.stdout[-4000:]
    state = control_request(demo.url, "GET", "/__emu/state")

    users = {user["UserName"]: user for user in state["users"]}
    policies = json.dumps(users[LEAKED_USER])
    assert "akresponder-deny-high-risk" in policies
    assert "AdministratorAccess" not in policies
    assert "benjamin" in users


def test_demo_leaks_no_scenario_secret(demo: DemoRun) -> None:
    secrets = scenario_secrets()
    assert len(secrets) == 3
    output = demo.result.stdout + demo.result.stderr

    for secret in secrets:
        assert secret not in output, f"secret {secret[:4]}... in the demo's output"
    files = [path for path in demo.out.rglob("*") if path.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"secret {secret[:4]}... in {path}"


def test_demo_private_folders(demo: DemoRun) -> None:
    runs = sorted(demo.out.glob("run-*"))
    assert len(runs) == 1
    for name in ("incidents", "secrets", "evidence"):
        mode = stat.S_IMODE((runs[0] / name).stat().st_mode)
        assert mode == 0o700, f"{name} has mode {oct(mode)}"
    for path in (runs[0] / "secrets").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
