"""Retries: backoff, retry-after, faults from the emulator, and pacing."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from cloud_helpers import APP_BACKEND, add_fault, calls, connect

from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.retry import Pacer, RetryPolicy, call_with_retry
from akresponder.sinks import DiscardSink
from tasks import ram


def test_retry_policy_from_env_reads_variables() -> None:
    policy = RetryPolicy.from_env(
        {
            "AKRESPONDER_RETRY_MAX_ATTEMPTS": "6",
            "AKRESPONDER_RETRY_BASE_DELAY": "0.25",
            "AKRESPONDER_RETRY_MAX_DELAY": "3",
        }
    )
    assert policy.max_attempts == 6
    assert policy.base_delay == 0.25
    assert policy.max_delay == 3.0


def test_retry_policy_from_env_rejects_text() -> None:
    with pytest.raises(ValueError) as caught:
        RetryPolicy.from_env({"AKRESPONDER_RETRY_MAX_ATTEMPTS": "many"})
    assert "AKRESPONDER_RETRY_MAX_ATTEMPTS='many' is not a int" in str(caught.value)


def test_retry_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError) as caught:
        RetryPolicy(max_attempts=0)
    assert "max_attempts must be at least 1" in str(caught.value)


def test_retry_policy_delay_grows_and_caps() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_retry_policy_delay_jitter_bounded() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5)
    delays = [policy.delay(2) for _ in range(200)]
    assert min(delays) >= 2.0
    assert max(delays) <= 3.0
    assert len(set(delays)) > 1


def test_retry_policy_delay_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=30)
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(1, retry_after=100) == 30


def test_call_with_retry_throttle_waits_retry_after(emulator) -> None:
    connection = connect(emulator)
    add_fault(
        emulator,
        service="ram",
        action="ListUsers",
        kind="throttle",
        count=1,
        retry_after_ms=300,
    )
    started = time.monotonic()
    users = ram.list_users.fn(connection)
    elapsed = time.monotonic() - started
    assert {user["UserName"] for user in users} >= {"app-backend", "alice"}
    assert elapsed >= 0.3
    attempts = calls(emulator, "ListUsers")
    assert [entry["error_code"] for entry in attempts] == ["Throttling.User", ""]


def test_call_with_retry_throttle_without_header(emulator) -> None:
    connection = connect(emulator)
    add_fault(emulator, service="ram", action="GetUser", kind="throttle", count=2)
    user = ram.get_user.fn(connection, "alice")
    assert user["UserName"] == "alice"
    assert len(calls(emulator, "GetUser")) == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "ServiceUnavailable"), (500, "InternalError"), (502, "BadGateway")],
)
def test_call_with_retry_server_errors(emulator, status: int, code: str) -> None:
    connection = connect(emulator)
    add_fault(
        emulator,
        service="ram",
        action="ListAccessKeys",
        kind="error",
        status=status,
        code=code,
        count=2,
    )
    keys = ram.list_access_keys.fn(connection, "app-backend")
    assert [key["AccessKeyId"] for key in keys] == ["LTAI5tAPPBACKEND00000001"]
    assert [entry["status"] for entry in calls(emulator, "ListAccessKeys")] == [
        status,
        status,
        200,
    ]


def test_call_with_retry_dropped_connection(emulator) -> None:
    connection = connect(emulator)
    add_fault(emulator, service="ram", action="ListUsers", kind="drop", count=1)
    users = ram.list_users.fn(connection)
    assert users
    assert len(calls(emulator, "ListUsers")) == 2


def test_call_with_retry_gives_up_after_max_attempts(emulator) -> None:
    connection = connect(emulator)
    add_fault(emulator, service="ram", action="GetUser", kind="throttle")
    with pytest.raises(CloudError) as caught:
        ram.get_user.fn(connection, "alice")
    error = caught.value
    assert error.code == "Throttling.User"
    assert error.status == 400
    assert error.retryable is True
    assert "ram:GetUser failed for user=alice" in str(error)
    assert len(calls(emulator, "GetUser")) == 4


def test_call_with_retry_no_retry_on_no_permission(emulator) -> None:
    connection = connect(emulator, APP_BACKEND)
    with pytest.raises(CloudError) as caught:
        ram.list_users.fn(connection)
    error = caught.value
    assert error.code == "NoPermission"
    assert error.status == 403
    assert error.retryable is False
    assert len(calls(emulator, "ListUsers")) == 1


def test_call_with_retry_create_not_resent_after_drop(emulator) -> None:
    connection = connect(emulator)
    add_fault(emulator, service="ram", action="CreateAccessKey", kind="drop", count=1)
    with pytest.raises(CloudError) as caught:
        ram.create_access_key.fn(connection, "alice", sink=DiscardSink())
    assert caught.value.code == "ConnectionDropped"
    assert caught.value.processed is True
    assert len(calls(emulator, "CreateAccessKey")) == 1


def test_call_with_retry_create_resent_after_throttle(emulator) -> None:
    connection = connect(emulator)
    add_fault(
        emulator, service="ram", action="CreateAccessKey", kind="throttle", count=1
    )
    created = ram.create_access_key.fn(connection, "alice", sink=DiscardSink())
    assert created["AccessKeyId"].startswith("LTAI")
    assert len(calls(emulator, "CreateAccessKey")) == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_call_with_retry_connection_refused() -> None:
    connection = CloudConnection(
        access_key_id="LTAI5tRESPONDER000000001",
        access_key_secret="rsSecretResponderKey000000000001",
        endpoint=f"127.0.0.1:{_closed_port()}",
        protocol="http",
        connect_timeout_ms=500,
    )
    with pytest.raises(CloudError) as caught:
        ram.get_user.fn(connection, "alice")
    error = caught.value
    assert error.code == "ConnectionRefused"
    assert error.status == 0
    assert error.processed is False
    assert "Check the endpoint" in str(error)


def test_call_with_retry_logs_each_retry(
    emulator, caplog: pytest.LogCaptureFixture
) -> None:
    connection = connect(emulator)
    add_fault(emulator, service="ram", action="GetUser", kind="throttle", count=1)
    with caplog.at_level(logging.WARNING):
        ram.get_user.fn(connection, "alice")
    retries = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    assert len(retries) == 1
    assert "api=ram:GetUser" in retries[0]
    assert "code=Throttling.User" in retries[0]
    assert "attempt=2/4" in retries[0]


def test_call_with_retry_plain_function_counts_attempts() -> None:
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    result = call_with_retry(
        flaky,
        api="ram:GetUser",
        policy=RetryPolicy(max_attempts=3, base_delay=0.001),
        sleep=lambda seconds: None,
    )
    assert result == "ok"
    assert len(attempts) == 3


def test_pacer_spaces_calls() -> None:
    pacer = Pacer(rate_per_second=20)
    started = time.monotonic()
    for _ in range(5):
        pacer.wait()
    assert time.monotonic() - started >= 0.2 - 0.01
