"""SLS authentication (v1 and v4 signatures) through the real ``LogClient``."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models
from aliyun.log import LogException
from aliyun.log.auth import AuthV4

from emulator.testing import RunningEmulator
from tests.helpers import (
    APP_BACKEND,
    RESPONDER,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    log_client,
    ram_client,
    sts_client,
)

# The window of tests/scenarios/basic.json's history, in epoch seconds.
FROM_TIME = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
TO_TIME = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp())


def _get_logs(client) -> int:
    response = client.get_log(SLS_PROJECT, TRAIL_LOGSTORE, FROM_TIME, TO_TIME, size=5)
    return response.get_count()


def _sls_error(client) -> LogException:
    with pytest.raises(LogException) as caught:
        _get_logs(client)
    return caught.value


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_sls_signature_accepted(emulator: RunningEmulator, auth_version: str) -> None:
    client = log_client(emulator, *RESPONDER, auth_version=auth_version)
    assert _get_logs(client) == 5
    last = emulator.control("GET", "requests")["requests"][-1]
    assert last["service"] == "sls"
    assert last["action"] == "GetLogs"
    assert last["status"] == 200


def test_sls_legacy_get_logs_signature_accepted(emulator: RunningEmulator) -> None:
    client = log_client(emulator, *RESPONDER)
    client._get_logs_v2_enabled = False
    assert _get_logs(client) == 5


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_sls_wrong_secret_rejected(
    emulator: RunningEmulator, auth_version: str
) -> None:
    client = log_client(
        emulator, RESPONDER[0], "not-the-secret", auth_version=auth_version
    )
    error = _sls_error(client)
    assert error.get_error_code() == "SignatureNotMatch"
    assert error.get_resp_status() == 401
    assert error.get_request_id()


def test_sls_unknown_key_rejected(emulator: RunningEmulator) -> None:
    client = log_client(emulator, "LTAI5tNOSUCHKEY000000001", "whatever")
    error = _sls_error(client)
    assert error.get_error_code() == "Unauthorized"
    assert error.get_resp_status() == 401
    assert (
        error.get_error_message() == "AccessKeyId not found: LTAI5tNOSUCHKEY000000001"
    )


def test_sls_disabled_key_rejected(emulator: RunningEmulator) -> None:
    ram_client(emulator, *RESPONDER).update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="app-backend",
            user_access_key_id=APP_BACKEND[0],
            status="Inactive",
        )
    )
    error = _sls_error(log_client(emulator, *APP_BACKEND))
    assert error.get_error_code() == "Unauthorized"
    assert error.get_error_message() == f"AccessKeyId is disabled: {APP_BACKEND[0]}"


def test_sls_calls_not_recorded(emulator: RunningEmulator) -> None:
    before = len(emulator.cloud.events)
    _get_logs(log_client(emulator, *RESPONDER))
    assert len(emulator.cloud.events) == before


def test_sls_sts_key_accepted(emulator: RunningEmulator) -> None:
    credentials = (
        sts_client(emulator, *RESPONDER)
        .assume_role(
            sts_models.AssumeRoleRequest(
                role_arn="acs:ram::1234567890123456:role/ops-admin",
                role_session_name="sls-reader",
            )
        )
        .body.credentials
    )
    client = log_client(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )
    assert _get_logs(client) == 5
    unsigned_token = log_client(
        emulator, credentials.access_key_id, credentials.access_key_secret
    )
    assert _sls_error(unsigned_token).get_error_code() == "Unauthorized"


def test_sls_v4_clock_skew_rejected(emulator: RunningEmulator) -> None:
    """Sign with the SDK's v4 signer at a time an hour ago, which SLS rejects."""
    from aliyun.log.credentials import StaticCredentialsProvider

    signer = AuthV4(StaticCredentialsProvider(*RESPONDER), "cn-hangzhou")
    resource = f"/logstores/{TRAIL_LOGSTORE}"
    params = {"type": "histogram", "from": str(FROM_TIME), "to": str(TO_TIME)}
    host = f"{SLS_PROJECT}.127.0.0.1"
    headers = {"Host": host, "x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "0"}
    old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))
    headers["Authorization"] = signer._do_sign_request(
        "GET", resource, params, headers, b"", old
    )
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(
            f"http://{emulator.endpoint}{resource}", params=params, headers=headers
        )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "RequestTimeTooSkewed"
    assert response.headers["x-log-requestid"]
