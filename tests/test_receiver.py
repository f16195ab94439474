"""The alert receiver over real HTTP, creating runs in the Prefect test server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from deployments.receiver import (
    AlertReceiver,
    ReceiverConfig,
    prefect_api_settings,
    verify_github_signature,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATA = Path(__file__).parent / "data" / "alerts"
TOKEN = "rcvTokenForTests0000000000000001"
GITHUB_SECRET = "ghWebhookSecretForTests000000001"
APP_KEY = "LTAI5tAPPBACKEND00000001"
DEPLOYMENT = "alert-intake/receiver-test"


@pytest.fixture(scope="module")
def intake_deployment(prefect_harness: None) -> str:
    """Register the alert-intake flow as a deployment that no runner executes."""
    from flows.alert_intake import alert_intake

    alert_intake.to_deployment(name="receiver-test").apply()
    return DEPLOYMENT


def start_receiver(**overrides: object) -> AlertReceiver:
    api_url, headers = prefect_api_settings()
    values = {
        "token": TOKEN,
        "github_secret": GITHUB_SECRET,
        "deployment": DEPLOYMENT,
        "port": 0,
        "api_url": api_url,
        "api_headers": headers,
        **overrides,
    }
    server = AlertReceiver(ReceiverConfig(**values))  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver(intake_deployment: str) -> Iterator[AlertReceiver]:
    server = start_receiver()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def post(
    server: AlertReceiver,
    body: bytes | dict | list,
    *,
    path: str = "/alerts",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client(trust_env=False, timeout=60) as client:
        return client.post(server.url + path, content=data, headers=headers or {})


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sample(name: str) -> dict | list:
    return json.loads((DATA / name).read_text())


def unique_alert(number: int) -> dict:
    return {"access_key_id": APP_KEY, "alert_id": f"receiver-test-{number}"}


def read_run(run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def test_receiver_token_starts_run_once(receiver: AlertReceiver) -> None:
    payload = sample("sls_alert_actiontrail.json")
    payload["fire_time"] = 1700000001  # unique to this test

    first = post(receiver, payload, path="/alerts/sls", headers=bearer())
    again = post(
        receiver, payload, path="/alerts/sls", headers={"X-Akresponder-Token": TOKEN}
    )

    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    assert first.json()["access_key_ids"] == [APP_KEY]
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    run = read_run(first.json()["flow_run_id"])
    assert run.parameters["source_hint"] == "sls"
    assert run.parameters["payload"]["alert_name"] == payload["alert_name"]
    assert f"key:{APP_KEY}" in run.tags
    assert "alert:sls" in run.tags
    assert run.idempotency_key.startswith(f"alert-intake-{first.json()['alert_id']}-")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-000000000000"},
        {"X-Akresponder-Token": TOKEN[:-1]},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
def test_receiver_rejects_bad_token(
    receiver: AlertReceiver, headers: dict[str, str]
) -> None:
    response = post(receiver, unique_alert(0), headers=headers)

    assert response.status_code == 401
    assert TOKEN not in response.text


def test_receiver_github_signature(receiver: AlertReceiver) -> None:
    body = json.dumps(sample("github_secret_scanning_rest.json")).encode()
    good = (
        "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    )
    bad = "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()

    accepted = post(
        receiver,
        body,
        path="/alerts/github",
        headers={
            "X-Hub-Signature-256": good,
            "X-GitHub-Event": "secret_scanning_alert",
        },
    )
    rejected = post(receiver, body, headers={"X-Hub-Signature-256": bad})

    assert accepted.status_code in (200, 202)
    assert accepted.json()["alert_id"] == "github-example-org-app-backend-42-created"
    assert rejected.status_code == 401


def test_receiver_github_ping(receiver: AlertReceiver) -> None:
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    signature = (
        "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    )

    response = post(
        receiver,
        body,
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "ping"},
    )

    assert response.status_code == 200
    assert response.json() == {"pong": True}


def test_verify_github_signature_cases() -> None:
    body = b"{}"
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert verify_github_signature("s3cret", body, f"sha256={digest}")
    assert not verify_github_signature("s3cret", body, digest)
    assert not verify_github_signature("s3cret", b"{ }", f"sha256={digest}")


def test_receiver_size_limit(intake_deployment: str) -> None:
    server = start_receiver(max_body=2048)
    try:
        response = post(
            server,
            {"access_key_id": APP_KEY, "padding": "x" * 4096},
            headers=bearer(),
        )
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 413
    assert "exceeds the limit of 2048 bytes" in response.json()["error"]


def test_receiver_bad_shape(receiver: AlertReceiver) -> None:
    secret = "zzSecretInABadAlert000000000001"

    response = post(
        receiver, {"hello": "world", "AccessKeySecret": secret}, headers=bearer()
    )

    assert response.status_code == 400
    assert "Accepted alert shapes" in response.json()["error"]
    assert secret not in response.text


def test_receiver_ignored_alert(receiver: AlertReceiver) -> None:
    payload = sample("github_secret_scanning_rest.json")
    payload["action"] = "resolved"

    response = post(receiver, payload, headers=bearer())

    assert response.status_code == 200
    assert "was resolved" in response.json()["ignored"]


def test_receiver_masks_secret_in_parameters(receiver: AlertReceiver) -> None:
    payload = sample("eventbridge_actiontrail.json")
    payload["id"] = "receiver-test-mask"

    response = post(receiver, payload, path="/alerts/eventbridge", headers=bearer())

    assert response.status_code == 202
    run = read_run(response.json()["flow_run_id"])
    stored = json.dumps(run.parameters)
    assert "atSecretAttackerMade00000000001" not in stored
    assert "LTAI5tATTACKER000000001Z" in stored


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/alerts", 405), ("GET", "/healthz", 200), ("POST", "/other", 404)],
)
def test_receiver_paths(
    receiver: AlertReceiver, method: str, path: str, status: int
) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.request(
            method, receiver.url + path, content=b"{}", headers=bearer()
        )

    assert response.status_code == status


def test_receiver_unknown_source(receiver: AlertReceiver) -> None:
    response = post(
        receiver, unique_alert(1), path="/alerts/pagerduty", headers=bearer()
    )

    assert response.status_code == 404
    assert "unknown alert source 'pagerduty'" in response.json()["error"]


def test_receiver_missing_deployment(intake_deployment: str) -> None:
    server = start_receiver(deployment="alert-intake/not-deployed")
    try:
        response = post(server, unique_alert(2), headers=bearer())
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 503
    assert "no deployment alert-intake/not-deployed" in response.json()["error"]


def test_receiver_config_checks() -> None:
    with pytest.raises(ValueError, match="no sender can authenticate"):
        ReceiverConfig(api_url="http://127.0.0.1:1/api").check()
    with pytest.raises(ValueError, match="fewer than 16 characters"):
        ReceiverConfig(token="short", api_url="http://127.0.0.1:1/api").check()
    with pytest.raises(ValueError, match="PREFECT_API_URL is not set"):
        ReceiverConfig(token=TOKEN).check()


@pytest.mark.slow
def test_receiver_concurrent_posts(receiver: AlertReceiver) -> None:
    distinct = [unique_alert(100 + number) for number in range(25)]
    repeated = [unique_alert(999)] * 25

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(
                lambda body: post(receiver, body, headers=bearer()), distinct + repeated
            )
        )

    statuses = [response.status_code for response in responses]
    assert all(status in (200, 202) for status in statuses), statuses
    distinct_ids = {response.json()["flow_run_id"] for response in responses[:25]}
    repeated_ids = {response.json()["flow_run_id"] for response in responses[25:]}
    assert len(distinct_ids) == 25
    assert len(repeated_ids) == 1
    created = [r for r in responses[25:] if r.json()["duplicate"] is False]
    assert len(created) == 1


def test_receiver_mixed_list_keeps_detection(receiver: AlertReceiver) -> None:
    from akresponder.alerts import parse_alert

    sas = sample("sas_leak_list.json")["AccessKeyLeakList"][1]
    event = sample("eventbridge_actiontrail.json")
    event["id"] = "receiver-test-mixed"

    response = post(receiver, [sas, event], headers=bearer())

    assert response.status_code == 202
    assert response.json()["access_key_ids"] == ["LTAI5tCIDEPLOY000000001A", APP_KEY]
    run = read_run(response.json()["flow_run_id"])
    assert run.parameters["source_hint"] is None
    keys = parse_alert(run.parameters["payload"], run.parameters["source_hint"])
    assert [key.access_key_id for key in keys] == ["LTAI5tCIDEPLOY000000001A", APP_KEY]


def test_receiver_invalid_id_starts_valid_keys(receiver: AlertReceiver) -> None:
    payload = {
        "access_key_ids": [APP_KEY, "AKIAIOSFODNN7EXAMPLE"],
        "alert_id": "receiver-test-rejected",
    }

    response = post(receiver, payload, headers=bearer())

    assert response.status_code == 202
    reply = response.json()
    assert reply["access_key_ids"] == [APP_KEY]
    assert len(reply["rejected"]) == 1
    assert "access_key_ids[1]: invalid AccessKey ID" in reply["rejected"][0]
    run = read_run(reply["flow_run_id"])
    assert f"key:{APP_KEY}" in run.tags
