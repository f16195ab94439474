"""Connection settings: AccessKey ID checks, endpoints and the credential chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akresponder import redact
from akresponder.config import (
    CloudConnection,
    ConfigurationError,
    parse_endpoint,
    resolve_connection,
    validate_access_key_id,
)

KEY_ID = "LTAI5tRESPONDER000000001"
SECRET = "rsSecretResponderKey000000000001"
ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
}


@pytest.mark.parametrize(
    "key_id",
    [
        "LTAI5tRESPONDER000000001",  # current 24-character form
        "LTAI4FoLmvQ9urWXgSRpDvh1",
        "LTAIabcdefgh1234",  # old 16-character form
        "STS.NUgYrLnoC37mZZCNnAbez2Bx",
    ],
)
def test_validate_access_key_id_accepts_real_shapes(key_id: str) -> None:
    assert validate_access_key_id(key_id) == key_id


@pytest.mark.parametrize(
    ("key_id", "expected"),
    [
        (" LTAI5tRESPONDER000000001", "contains whitespace"),
        ("LTAI5tRESPONDER 000000001", "contains whitespace"),
        ('"LTAI5tRESPONDER000000001"', "contains quotes"),
        ("'LTAI5tRESPONDER000000001'", "contains quotes"),
        ("AKIAIOSFODNN7EXAMPLE", "invalid AccessKey ID 'AKIAIOSFODNN7EXAMPLE'"),
        ("LTAI123", "invalid AccessKey ID 'LTAI123'"),
        ("LTAI5tRESPONDER0000000012345", "invalid AccessKey ID"),
        ("STS.", "invalid AccessKey ID"),
        ("", "is empty"),
        ("   ", "is empty"),
    ],
)
def test_validate_access_key_id_rejects_bad_shapes(key_id: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_access_key_id(key_id)
    assert expected in str(caught.value)
    assert "LTAI' followed by 12 to 20" in str(caught.value)


def test_validate_access_key_id_never_echoes_secret() -> None:
    secret = "Xq3vLpT9sWmZ2aKcR7nB4dYhF8jE1u"  # 30 characters, like a real secret
    with pytest.raises(ConfigurationError) as caught:
        validate_access_key_id(secret)
    message = str(caught.value)
    assert "looks like an AccessKeySecret" in message
    assert "give the AccessKey ID" in message
    assert secret not in message
    assert redact.scrub_text(f"oops {secret}") == "oops ***"


def test_validate_access_key_id_quoted_secret_not_echoed() -> None:
    secret = "Xq3vLpT9sWmZ2aKcR7nB4dYhF8jE1v"
    with pytest.raises(ConfigurationError) as caught:
        validate_access_key_id(f'"{secret}"')
    assert secret not in str(caught.value)


def test_connection_rejects_secret_pasted_as_id() -> None:
    secret = "Xq3vLpT9sWmZ2aKcR7nB4dYhF8jE1w"
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(
            environ={
                "ALIBABA_CLOUD_ACCESS_KEY_ID": secret,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            }
        )
    assert secret not in str(caught.value)
    assert "access_key_id" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:18931", ("127.0.0.1:18931", None)),
        ("http://127.0.0.1:18931", ("127.0.0.1:18931", "http")),
        ("https://ram.aliyuncs.com", ("ram.aliyuncs.com", "https")),
        (
            "ram-vpc.cn-hangzhou.aliyuncs.com",
            ("ram-vpc.cn-hangzhou.aliyuncs.com", None),
        ),
        ("http://localhost:8080/", ("localhost:8080", "http")),
    ],
)
def test_parse_endpoint_accepts_host_port(text: str, expected: tuple) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "endpoint is empty"),
        ("ftp://127.0.0.1:21", "use http:// or https://"),
        ("http://127.0.0.1:18931/api", "contains a path"),
        ("127.0.0.1:http", "invalid port 'http'"),
        ("127.0.0.1:70000", "invalid port '70000'"),
        ("http://:18931", "has no valid host"),
    ],
)
def test_parse_endpoint_rejects_bad_values(text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_endpoint(text)
    assert expected in str(caught.value)


def test_resolve_connection_reads_environment() -> None:
    connection = resolve_connection(
        environ=dict(ENV, ALIBABA_CLOUD_REGION_ID="cn-shanghai")
    )
    assert connection.access_key_id == KEY_ID
    assert connection.access_key_secret.get_secret_value() == SECRET
    assert connection.security_token is None
    assert connection.region == "cn-shanghai"
    assert connection.credential_source == "environment"
    assert connection.endpoint is None
    assert connection.protocol == "https"


def test_resolve_connection_reads_security_token() -> None:
    environ = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.NUgYrLnoC37mZZCNnAbez2Bx",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": "CAIS-test-token-value-0001",
    }
    connection = resolve_connection(environ=environ)
    assert connection.security_token is not None
    assert connection.security_token.get_secret_value() == "CAIS-test-token-value-0001"


def test_resolve_connection_sts_key_needs_token() -> None:
    environ = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.NUgYrLnoC37mZZCNnAbez2Bx",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
    }
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(environ=environ)
    assert "ALIBABA_CLOUD_SECURITY_TOKEN" in str(caught.value)


def test_resolve_connection_endpoint_variable_sends_everything_there() -> None:
    connection = resolve_connection(
        environ=dict(ENV, AKRESPONDER_ENDPOINT="http://127.0.0.1:18931")
    )
    assert connection.endpoint == "127.0.0.1:18931"
    assert connection.protocol == "http"
    for service in ("ram", "sts", "actiontrail", "bss", "ecs", "sls"):
        assert connection.endpoint_for(service) == "127.0.0.1:18931"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:18931", "has no scheme; write it as http://127.0.0.1:18931"),
        ("http://127.0.0.1", "has no port"),
        ("http://127.0.0.1:18931/x", "contains a path"),
    ],
)
def test_resolve_connection_endpoint_variable_checked(
    value: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(environ=dict(ENV, AKRESPONDER_ENDPOINT=value))
    assert expected in str(caught.value)


def test_resolve_connection_half_pair_names_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(environ={"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID})
    message = str(caught.value)
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not" in message
    assert "set both or neither" in message


def test_resolve_connection_without_credentials_skips_metadata(tmp_path: Path) -> None:
    # Nothing configured: under pytest the chain must stop before the ECS metadata
    # service, and the error must explain how to configure credentials.
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(environ={"HOME": str(tmp_path)})
    message = str(caught.value)
    assert "ECS instance role is not tried" in message
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in message
    assert "aliyun configure" in message


def test_resolve_connection_reads_cli_profile(tmp_path: Path) -> None:
    config_dir = tmp_path / ".aliyun"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps(
            {
                "current": "incident",
                "profiles": [
                    {
                        "name": "incident",
                        "mode": "AK",
                        "access_key_id": KEY_ID,
                        "access_key_secret": SECRET,
                        "region_id": "cn-beijing",
                    }
                ],
            }
        )
    )
    connection = resolve_connection(
        environ={"HOME": str(tmp_path), "ALIBABA_CLOUD_PROFILE": "incident"}
    )
    assert connection.access_key_id == KEY_ID
    assert connection.credential_source.startswith("cli-profile:")


def test_resolve_connection_explicit_region_wins() -> None:
    connection = resolve_connection(
        environ=dict(ENV, ALIBABA_CLOUD_REGION_ID="cn-shanghai"), region="eu-central-1"
    )
    assert connection.region == "eu-central-1"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("region", "Hangzhou", "invalid region 'Hangzhou'"),
        ("role_arn", "arn:aws:iam::1:role/x", "expected acs:ram::<account id>:role"),
        ("endpoints", {"oss": "127.0.0.1:1"}, "unknown service 'oss'"),
        ("access_key_secret", " padded ", "leading or trailing whitespace"),
        ("access_key_secret", KEY_ID, "looks like an AccessKey ID"),
    ],
)
def test_connection_rejects_invalid_field(
    field: str, value: object, expected: str
) -> None:
    values = {"access_key_id": KEY_ID, "access_key_secret": SECRET, field: value}
    with pytest.raises(ValueError) as caught:
        CloudConnection(**values)
    assert expected in str(caught.value)


def test_connection_identity_hides_secret_and_tracks_it() -> None:
    first = CloudConnection(access_key_id=KEY_ID, access_key_secret=SECRET)
    second = CloudConnection(access_key_id=KEY_ID, access_key_secret=SECRET + "x")
    assert SECRET not in first.identity()
    assert first.identity() != second.identity()
    assert SECRET not in repr(first)
    assert SECRET not in first.describe()
