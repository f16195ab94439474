"""``akresponder alert``: a payload file in, one line per key out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akresponder.cli import main
from tests.respond_support import APP_KEY, responder_emulator

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATA = Path(__file__).parent / "data" / "alerts"


def test_cli_alert_starts_dry_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps({"access_key_ids": ["LTAI5tCLIALERT0000000001"]}))

    with responder_emulator(monkeypatch):
        status = main(
            ["alert", str(payload), "--dry-run", "--state-dir", str(tmp_path)]
        )

    out = capsys.readouterr().out
    # No RAM user owns the key: the response plans the manual path, which
    # needs a person, as akresponder respond reports with exit status 3.
    assert status == 3
    assert "LTAI5tCLIALERT0000000001: started incident=inc-" in out
    assert "path=manual complete=no" in out
    assert "path manual" in out


def test_cli_alert_bad_payload_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = tmp_path / "alert.json"
    payload.write_text('{"hello": "world", "password": "zzPasswordInAlert0001"}')

    status = main(["alert", str(payload)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("akresponder: alert object with fields hello, password")
    assert "zzPasswordInAlert0001" not in err


def test_cli_alert_ignored_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = json.loads((DATA / "github_secret_scanning_rest.json").read_text())
    alert["action"] = "resolved"
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(alert))

    status = main(["alert", str(payload), "--source", "github"])

    assert status == 0
    assert "Alert ignored:" in capsys.readouterr().out


def test_cli_receiver_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AKRESPONDER_RECEIVER_TOKEN", raising=False)
    monkeypatch.delenv("AKRESPONDER_GITHUB_WEBHOOK_SECRET", raising=False)

    status = main(["receiver", "--port", "0"])

    assert status == 2
    assert "no sender can authenticate" in capsys.readouterr().err


def test_cli_alert_id_matches_receiver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from akresponder.alerts import parse_alert
    from deployments.receiver import _idempotency_key

    # STS keys are skipped, so the intake starts no response and stays fast.
    leaks = json.loads((DATA / "sas_leak_list.json").read_text())
    leaks["AccessKeyLeakList"][0]["AccesskeyId"] = "STS.NUgYrLnoC37mZZCNnAbez1"
    leaks["AccessKeyLeakList"][1]["AccesskeyId"] = "STS.NUgYrLnoC37mZZCNnAbez2"
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(leaks))
    receiver_id, _ = _idempotency_key(parse_alert(leaks))

    status = main(["alert", str(payload), "--state-dir", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 0
    assert receiver_id.startswith("sha256-")
    assert out.startswith(f"Alert {receiver_id}\n")


def test_cli_alert_source_help_matches_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from akresponder.alerts import SOURCE_ALIASES, describe_sources

    main(["alert", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    status = main(["alert", str(DATA / "plain.json"), "--source", "pagerduty"])
    error = capsys.readouterr().err

    assert status == 2
    assert f"sender of the payload: {describe_sources()}" in help_text
    assert f"use one of {describe_sources()}, or none" in error
    for name in SOURCE_ALIASES:
        assert name in describe_sources()


@pytest.mark.parametrize("alias", ["eventbridge", "cms", "security-center", "log"])
def test_cli_alert_accepts_source_alias(
    alias: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = tmp_path / "alert.json"
    payload.write_text('{"hello": "world"}')

    status = main(["alert", str(payload), "--source", alias])

    err = capsys.readouterr().err
    assert status == 2
    assert "unknown alert source" not in err


def test_cli_alert_invalid_id_others_respond(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = tmp_path / "alert.json"
    payload.write_text(
        json.dumps({"access_key_ids": ["LTAI5tCLIALERT0000000002", "not-a-key"]})
    )

    with responder_emulator(monkeypatch):
        status = main(
            ["alert", str(payload), "--dry-run", "--state-dir", str(tmp_path)]
        )

    out = capsys.readouterr().out
    # The valid key's response plans the manual path, whose status 3 comes
    # before the 2 of the rejected entry.
    assert status == 3
    assert "LTAI5tCLIALERT0000000002: started incident=inc-" in out
    assert "  access_key_ids[1]: rejected\n" in out
    assert "access_key_ids[1]: invalid AccessKey ID 'not-a-key'" in out


def test_cli_alert_attached_manual_exit_3(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No RAM user owns this key, so its response takes the manual path.
    key_id = "LTAI5tATTACHMANUAL000001"
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps({"access_key_id": key_id}))
    arguments = ["alert", str(payload), "--auto-approve", "--state-dir", str(tmp_path)]

    with responder_emulator(monkeypatch):
        first = main(arguments)
        first_out = capsys.readouterr().out
        second = main(arguments)
        second_out = capsys.readouterr().out

    assert first == 3
    assert f"{key_id}: started " in first_out
    assert "state=completed path=manual complete=no" in first_out
    assert second == 3
    assert f"{key_id}: attached " in second_out
    assert "state=completed path=manual complete=no" in second_out
    assert "completed at" in second_out


def outcome(action: str, **fields: object) -> dict:
    return {
        "access_key_id": APP_KEY if action != "rejected" else "",
        "action": action,
        "incident_id": "inc-1",
        "flow_run_id": None,
        "location": "access_key_ids[1]" if action == "rejected" else "",
        **fields,
    }


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([outcome("started", response_state="SCHEDULED")], 0),
        ([outcome("attached", response_state="RUNNING")], 0),
        ([outcome("skipped")], 0),
        ([outcome("attached", response_state="COMPLETED", response_complete=True)], 0),
        ([outcome("attached", response_state="COMPLETED", response_complete=False)], 3),
        ([outcome("attached", response_state="PAUSED")], 3),
        ([outcome("started", response_complete=True), outcome("rejected")], 2),
        ([outcome("started", response_complete=False), outcome("rejected")], 3),
        ([outcome("failed"), outcome("attached", response_complete=False)], 1),
    ],
)
def test_exit_status_table(outcomes: list[dict], expected: int) -> None:
    from flows.alert_intake import exit_status

    assert exit_status(outcomes) == expected


def test_outcome_line_shapes() -> None:
    from flows.alert_intake import outcome_line

    attached = outcome(
        "attached",
        response_state="COMPLETED",
        response_path="contain",
        response_complete=True,
    )
    running = outcome("attached", response_state="RUNNING")

    assert outcome_line(attached) == (
        f"{APP_KEY}: attached incident=inc-1 flow_run=- state=completed "
        "path=contain complete=yes"
    )
    assert outcome_line(running).endswith("state=running path=- complete=-")
    assert outcome_line(outcome("rejected")) == "access_key_ids[1]: rejected"
    assert outcome_line(outcome("skipped")) == (
        f"{APP_KEY}: skipped incident=inc-1 flow_run=-"
    )


def test_response_from_report_reads_newest(tmp_path: Path) -> None:
    import os

    from flows.alert_intake import response_from_report

    dry = tmp_path / f"{APP_KEY}.inc-9.dry-run.report.json"
    real = tmp_path / f"{APP_KEY}.inc-9.report.json"
    dry.write_text(json.dumps({"decision": {"path": "manual"}, "complete": False}))
    real.write_text(json.dumps({"decision": {"path": "contain"}, "complete": True}))
    os.utime(dry, (1_000_000, 1_000_000))

    assert response_from_report(tmp_path, APP_KEY, "inc-9") == ("contain", True)
    assert response_from_report(tmp_path, APP_KEY, "inc-8") == (None, None)
    real.write_text("{not json")
    os.utime(real, (2_000_000, 2_000_000))
    os.utime(dry, (3_000_000, 3_000_000))
    assert response_from_report(tmp_path, APP_KEY, "inc-9") == ("manual", False)
