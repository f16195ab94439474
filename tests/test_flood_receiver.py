"""The receiver under alerts that share an alert id: one run per key, repeats deduped.

An SLS alert rule with group evaluation sends one alert per AccessKey ID with the
same rule and fire time. The receiver creates runs of a deployment that no runner
executes, in the session's Prefect test server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from bench.alert_flood import GROUP_RULE, sls_alert
from deployments.receiver import AlertReceiver, ReceiverConfig, prefect_api_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

TOKEN = "floodReceiverToken0000000000002"
KEY_A = "LTAI5tFLOODRECEIVER0001A"
KEY_B = "LTAI5tFLOODRECEIVER0002B"
FIRE_TIME = 1790000000


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    from flows.alert_intake import alert_intake

    alert_intake.to_deployment(name="flood-receiver-test").apply()
    api_url, headers = prefect_api_settings()
    server = AlertReceiver(
        ReceiverConfig(
            token=TOKEN,
            deployment="alert-intake/flood-receiver-test",
            port=0,
            api_url=api_url,
            api_headers=headers,
        )
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def post(server: AlertReceiver, payload: dict) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=60) as client:
        return client.post(
            server.url + "/alerts/sls",
            content=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )


def test_receiver_grouped_alerts_start_run_each(receiver: AlertReceiver) -> None:
    first = post(receiver, sls_alert(KEY_A, GROUP_RULE, "group-a", FIRE_TIME))
    second = post(receiver, sls_alert(KEY_B, GROUP_RULE, "group-b", FIRE_TIME))

    assert first.status_code == 202, first.text
    assert second.status_code == 202, second.text
    assert first.json()["alert_id"] == second.json()["alert_id"]
    assert first.json()["flow_run_id"] != second.json()["flow_run_id"]


def test_receiver_grouped_alert_repeat_is_duplicate(receiver: AlertReceiver) -> None:
    payload = sls_alert(KEY_A, GROUP_RULE, "group-a", FIRE_TIME + 60)

    first = post(receiver, payload)
    again = post(receiver, payload)

    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
