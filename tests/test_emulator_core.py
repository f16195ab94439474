"""Core emulator tests through the real SDKs: dispatch and authentication."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator, start_emulator, start_emulator_process
from tests.helpers import (
    APP_BACKEND,
    CI_DEPLOY_A,
    RESPONDER,
    ROOT,
    ram_client,
    send_signed_pop,
    sts_client,
)

RAM_VERSION = "2015-05-01"
SECRETS = [RESPONDER[1], APP_BACKEND[1], CI_DEPLOY_A[1], ROOT[1]]


def _error(call) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def _list_users(client) -> list[str]:
    response = client.list_users(ram_models.ListUsersRequest())
    return [user.user_name for user in response.body.users.user]


# --- signatures -----------------------------------------------------------------------


def test_acs3_signature_accepted(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *RESPONDER)
    response = client.list_users(ram_models.ListUsersRequest())
    names = [user.user_name for user in response.body.users.user]
    assert "app-backend" in names
    assert response.body.request_id
    assert response.headers["x-acs-request-id"] == response.body.request_id


def test_v2_signature_accepted(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *RESPONDER, signature_algorithm="v2")
    response = client.get_user(ram_models.GetUserRequest(user_name="alice"))
    assert response.body.user.user_id == "200000000000000004"


def test_form_body_params_merged(emulator: RunningEmulator) -> None:
    response = send_signed_pop(
        emulator, *RESPONDER, "GetUser", RAM_VERSION, form={"UserName": "alice"}
    )
    assert response.status_code == 200
    assert response.json()["User"]["UserName"] == "alice"


def test_wrong_secret_rejected(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, RESPONDER[0], "not-the-secret")
    error = _error(lambda: _list_users(client))
    assert error.code == "SignatureDoesNotMatch"
    assert error.status_code == 400
    assert "server string to sign is:ACS3-HMAC-SHA256" in error.message


def test_v2_wrong_secret_rejected(emulator: RunningEmulator) -> None:
    client = ram_client(
        emulator, RESPONDER[0], "not-the-secret", signature_algorithm="v2"
    )
    error = _error(lambda: _list_users(client))
    assert error.code == "SignatureDoesNotMatch"
    assert error.status_code == 400
    assert "server string to sign is:POST&%2F&" in error.message


def test_unknown_key_not_found(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, "LTAI5tNOSUCHKEY000000001", "whatever")
    error = _error(lambda: _list_users(client))
    assert error.code == "InvalidAccessKeyId.NotFound"
    assert error.status_code == 404


def test_unknown_key_and_bad_signature_not_recorded(emulator: RunningEmulator) -> None:
    before = len(emulator.cloud.events)
    _error(lambda: _list_users(ram_client(emulator, "LTAI5tNOSUCHKEY000000001", "x")))
    _error(lambda: _list_users(ram_client(emulator, RESPONDER[0], "wrong")))
    assert len(emulator.cloud.events) == before


def test_disabled_key_rejected_after_update(emulator: RunningEmulator) -> None:
    responder = ram_client(emulator, *RESPONDER)
    responder.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="app-backend",
            user_access_key_id=APP_BACKEND[0],
            status="Inactive",
        )
    )
    attacker = ram_client(emulator, *APP_BACKEND)
    error = _error(lambda: _list_users(attacker))
    assert error.code == "InvalidAccessKeyId.Inactive"
    assert error.status_code == 400
    last = emulator.cloud.events[-1]
    assert last["errorCode"] == "InvalidAccessKeyId.Inactive"
    assert last["userIdentity"]["accessKeyId"] == APP_BACKEND[0]


def test_disabled_key_set_on_cloud_rejected(emulator: RunningEmulator) -> None:
    emulator.cloud.access_keys[CI_DEPLOY_A[0]].status = "Inactive"
    error = _error(lambda: _list_users(ram_client(emulator, *CI_DEPLOY_A)))
    assert error.code == "InvalidAccessKeyId.Inactive"


def test_deleted_key_not_found(emulator: RunningEmulator) -> None:
    responder = ram_client(emulator, *RESPONDER)
    responder.delete_access_key(
        ram_models.DeleteAccessKeyRequest(
            user_name="ci-deploy", user_access_key_id=CI_DEPLOY_A[0]
        )
    )
    error = _error(lambda: _list_users(ram_client(emulator, *CI_DEPLOY_A)))
    assert error.code == "InvalidAccessKeyId.NotFound"
    assert error.status_code == 404


def test_unsigned_request_rejected(emulator: RunningEmulator) -> None:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        response = session.post(
            emulator.url + "/",
            headers={"x-acs-version": RAM_VERSION, "x-acs-action": "ListUsers"},
        )
    assert response.status_code == 400
    assert response.json()["Code"] == "IncompleteSignature"


def test_sls_host_dispatched_to_sls(emulator: RunningEmulator) -> None:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        response = session.get(
            emulator.url + "/logstores/actiontrail_main",
            headers={"Host": "audit-1234567890123456.127.0.0.1"},
        )
    assert response.status_code == 401
    assert response.json()["errorCode"] == "Unauthorized"
    assert response.headers["x-log-requestid"]


def test_unknown_action_not_found(emulator: RunningEmulator) -> None:
    response = send_signed_pop(emulator, *RESPONDER, "NoSuchAction", RAM_VERSION)
    assert response.status_code == 404
    body = response.json()
    assert body["Code"] == "InvalidApi.NotFound"
    assert "NoSuchAction" in body["Message"]
    assert body["HostId"] == "ram.aliyuncs.com"


# --- timestamps and nonces ------------------------------------------------------------


def test_clock_skew_rejected(emulator: RunningEmulator) -> None:
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    response = send_signed_pop(emulator, *RESPONDER, "ListUsers", RAM_VERSION, date=old)
    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"
    assert old in response.json()["Message"]


def test_clock_skew_check_switched_off(basic_scenario: Path) -> None:
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    with start_emulator(basic_scenario, check_clock_skew=False) as emu:
        response = send_signed_pop(emu, *RESPONDER, "ListUsers", RAM_VERSION, date=old)
        assert response.status_code == 200


def test_clock_skew_switched_off_at_run_time(emulator: RunningEmulator) -> None:
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    emulator.control("POST", "config", {"check_clock_skew": False})
    response = send_signed_pop(emulator, *RESPONDER, "ListUsers", RAM_VERSION, date=old)
    assert response.status_code == 200


def test_bad_timestamp_format_rejected(emulator: RunningEmulator) -> None:
    response = send_signed_pop(
        emulator, *RESPONDER, "ListUsers", RAM_VERSION, date="20 Nov 2026"
    )
    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidTimeStamp.Format"


def test_nonce_replay_rejected(emulator: RunningEmulator) -> None:
    nonce = "0123456789abcdef0123456789abcdef"
    first = send_signed_pop(emulator, *RESPONDER, "ListUsers", RAM_VERSION, nonce=nonce)
    second = send_signed_pop(
        emulator, *RESPONDER, "ListUsers", RAM_VERSION, nonce=nonce
    )
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["Code"] == "SignatureNonceUsed"


# --- STS keys -------------------------------------------------------------------------


def _assume_ops_admin(emu: RunningEmulator, duration: int = 900):
    client = sts_client(emu, *RESPONDER)
    response = client.assume_role(
        sts_models.AssumeRoleRequest(
            role_arn="acs:ram::1234567890123456:role/ops-admin",
            role_session_name="incident-42",
            duration_seconds=duration,
        )
    )
    return response.body.credentials


def test_sts_key_accepted_with_token(emulator: RunningEmulator) -> None:
    credentials = _assume_ops_admin(emulator)
    client = ram_client(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )
    assert "alice" in _list_users(client)
    identity = emulator.cloud.events[-1]["userIdentity"]
    assert identity["type"] == "assumed-role"
    assert identity["userName"] == "ops-admin:incident-42"
    assert identity["principalId"].endswith(":incident-42")
    attributes = identity["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    assert attributes["creationDate"].startswith("2026-11-20T")


def test_sts_key_without_token_rejected(emulator: RunningEmulator) -> None:
    credentials = _assume_ops_admin(emulator)
    response = send_signed_pop(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        "ListUsers",
        RAM_VERSION,
    )
    assert response.status_code == 400
    assert response.json()["Code"] == "MissingSecurityToken"


def test_sts_key_with_wrong_token_rejected(emulator: RunningEmulator) -> None:
    credentials = _assume_ops_admin(emulator)
    response = send_signed_pop(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        "ListUsers",
        RAM_VERSION,
        security_token="not-the-token",
    )
    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidSecurityToken.MismatchWithAccessKey"


def test_sts_token_expired(emulator: RunningEmulator) -> None:
    credentials = _assume_ops_admin(emulator, duration=900)
    emulator.cloud.clock.advance(901)
    client = ram_client(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )
    error = _error(lambda: _list_users(client))
    assert error.code == "InvalidSecurityToken.Expired"
    assert error.status_code == 400


# --- ActionTrail recording ------------------------------------------------------------


def test_call_recorded_as_event(emulator: RunningEmulator) -> None:
    before = len(emulator.cloud.events)
    response = send_signed_pop(
        emulator,
        *RESPONDER,
        "GetUser",
        RAM_VERSION,
        {"UserName": "alice"},
        extra_headers={"x-forwarded-for": "203.0.113.9", "user-agent": "attacker/1.0"},
    )
    assert response.status_code == 200
    assert len(emulator.cloud.events) == before + 1

    event = emulator.cloud.events[-1]
    assert event["eventName"] == "GetUser"
    assert event["eventType"] == "ApiCall"
    assert event["eventCategory"] == "Management"
    assert event["eventRW"] == "Read"
    assert event["eventVersion"] == "1"
    assert event["eventId"] == event["eventId"].upper()
    assert event["requestId"] == response.json()["RequestId"]
    assert event["sourceIpAddress"] == "203.0.113.9"
    assert event["userAgent"] == "attacker/1.0"
    assert event["apiVersion"] == RAM_VERSION
    assert event["errorCode"] == ""
    assert event["errorMessage"] == ""
    assert event["recipientAccountId"] == "1234567890123456"

    assert event["requestParameters"]["UserName"] == "alice"
    assert event["requestParameters"]["RequestId"] == event["requestId"]
    assert event["userIdentity"] == {
        "type": "ram-user",
        "principalId": "200000000000000001",
        "accountId": "1234567890123456",
        "userName": "ir-responder",
        "accessKeyId": RESPONDER[0],
    }


def test_event_delivered_to_trail_logstore(emulator: RunningEmulator) -> None:
    rows = emulator.cloud.sls_logs["audit-1234567890123456/actiontrail_main"]
    before = len(rows)
    _list_users(ram_client(emulator, *RESPONDER))
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["__topic__"] == "actiontrail_audit_event"
    assert row["__source__"] == "actiontrail"
    assert json.loads(row["event"]) == emulator.cloud.events[-1]
    assert int(row["__time__"]) > 0


def test_root_caller_identity(emulator: RunningEmulator) -> None:
    _list_users(ram_client(emulator, *ROOT))
    identity = emulator.cloud.events[-1]["userIdentity"]
    assert identity["type"] == "root-account"
    assert identity["userName"] == "root"
    assert identity["principalId"] == "1234567890123456"


def test_event_strips_secrets(emulator: RunningEmulator) -> None:
    responder = ram_client(emulator, *RESPONDER)
    created = responder.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="alice")
    )
    secret = created.body.access_key.access_key_secret
    assert secret
    event = emulator.cloud.events[-1]
    assert event["eventName"] == "CreateAccessKey"
    access_key = event["responseElements"]["AccessKey"]
    assert "AccessKeySecret" not in access_key
    assert access_key["AccessKeyId"] == created.body.access_key.access_key_id
    dumped = json.dumps(emulator.cloud.events) + json.dumps(emulator.cloud.sls_logs)
    assert secret not in dumped


def test_sts_token_not_recorded(emulator: RunningEmulator) -> None:
    credentials = _assume_ops_admin(emulator)
    dumped = json.dumps(emulator.cloud.events) + json.dumps(emulator.cloud.sls_logs)
    assert credentials.security_token not in dumped
    assert credentials.access_key_secret not in dumped


def test_last_used_updated(emulator: RunningEmulator) -> None:
    key = emulator.cloud.access_keys[CI_DEPLOY_A[0]]
    emulator.cloud.clock.advance(3600)
    # ci-deploy may not list users, but the key was used all the same.
    error = _error(lambda: _list_users(ram_client(emulator, *CI_DEPLOY_A)))
    assert error.code == "NoPermission"
    assert key.last_used is not None
    assert abs((emulator.cloud.now() - key.last_used).total_seconds()) < 5


# --- serve ----------------------------------------------------------------------------


def test_serve_prints_listening_line(basic_scenario: Path) -> None:
    with start_emulator_process(basic_scenario) as process:
        assert process.url.startswith("http://127.0.0.1:")
        assert process.control("GET", "health")["status"] == "ok"
        client = ram_client(process, *RESPONDER)
        assert "alice" in _list_users(client)


def test_serve_applies_flags(basic_scenario: Path, tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"service": "ram", "kind": "throttle", "count": 1}]))
    flags = [
        "--faults",
        str(faults),
        "--freeze-clock",
        "--no-clock-skew-check",
        "--ram-rate-limit",
        "50",
    ]
    with start_emulator_process(basic_scenario, extra_args=flags) as process:
        assert process.control("GET", "clock") == {
            "now": "2026-11-20T08:00:00Z",
            "frozen": True,
        }
        config = process.control("GET", "config")
        assert config["check_clock_skew"] is False
        assert config["ram_rate_limit"] == 50.0
        client = ram_client(process, *RESPONDER)
        error = _error(lambda: _list_users(client))
        assert error.code == "Throttling.User"
        assert "alice" in _list_users(client)


def test_serve_rejects_bad_faults_file(basic_scenario: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"service": "ram", "kind": "explode"}]))
    command = [sys.executable, "-m", "emulator", "serve", "--scenario"]
    command += [str(basic_scenario), "--faults", str(faults)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 2
    assert "faults[0].kind" in result.stderr


def test_serve_rejects_bad_scenario(tmp_path: Path) -> None:
    import subprocess
    import sys

    scenario = tmp_path / "bad.json"
    scenario.write_text(json.dumps({"account_id": "1234567890123456", "userz": []}))
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "$.userz" in lines[0]
