"""The akresponder command line: argument checks, exit status, and a full run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from akresponder.cli import main
from tests.respond_support import (
    APP_SECRET,
    CI_KEY_A,
    RESPONDER_KEY,
    requests_by,
    responder_emulator,
)

REPO = Path(__file__).resolve().parent.parent


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["respond", "bad key"], "'bad key' contains whitespace"),
        (["respond", "AKIAIOSFODNN7EXAMPLE"], "invalid AccessKey ID 'AKIAIOSFODNN7"),
        (["respond", "STS.NUnknownSessionKey1"], "temporary STS key"),
        (
            ["respond", CI_KEY_A, "--lookback-days", "91"],
            "invalid --lookback-days '91': expected a whole number from 1 to 90",
        ),
        (["respond", CI_KEY_A, "--secret-sink", "s3:bucket"], "invalid secret_sink"),
        (
            ["sweep", "--users-per-batch", "0"],
            "invalid --users-per-batch '0': expected a whole number from 1 to 5000",
        ),
        (["alert", "/nonexistent/alert.json"], "cannot read /nonexistent/alert.json"),
        (
            ["respond", "not-a-key"],
            "invalid AccessKey ID 'not-a-key': expected 'LTAI' followed by",
        ),
        (
            ["respond"],
            "respond: missing ACCESS_KEY_ID; run 'akresponder respond --help'",
        ),
        (
            ["respond", CI_KEY_A, "--mode", "bogus"],
            "respond: invalid --mode 'bogus': expected one of 'auto', 'delete'",
        ),
        (
            ["respond", CI_KEY_A, "--lookback-days", "ten"],
            "respond: invalid --lookback-days 'ten': expected a whole number",
        ),
        (["respond", CI_KEY_A, "--state-dir"], "missing value for --state-dir"),
        (["respond", CI_KEY_A, "--colour"], "unknown arguments --colour; run"),
        (["respnd", CI_KEY_A], "unknown command 'respnd': expected one of 'respond'"),
        (
            ["sweep", "--users-per-batch", "x"],
            "sweep: invalid --users-per-batch 'x': expected a whole number",
        ),
    ],
)
def test_cli_usage_errors_exit_2(
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with responder_emulator(monkeypatch) as running:
        status = main(argv)

        lines = stderr_lines(capsys)
        assert status == 2
        assert len(lines) == 1, lines
        assert lines[0].startswith("akresponder: ")
        assert expected in lines[0]
        assert requests_by(running, RESPONDER_KEY) == []


def test_cli_secret_given_as_key_not_echoed(capsys: pytest.CaptureFixture) -> None:
    status = main(["respond", APP_SECRET])

    lines = stderr_lines(capsys)
    assert status == 2
    assert "looks like an AccessKeySecret" in lines[0]
    assert APP_SECRET not in lines[0]


def test_cli_without_command_shows_help(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "respond" in capsys.readouterr().err


def test_cli_policy_prints_minimal_policy(capsys: pytest.CaptureFixture) -> None:
    status = main(["policy"])

    policy = json.loads(capsys.readouterr().out)
    actions = {action for item in policy["Statement"] for action in item["Action"]}
    assert status == 0
    assert policy["Version"] == "1"
    assert {"ram:UpdateAccessKey", "ram:DeletePolicy", "actiontrail:LookupEvents"} <= (
        actions
    )


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_cli_respond_and_undo(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    report = tmp_path / "out" / "report.json"
    with responder_emulator(monkeypatch) as running:
        status = main(
            [
                "respond",
                CI_KEY_A,
                "--state-dir",
                str(tmp_path / "state"),
                "--report",
                str(report),
            ]
        )
        captured = capsys.readouterr()
        err_lines = [line for line in captured.err.splitlines() if line.strip()]

        assert status == 3
        assert f"Report: {report}" in captured.out
        assert "Path: delete" in captured.out
        assert err_lines[-1].startswith("akresponder: response incomplete")
        assert "--auto-approve" in err_lines[-1]
        assert running.cloud.access_keys[CI_KEY_A].status == "Inactive"

        status = main(["undo", str(report), "--auto-approve"])
        captured = capsys.readouterr()

        assert status == 0
        assert "Undo report:" in captured.out
        assert running.cloud.access_keys[CI_KEY_A].status == "Active"

        status = main(
            [
                "respond",
                CI_KEY_A,
                "--auto-approve",
                "--state-dir",
                str(tmp_path / "state"),
                "--report",
                str(report),
            ]
        )

        assert status == 0
        assert "Complete: yes" in capsys.readouterr().out
        assert CI_KEY_A not in running.cloud.access_keys


@pytest.mark.slow
def test_cli_process_one_line_on_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A real ``python -m akresponder`` run in ephemeral mode whose key is missing."""
    with responder_emulator(monkeypatch) as running:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PREFECT_") and name != "PYTEST_CURRENT_TEST"
        }
        env["PREFECT_HOME"] = str(tmp_path / "prefect")
        env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "akresponder",
                "respond",
                "LTAI5tDOESNOTEXIST000001",
                "--state-dir",
                str(tmp_path / "state"),
                "--no-billing",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )

        err_lines = [line for line in completed.stderr.splitlines() if line.strip()]
        assert completed.returncode == 3, completed.stderr[-2000:]
        assert len(err_lines) == 1, err_lines
        assert "a person must act" in err_lines[0]
        assert "Path: manual" in completed.stdout
        assert requests_by(running, RESPONDER_KEY)
