"""Input checks of respond, undo and sweep: one line, exit 2, no cloud call.

Every case runs ``akresponder.cli.main`` against the emulator and checks that the
responder's key signed no request, so a bad path or number stops the command
before the triage starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akresponder.cli import main
from tests.respond_support import (
    APP_KEY,
    CI_KEY_A,
    RESPONDER_KEY,
    requests_by,
    responder_emulator,
)

REPO = Path(__file__).resolve().parent.parent
README = str(REPO / "README.md")


def _usage_error(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Run ``argv`` and return its one stderr line; check exit 2 and no request."""
    with responder_emulator(monkeypatch) as running:
        status = main(argv)
        lines = [line for line in capsys.readouterr().err.splitlines() if line]
        assert status == 2
        assert len(lines) == 1, lines
        assert requests_by(running, RESPONDER_KEY) == []
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["respond", CI_KEY_A, "--lookback-days", "0"],
            "invalid --lookback-days '0': expected a whole number from 1 to 90",
        ),
        (
            ["respond", CI_KEY_A, "--lookback-days", "91"],
            "invalid --lookback-days '91': expected a whole number from 1 to 90",
        ),
        (
            ["respond", CI_KEY_A, "--approval-timeout", "0"],
            "invalid --approval-timeout '0': expected a whole number from 1 to 604800",
        ),
        (
            ["sweep", "--users-per-batch", "0"],
            "invalid --users-per-batch '0': expected a whole number from 1 to 5000",
        ),
        (
            ["sweep", "--ram-calls-per-second", "0"],
            "invalid --ram-calls-per-second '0.0': expected a number greater than 0 "
            "and at most 10000",
        ),
    ],
)
def test_cli_numbers_name_option_and_range(
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = _usage_error(argv, capsys, monkeypatch)

    assert expected in line
    assert "Input should be" not in line


def test_cli_sweep_settings_file_value_named(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = tmp_path / "sweep.json"
    settings.write_text(json.dumps({"users_per_batch": 0}))

    line = _usage_error(
        ["sweep", "--settings-file", str(settings)], capsys, monkeypatch
    )

    assert f"invalid users_per_batch 0 in --settings-file {settings}" in line
    assert "expected a whole number from 1 to 5000" in line


def test_cli_paths_checked_before_calls(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cases = [
        (
            ["respond", APP_KEY, "--state-dir", README, "--dry-run"],
            f"invalid --state-dir {README}: {README} is a file, not a folder",
        ),
        (
            ["respond", APP_KEY, "--state-dir", f"{README}/incidents", "--dry-run"],
            f"{README} is a file, so the folder {README}/incidents cannot be created",
        ),
        (
            ["respond", APP_KEY, "--report", str(tmp_path), "--dry-run"],
            f"invalid --report {tmp_path}: {tmp_path} is a folder; give a file path",
        ),
        (
            ["respond", APP_KEY, "--report", f"{README}/r.json", "--dry-run"],
            f"invalid --report {README}/r.json: {README} is a file",
        ),
        (
            ["respond", APP_KEY, "--secret-sink", f"file:{README}"],
            f"invalid --secret-sink file:{README}: {README} is a file, not a folder",
        ),
        (
            ["sweep", "--report", str(tmp_path)],
            f"invalid --report {tmp_path}: {tmp_path} is a folder",
        ),
        (
            ["sweep", "--settings-file", str(tmp_path)],
            f"invalid --settings-file {tmp_path}: {tmp_path} is a folder",
        ),
        (
            ["sweep", "--settings-file", str(tmp_path / "missing.json")],
            "missing.json: file not found",
        ),
    ]
    for argv, expected in cases:
        line = _usage_error(argv, capsys, monkeypatch)

        assert expected in line, argv
        assert "Errno" not in line, argv


def test_cli_undo_rejects_non_reports(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    incomplete = tmp_path / "r.json"
    incomplete.write_text(json.dumps({"schema_version": "1.1", "dry_run": False}))
    undo_record = tmp_path / "report.undo.json"
    undo_record.write_text(
        json.dumps(
            {
                "schema_version": "1.1",
                "incident_id": "inc-1",
                "access_key_id": APP_KEY,
                "source_report": "/reports/report.json",
                "actions": [],
            }
        )
    )
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    cases = [
        (
            [str(incomplete)],
            f"report {incomplete} is not an akresponder report: missing "
            "incident_id, access_key_id, owner, decision and 1 more; "
            "give a report written by akresponder respond",
        ),
        (
            [str(tmp_path)],
            f"report {tmp_path} is a folder, not a file; give the report's JSON file",
        ),
        (
            [str(undo_record)],
            "is an undo report, not a response report; give the report it was "
            "made from: /reports/report.json",
        ),
        ([str(listed)], "it contains a JSON list, not an object"),
    ]
    for argv, expected in cases:
        line = _usage_error(["undo", *argv, "--auto-approve"], capsys, monkeypatch)

        assert expected in line, argv
        assert "validation error" not in line, argv


def test_cli_undo_state_dir_must_be_folder(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from akresponder.report import write_report
    from tests.test_report import sample_report

    report = write_report(sample_report(), tmp_path / "report.json")

    line = _usage_error(
        ["undo", str(report), "--state-dir", README], capsys, monkeypatch
    )

    assert f"invalid --state-dir {README}: {README} is a file, not a folder" in line


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_cli_dry_run_report_kept(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    state = tmp_path / "incidents"
    common = ["--state-dir", str(state), "--secret-sink", f"file:{tmp_path / 's'}"]
    with responder_emulator(monkeypatch) as running:
        assert main(["respond", CI_KEY_A, "--dry-run", *common]) == 0
        planned_out = capsys.readouterr().out
        assert main(["respond", CI_KEY_A, "--auto-approve", *common]) == 0
        real_out = capsys.readouterr().out

        dry_path = state / f"{CI_KEY_A}.dry-run.report.json"
        real_path = state / f"{CI_KEY_A}.report.json"
        assert f"Report: {dry_path}" in planned_out
        assert "Path: delete (dry run: nothing was changed)" in planned_out
        assert f"Report: {real_path}" in real_out
        planned = json.loads(dry_path.read_text())
        done = json.loads(real_path.read_text())
        assert planned["dry_run"] is True
        assert {action["status"] for action in planned["actions"]} == {"planned"}
        assert not any(
            "disabled now" in text for text in planned["decision"]["reasons"]
        )
        assert done["dry_run"] is False
        assert CI_KEY_A not in running.cloud.access_keys
