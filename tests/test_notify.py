"""Notifications through Prefect blocks to a webhook server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook

from akresponder import notify

APP_KEY = "LTAI5tAPPBACKEND00000001"
TOKEN = "dtRobotAccessToken0000000000000000000001"


class WebhookServer:
    """An HTTP server that records every POST and replies with ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                owner.requests.append(
                    {"path": self.path, "body": body, "headers": dict(self.headers)}
                )
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def json_bodies(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    try:
        yield server
    finally:
        server.stop()


def custom_block(server: WebhookServer) -> CustomWebhookNotificationBlock:
    return CustomWebhookNotificationBlock(
        name="secops",
        url=server.url + "/hook?token={{token}}",
        json_data={"subject": "{{subject}}", "text": "{{body}}"},
        secrets={"token": TOKEN},
    )


def test_notify_started_custom_webhook(webhook: WebhookServer) -> None:
    deliveries = notify.notify_started(
        APP_KEY,
        "inc-1",
        mode="auto",
        alert_summary="SLS alert fired.",
        blocks=[custom_block(webhook)],
    )

    assert deliveries == [notify.Delivery("CustomWebhookNotificationBlock", True)]
    body = webhook.json_bodies()[0]
    assert body["subject"] == f"akresponder: response started for {APP_KEY} (inc-1)"
    assert "Alert: SLS alert fired." in body["text"]
    assert "Flow run: (set PREFECT_UI_URL for a link)" in body["text"]
    assert webhook.requests[0]["path"] == f"/hook?token={TOKEN}"


def test_notify_dingtalk_markdown(webhook: WebhookServer) -> None:
    block = notify.dingtalk_webhook_block(
        TOKEN, url=webhook.url + "/robot/send?access_token={{access_token}}"
    )

    deliveries = notify.notify_approval_needed(
        APP_KEY,
        "inc-2",
        "Delete AccessKey LTAI5tAPPBACKEND00000001?",
        timeout_seconds=600,
        blocks=[block],
    )

    assert deliveries[0].sent
    body = webhook.json_bodies()[0]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("akresponder: approval needed")
    assert "Without an answer in 600 s the answer is deny." in body["markdown"]["text"]
    query = urllib.parse.urlparse(webhook.requests[0]["path"]).query
    assert urllib.parse.parse_qs(query) == {"access_token": [TOKEN]}


def test_notify_slack_block_through_apprise(webhook: WebhookServer) -> None:
    # Apprise's json:// scheme posts the message as JSON to a local server in
    # place of Slack's, and the SlackWebhook block's Apprise path still runs.
    port = webhook.url.rsplit(":", 1)[1]
    block = SlackWebhook(url=f"json://127.0.0.1:{port}/slack")

    deliveries = notify.notify_finished(
        {"access_key_id": APP_KEY, "incident_id": "inc-3", "complete": True},
        blocks=[block],
    )

    assert deliveries[0].sent
    body = webhook.json_bodies()[0]
    assert body["title"] == f"akresponder: response finished for {APP_KEY} (inc-3)"
    assert "Complete: yes" in body["message"]


def test_notify_failure_logged_not_raised(
    webhook: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.status = 500

    with caplog.at_level(logging.WARNING, logger="akresponder.notify"):
        deliveries = notify.notify_started(
            APP_KEY, "inc-4", blocks=[custom_block(webhook)]
        )

    assert deliveries[0].sent is False
    assert "500" in deliveries[0].error
    assert TOKEN not in deliveries[0].error
    assert "notification failed" in caplog.text
    assert TOKEN not in caplog.text


def test_notify_block_name_needs_type() -> None:
    deliveries = notify.send("subject", "body", ["secops"])

    assert deliveries[0].sent is False
    assert "<block type slug>/<name>" in deliveries[0].error


def test_notify_finished_body_lists_outcome(webhook: WebhookServer) -> None:
    report = {
        "access_key_id": APP_KEY,
        "incident_id": "inc-5",
        "complete": False,
        "dry_run": False,
        "owner": {"type": "ram-user", "user_name": "app-backend"},
        "decision": {"path": "contain"},
        "actions": [{"status": "done"}, {"status": "done"}, {"status": "skipped"}],
        "findings": [{}, {}],
        "next_steps": [f"step {n}" for n in range(1, 8)]
        + ["AccessKeySecret=zzSecretInANextStep000000000001"],
        "report_path": "/tmp/report.json",
    }

    notify.notify_finished(report, blocks=[custom_block(webhook)])

    body = webhook.json_bodies()[0]
    assert body["subject"] == (
        f"akresponder: response needs a person for {APP_KEY} (inc-5)"
    )
    text = body["text"]
    assert "Owner: ram-user app-backend" in text
    assert "Path: contain" in text
    assert "Actions: 2 done, 1 skipped" in text
    assert "Findings: 2" in text
    assert "5. step 5" in text
    assert "6. step 6" not in text
    assert "(3 more in the report)" in text


def test_notify_masks_secret_in_text(webhook: WebhookServer) -> None:
    notify.send(
        "akresponder: test",
        "AccessKeySecret=zzSecretInAMessageBody00000000001",
        [custom_block(webhook)],
    )

    assert "zzSecretInAMessageBody00000000001" not in webhook.requests[0]["body"]


def test_run_url_uses_ui_url() -> None:
    from prefect.settings import PREFECT_UI_URL, temporary_settings

    run_id = uuid.uuid4()
    with temporary_settings({PREFECT_UI_URL: "http://127.0.0.1:4200"}):
        link = notify.run_url(run_id)

    assert link == f"http://127.0.0.1:4200/runs/flow-run/{run_id}"


def test_run_url_outside_flow_is_none() -> None:
    assert notify.run_url() is None


def test_configured_blocks_from_env_and_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Settings:
        notification_blocks = ["slack-webhook/secops"]

    monkeypatch.delenv(notify.ENV_NOTIFY_BLOCKS, raising=False)
    assert notify.configured_blocks() == []
    assert notify.configured_blocks(Settings()) == ["slack-webhook/secops"]

    monkeypatch.setenv(notify.ENV_NOTIFY_BLOCKS, " custom-webhook/a, ,slack-webhook/b")
    assert notify.configured_blocks(Settings()) == [
        "custom-webhook/a",
        "slack-webhook/b",
    ]


@pytest.mark.usefixtures("prefect_harness")
def test_notify_saved_block_by_name(
    webhook: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom_block(webhook).save("akresponder-test-secops", overwrite=True)
    monkeypatch.setenv(
        notify.ENV_NOTIFY_BLOCKS, "custom-webhook/akresponder-test-secops"
    )

    deliveries = notify.notify_started(APP_KEY, "inc-6", dry_run=True)

    assert deliveries == [
        notify.Delivery("custom-webhook/akresponder-test-secops", True)
    ]
    assert "dry run started" in webhook.json_bodies()[0]["subject"]
