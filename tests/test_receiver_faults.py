"""The receiver when Prefect's API fails or deliveries of one alert overlap.

The receiver talks over HTTP to a fault-injecting proxy (``tests.prefect_proxy``)
in front of the session's Prefect test server, which creates the runs of a
deployment that no runner executes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from deployments import receiver as receiver_module
from deployments.receiver import AlertReceiver, DeliveryLedger, ReceiverConfig
from tests.prefect_proxy import FaultProxy, fault_proxy

pytestmark = pytest.mark.usefixtures("prefect_harness")

TOKEN = "rcvFaultTestToken00000000000001"
KEY_ID = "LTAI5tRECEIVERFAULT00001"
DEPLOYMENT = "alert-intake/receiver-fault-test"


@pytest.fixture(scope="module")
def intake_deployment(prefect_harness: None) -> str:
    from flows.alert_intake import alert_intake

    alert_intake.to_deployment(name="receiver-fault-test").apply()
    return DEPLOYMENT


@pytest.fixture
def proxy(intake_deployment: str) -> Iterator[FaultProxy]:
    from prefect.settings import PREFECT_API_URL

    with fault_proxy(str(PREFECT_API_URL.value()), "/create_flow_run") as running:
        yield running


@pytest.fixture
def receiver(
    proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AlertReceiver]:
    monkeypatch.setattr(receiver_module, "RETRY_BASE_DELAY", 0.01)
    monkeypatch.setattr(receiver_module, "RETRY_MAX_DELAY", 0.05)
    server = AlertReceiver(
        ReceiverConfig(
            token=TOKEN, deployment=DEPLOYMENT, port=0, api_url=proxy.url + "/api"
        )
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def post(server: AlertReceiver, alert_id: str) -> httpx.Response:
    body = json.dumps({"access_key_id": KEY_ID, "alert_id": alert_id}).encode()
    with httpx.Client(trust_env=False, timeout=60) as client:
        return client.post(
            server.url + "/alerts",
            content=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )


def runs_of_alert(alert_id: str) -> list[Any]:
    """Return the runs of the test deployment created for the alert."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=["receiver-fault-test"])
            ),
            limit=200,
        )
    return [
        run
        for run in runs
        if (run.idempotency_key or "").startswith(f"alert-intake-{alert_id}-")
    ]


def test_receiver_retries_api_faults(
    receiver: AlertReceiver, proxy: FaultProxy
) -> None:
    proxy.faults = ["503", "500", "drop", "drop-after"]

    first = post(receiver, "fault-retried")
    again = post(receiver, "fault-retried")

    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert again.status_code == 200, again.text
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert [fault for _, fault in proxy.matched] == [
        "503",
        "500",
        "drop",
        "drop-after",
        "",
    ]
    runs = runs_of_alert(first.json()["alert_id"])
    assert [str(run.id) for run in runs] == [first.json()["flow_run_id"]]


def test_receiver_api_down_returns_503(
    receiver: AlertReceiver, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_module, "RETRY_SECONDS", 0.5)
    proxy.always = "503"

    failed = post(receiver, "fault-down")
    proxy.always = None
    redelivered = post(receiver, "fault-down")

    assert failed.status_code == 503, failed.text
    assert failed.headers["Retry-After"] == str(receiver_module.RETRY_AFTER_SECONDS)
    assert "deliver it again later" in failed.json()["error"]
    assert len(proxy.matched) >= receiver_module.RETRY_MIN_TRIES + 1
    assert redelivered.status_code == 202, redelivered.text
    assert len(runs_of_alert(redelivered.json()["alert_id"])) == 1


def test_receiver_overlapping_repeats_get_one_202(
    receiver: AlertReceiver, proxy: FaultProxy
) -> None:
    proxy.faults = ["slow"]
    proxy.slow_seconds = 1.0

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: post(receiver, "fault-overlap"), range(20)))

    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [200] * 19 + [202]
    assert len({reply.json()["flow_run_id"] for reply in replies}) == 1
    assert sum(reply.json()["duplicate"] for reply in replies) == 19
    assert len(proxy.matched) == 1


def test_receiver_waiting_repeats_share_503(
    receiver: AlertReceiver, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_module, "RETRY_SECONDS", 0.5)
    # Every try of the first delivery fails after 0.2 s, so the repeats that
    # arrive meanwhile wait for it and fail with it.
    proxy.always = "503"
    proxy.delay_seconds = 0.2

    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(lambda _: post(receiver, "fault-waiting"), range(5)))

    assert [reply.status_code for reply in replies] == [503] * 5
    assert all(reply.headers["Retry-After"] for reply in replies)
    errors = [reply.json()["error"] for reply in replies]
    assert any("an earlier delivery of this alert failed" in text for text in errors)
    assert runs_of_alert("alert-fault-waiting") == []


def test_delivery_ledger_forgets_failed_keys() -> None:
    ledger = DeliveryLedger(seconds=3600, max_keys=2)
    first, is_first = ledger.claim("a")
    _, again_first = ledger.claim("a")
    ledger.fail("a", first, receiver_module.ReceiverError(503, "busy"))
    _, after_failure = ledger.claim("a")
    ledger.claim("b")
    ledger.claim("c")
    _, a_after_expiry = ledger.claim("a")

    assert is_first is True
    assert again_first is False
    assert after_failure is True
    assert a_after_expiry is True
