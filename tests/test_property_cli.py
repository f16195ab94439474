"""Bad input at the command line and the flow's door changes nothing in the cloud.

``akresponder respond '<bad>'`` must exit with status 2 and one line on stderr that
names the value, and the emulator's request log must show no call that changes
anything (in fact, no call at all). The flow itself, handed bad parameters, must fail
before its first write.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from akresponder.approvals import ApprovalSettings
from akresponder.cli import main
from akresponder.config import ConfigurationError, validate_access_key_id
from emulator import registry
from emulator.testing import RunningEmulator, start_emulator
from tests.property_support import ALNUM, BOUNDED, EDGE_TEXT, one_line
from tests.respond_support import (
    APP_KEY,
    APP_SECRET,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    present_scenario,
)

REPO = Path(__file__).resolve().parent.parent
# capsys is read after every example, so sharing it between examples is safe.
CLI_EXAMPLES = settings(
    BOUNDED,
    suppress_health_check=[
        *BOUNDED.suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)
BAD_KEYS = st.one_of(
    st.text(max_size=30),
    st.text(ALNUM, min_size=1, max_size=45),
    st.text(ALNUM + "/.-_ ", max_size=24).map(lambda tail: "LTAI" + tail),
    st.text(ALNUM + "/.-_", max_size=24).map(lambda tail: "STS." + tail),
    EDGE_TEXT,
)


def _write_actions() -> set[tuple[str, str]]:
    """Return every (service, action) the emulator registers as a write call."""
    import emulator.services  # noqa: F401 - registers every service's actions

    return {
        (spec.product, spec.action)
        for spec in registry.POP_ACTIONS.values()
        if spec.event_rw == "Write"
    }


def _calls(running: RunningEmulator) -> list[dict[str, Any]]:
    return running.control("GET", "requests")["requests"]


def _writes(running: RunningEmulator) -> list[dict[str, Any]]:
    writes = _write_actions()
    return [
        entry
        for entry in _calls(running)
        if (entry["service"], entry["action"]) in writes
    ]


@pytest.fixture(scope="module")
def cli_emulator() -> Iterator[RunningEmulator]:
    """One emulator for the module, with the responder's credentials in the env."""
    with pytest.MonkeyPatch.context() as patch:
        with start_emulator(present_scenario()) as running:
            patch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", RESPONDER_KEY)
            patch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", RESPONDER_SECRET)
            patch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
            patch.setenv("AKRESPONDER_ENDPOINT", running.url)
            yield running


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse rejects an unknown choice this way
        status = int(exit_.code or 0)
    return status, capsys.readouterr().err


@CLI_EXAMPLES
@given(key=BAD_KEYS)
def test_cli_bad_key_exits_2(
    cli_emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    key: str,
) -> None:
    try:
        validate_access_key_id(key)
    except ConfigurationError:
        pass
    else:
        assume(False)
    assume(not key.startswith("-"))
    state = tmp_path_factory.mktemp("state")
    before = len(_calls(cli_emulator))

    status, err = _run_main(["respond", key, "--state-dir", str(state)], capsys)

    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("akresponder: ")
    assert one_line(lines[0])
    assert "AccessKey ID" in lines[0] or "AccessKeySecret" in lines[0]
    assert len(_calls(cli_emulator)) == before
    assert list(state.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--lookback-days", "0"], "--lookback-days '0': expected a whole number"),
        (["--lookback-days", "9999"], "from 1 to 90"),
        (["--incident-id", "../../etc/passwd"], "'../../etc/passwd'"),
        (["--incident-id=-x"], "incident_id"),
        (["--secret-sink", "file:"], "secret_sink"),
        (["--secret-sink", "ftp://example"], "'ftp://example'"),
        (["--approval-timeout", "-5"], "timeout"),
    ],
)
def test_cli_bad_option_exits_2(
    cli_emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra: list[str],
    named: str,
) -> None:
    before = len(_calls(cli_emulator))

    status, err = _run_main(
        ["respond", APP_KEY, "--state-dir", str(tmp_path), *extra], capsys
    )

    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2
    assert len(lines) == 1, lines
    assert named in lines[0]
    assert len(_calls(cli_emulator)) == before


def test_cli_secret_as_key_not_echoed(
    cli_emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in (APP_SECRET, f" {APP_SECRET} ", f"'{APP_SECRET}'"):
        status, err = _run_main(["respond", value], capsys)

        assert status == 2
        assert APP_SECRET not in err
        assert "AccessKeySecret" in err
    assert _calls(cli_emulator) == [] or _writes(cli_emulator) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad",
    [
        "LTAI5t../../etc/passwd",
        "STS.NtemporaryKey000001",
        "LTAI5tAPPBACKEND0000000; rm",
    ],
)
def test_cli_process_bad_key_no_call(
    cli_emulator: RunningEmulator, tmp_path: Path, bad: str
) -> None:
    """A real ``python -m akresponder respond '<bad>'`` process."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PREFECT_") and name != "PYTEST_CURRENT_TEST"
    }
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    before = len(_calls(cli_emulator))

    completed = subprocess.run(
        [sys.executable, "-m", "akresponder", "respond", bad, "--state-dir",
         str(tmp_path / "state")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip

    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert len(lines) == 1, lines
    assert repr(bad) in lines[0] or bad in lines[0]
    assert completed.stdout == ""
    assert len(_calls(cli_emulator)) == before
    assert not (tmp_path / "state").exists()


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    "bad",
    ["LTAI5t../../etc/passwd", "STS.NtemporaryKey000001", "LTAI5tAPP BACKEND00001"],
)
def test_flow_bad_parameters_no_write(
    cli_emulator: RunningEmulator, tmp_path: Path, bad: str
) -> None:
    from flows.respond import ResponseRequest, respond_to_compromised_key

    values = {
        "access_key_id": bad,
        "state_dir": str(tmp_path / "state"),
        "secret_sink": f"file:{tmp_path / 'secrets'}",
        "report_path": str(tmp_path / "report.json"),
        "approval": {"auto_approve": True},
        "mode": "delete",
    }
    before = len(_calls(cli_emulator))

    # As a dict, Prefect validates the parameters before the flow body runs.
    with pytest.raises(Exception, match="access_key_id") as raised:
        respond_to_compromised_key(values)
    assert bad in str(raised.value) or repr(bad) in str(raised.value)

    assert _calls(cli_emulator)[before:] == []

    # Built without validation, the flow body runs and must still change nothing.
    unchecked = ResponseRequest.model_construct(
        **{**values, "approval": ApprovalSettings(auto_approve=True)}
    )
    with contextlib.suppress(Exception):
        respond_to_compromised_key(unchecked)
    assert _writes(cli_emulator) == []
    assert not (tmp_path / "secrets").exists()
