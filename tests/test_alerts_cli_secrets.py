"""``akresponder alert`` stores no secret of the payload in Prefect.

Prefect stores a flow run's parameters when it creates the run, so the payload must
be masked before ``alert_intake`` is called. These tests read the stored parameters
back through the Prefect API of the session's server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from akresponder.cli import main
from flows.alert_intake import alert_intake
from tests.respond_support import APP_KEY, responder_emulator

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATA = Path(__file__).parent / "data" / "alerts"
ATTACKER_SECRET = "atSecretAttackerMade00000000001"
APP_SECRET = "abSecretAppBackendKey00000000001"


def intake_parameters() -> list[dict[str, Any]]:
    """Return the stored parameters of every alert-intake run, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["alert-intake"])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
    return [run.parameters for run in runs]


def stored_with(marker: str) -> list[str]:
    """Return the stored parameters, as JSON text, of the runs that contain marker."""
    texts = [json.dumps(parameters) for parameters in intake_parameters()]
    return [text for text in texts if marker in text]


def test_cli_alert_stores_no_payload_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with responder_emulator(monkeypatch):
        for name in ("eventbridge_actiontrail.json", "github_partner.json"):
            main(
                [
                    "alert",
                    str(DATA / name),
                    "--dry-run",
                    "--state-dir",
                    str(tmp_path),
                ]
            )

    out = capsys.readouterr().out
    assert f"{APP_KEY}: " in out
    eventbridge = stored_with("45ef4dewdwe1-7c35-447a-bd93-fab000000001")
    assert eventbridge
    assert ATTACKER_SECRET not in eventbridge[0]
    assert "LTAI5tATTACKER000000001Z" in eventbridge[0]
    partner = stored_with("alibaba_cloud_access_key_secret")
    assert partner
    assert APP_SECRET not in partner[0]
    assert '"token": "***"' in partner[0]
    for parameters in intake_parameters():
        text = json.dumps(parameters)
        assert ATTACKER_SECRET not in text
        assert APP_SECRET not in text


def test_alert_intake_masks_unmasked_payload() -> None:
    # Only the secret's item: the intake ignores it, so no response starts.
    item = json.loads((DATA / "github_partner.json").read_text())[1]
    item["url"] = "https://github.com/example-org/called-directly/blob/x/a.ini"

    result = alert_intake([item])

    assert result["outcomes"] == []
    stored = stored_with("called-directly/blob/x/a.ini")
    assert len(stored) == 1
    assert APP_SECRET not in stored[0]
    assert '"token": "***"' in stored[0]
