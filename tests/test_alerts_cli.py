"""``akresponder alert``: a payload file in, one line per key out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akresponder.cli import main
from tests.respond_support import responder_emulator

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
    assert status == 0
    assert "LTAI5tCLIALERT0000000001: started incident=inc-" in out
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
    assert status == 2
    assert "LTAI5tCLIALERT0000000002: started incident=inc-" in out
    assert "  access_key_ids[1]: rejected\n" in out
    assert "access_key_ids[1]: invalid AccessKey ID 'not-a-key'" in out
