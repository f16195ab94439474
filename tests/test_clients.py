"""The client factory: endpoints, caching, SLS over IP:port, assumed roles."""

from __future__ import annotations

import threading

import pytest
from cloud_helpers import SLS_PROJECT, TRAIL_LOGSTORE, connect

from akresponder.clients import (
    ENDPOINT_RULES,
    clear_client_cache,
    get_client,
    resolve_endpoint,
)
from akresponder.config import CloudConnection, ConfigurationError

KEY_ID = "LTAI5tRESPONDER000000001"
SECRET = "rsSecretResponderKey000000000001"


def _connection(**values: object) -> CloudConnection:
    return CloudConnection(access_key_id=KEY_ID, access_key_secret=SECRET, **values)


@pytest.mark.parametrize(
    ("service", "region", "expected"),
    [
        ("ram", "cn-hangzhou", "ram.aliyuncs.com"),
        ("sts", "eu-central-1", "sts.aliyuncs.com"),
        ("actiontrail", "cn-shanghai", "actiontrail.cn-shanghai.aliyuncs.com"),
        ("bss", "cn-beijing", "business.aliyuncs.com"),
        ("bss", "cn-hongkong", "business.ap-southeast-1.aliyuncs.com"),
        ("bss", "eu-central-1", "business.ap-southeast-1.aliyuncs.com"),
        ("ecs", "ap-southeast-1", "ecs.ap-southeast-1.aliyuncs.com"),
        ("sls", "cn-hangzhou", "cn-hangzhou.log.aliyuncs.com"),
    ],
)
def test_resolve_endpoint_public_hosts(
    service: str, region: str, expected: str
) -> None:
    assert resolve_endpoint(service, _connection(region=region)) == (expected, "https")


def test_resolve_endpoint_override_and_per_service() -> None:
    connection = _connection(
        endpoint="127.0.0.1:18931",
        endpoints={"sls": "10.0.0.5:8080"},
        protocol="http",
    )
    assert resolve_endpoint("ram", connection) == ("127.0.0.1:18931", "http")
    assert resolve_endpoint("sls", connection) == ("10.0.0.5:8080", "http")


def test_endpoint_rules_cover_every_service() -> None:
    assert set(ENDPOINT_RULES) == {"ram", "sts", "actiontrail", "bss", "ecs", "sls"}


def test_get_client_unknown_service_lists_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_client("oss", _connection())
    assert "unknown service 'oss'" in str(caught.value)
    assert "ram, sts, actiontrail, bss, ecs, sls" in str(caught.value)


def test_get_client_caches_per_identity() -> None:
    clear_client_cache()
    first = get_client("ram", _connection(endpoint="127.0.0.1:1", protocol="http"))
    again = get_client("ram", _connection(endpoint="127.0.0.1:1", protocol="http"))
    other_secret = get_client(
        "ram",
        CloudConnection(
            access_key_id=KEY_ID,
            access_key_secret=SECRET + "x",
            endpoint="127.0.0.1:1",
            protocol="http",
        ),
    )
    other_service = get_client(
        "sts", _connection(endpoint="127.0.0.1:1", protocol="http")
    )
    assert first is again
    assert first is not other_secret
    assert first is not other_service


def test_get_client_is_thread_safe() -> None:
    clear_client_cache()
    connection = _connection(endpoint="127.0.0.1:1", protocol="http")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def build() -> None:
        barrier.wait()
        results.append(get_client("actiontrail", connection))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(result is results[0] for result in results)


def test_get_client_sls_targets_ip_port(emulator) -> None:
    connection = connect(emulator)
    client = get_client("sls", connection)
    assert client._isRowIp is True
    response = client.get_log(SLS_PROJECT, TRAIL_LOGSTORE, 0, 2_000_000_000, size=5)
    assert response.get_count() == 5


def test_get_client_sls_public_endpoint_keeps_project_prefix() -> None:
    client = get_client("sls", _connection(region="cn-shanghai"))
    assert client._isRowIp is False
    assert client._logHost == "cn-shanghai.log.aliyuncs.com"


def test_get_client_pop_client_reaches_emulator(emulator) -> None:
    from alibabacloud_ram20150501.models import ListUsersRequest

    client = get_client("ram", connect(emulator))
    body = client.list_users(ListUsersRequest()).body
    names = {user.user_name for user in body.users.user}
    assert "app-backend" in names


def test_get_client_assumes_role(emulator) -> None:
    from tasks.sts import get_caller_identity

    base = connect(emulator)
    role = base.model_copy(
        update={"role_arn": "acs:ram::1234567890123456:role/ops-admin"}
    )
    identity = get_caller_identity.fn(role)
    assert identity["IdentityType"] == "AssumedRoleUser"
    assert "ops-admin" in identity["Arn"]
    # The second call reuses the cached temporary credentials.
    get_caller_identity.fn(role)
    assume_calls = [
        entry
        for entry in emulator.control("GET", "requests")["requests"]
        if entry["action"] == "AssumeRole"
    ]
    assert len(assume_calls) == 1
