"""The response flow tags its own run and notifies its start and its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.respond_support import APP_KEY, CI_KEY_A, respond, responder_emulator
from tests.test_notify import WebhookServer, custom_block

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_respond_tags_run_and_notifies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    webhook = WebhookServer()
    try:
        custom_block(webhook).save("respond-notify-test", overwrite=True)
        monkeypatch.setenv(
            "AKRESPONDER_NOTIFY_BLOCKS",
            "custom-webhook/respond-notify-test",
        )
        with responder_emulator(monkeypatch):
            report = respond(tmp_path, APP_KEY, rotatable_now="no")
        subjects = [body["subject"] for body in webhook.json_bodies()]
    finally:
        webhook.stop()

    assert any("response started" in subject for subject in subjects)
    assert any(f"for {APP_KEY}" in subject for subject in subjects)
    assert any("finished" in s or "needs a person" in s for s in subjects)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"incident:{report['incident_id']}"])
            )
        )
    assert len(runs) == 1
    assert f"key:{APP_KEY}" in runs[0].tags


@pytest.mark.slow
def test_respond_notifies_approval_needed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook = WebhookServer()
    try:
        custom_block(webhook).save("respond-approval-test", overwrite=True)
        monkeypatch.setenv(
            "AKRESPONDER_NOTIFY_BLOCKS",
            "custom-webhook/respond-approval-test",
        )
        with responder_emulator(monkeypatch):
            respond(
                tmp_path,
                CI_KEY_A,
                approval={
                    "pause_without_deployment": True,
                    "timeout_seconds": 2,
                    "poll_interval_seconds": 1,
                },
            )
        bodies = webhook.json_bodies()
    finally:
        webhook.stop()

    approvals = [body for body in bodies if "approval needed" in body["subject"]]
    assert approvals
    assert CI_KEY_A in approvals[0]["subject"]
    assert "Without an answer in 2 s the answer is deny." in approvals[0]["text"]
