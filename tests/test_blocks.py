"""The credentials and settings blocks, and their registration with Prefect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cloud_helpers import RESPONDER

from akresponder.config import resolve_connection
from akresponder.retry import RetryPolicy
from akresponder.sinks import DiscardSink, FileSink, PrefectSecretSink
from blocks import DEFAULT_DENY_POLICY, AlibabaCloudCredentials, ResponderSettings

ROOT = Path(__file__).resolve().parent.parent


def test_blocks_credentials_to_connection() -> None:
    block = AlibabaCloudCredentials(
        access_key_id=RESPONDER[0],
        access_key_secret=RESPONDER[1],
        region="cn-shanghai",
        role_arn="acs:ram::1234567890123456:role/ops-admin",
        endpoints={
            "default": "127.0.0.1:18931",
            "sls": "127.0.0.1:18932",
            "protocol": "http",
        },
    )
    connection = block.to_connection()
    assert connection.access_key_id == RESPONDER[0]
    assert connection.access_key_secret.get_secret_value() == RESPONDER[1]
    assert connection.region == "cn-shanghai"
    assert connection.endpoint_for("ram") == "127.0.0.1:18931"
    assert connection.endpoint_for("sls") == "127.0.0.1:18932"
    assert connection.protocol == "http"
    assert connection.role_arn == "acs:ram::1234567890123456:role/ops-admin"
    assert connection.credential_source == "block"
    assert RESPONDER[1] not in repr(block)


def test_blocks_credentials_rejects_secret_as_id() -> None:
    with pytest.raises(ValueError) as caught:
        AlibabaCloudCredentials(access_key_id=RESPONDER[1], access_key_secret="x" * 30)
    assert "looks like an AccessKeySecret" in str(caught.value)
    assert RESPONDER[1] not in str(caught.value)


def test_blocks_credentials_rejects_endpoint_path() -> None:
    with pytest.raises(ValueError) as caught:
        AlibabaCloudCredentials(
            access_key_id=RESPONDER[0],
            access_key_secret=RESPONDER[1],
            endpoints={"default": "http://127.0.0.1:1/api"},
        )
    assert "contains a path" in str(caught.value)


def test_blocks_credentials_drive_tasks(emulator) -> None:
    from tasks import sts

    block = AlibabaCloudCredentials(
        access_key_id=RESPONDER[0],
        access_key_secret=RESPONDER[1],
        endpoints={"default": emulator.endpoint, "protocol": "http"},
    )
    connection = resolve_connection(block, environ={})
    identity = sts.get_caller_identity.fn(connection)
    assert identity["Arn"].endswith(":user/ir-responder")


def test_blocks_settings_defaults() -> None:
    settings = ResponderSettings()
    statements = settings.deny_policy_document["Statement"]
    denied = {action for statement in statements for action in statement["Action"]}
    assert all(statement["Effect"] == "Deny" for statement in statements)
    assert {
        "ram:CreateAccessKey",
        "ram:UpdateAccessKey",
        "ecs:DeleteInstances",
    } <= denied
    assert {"oss:DeleteBucket", "log:DeleteLogStore", "dysms:SendSms"} <= denied
    assert len(settings.deny_policy_text()) <= 6144
    assert settings.approval_on_timeout == "deny"
    assert settings.needs_approval("delete_access_key") is True
    assert settings.needs_approval("update_access_key") is False
    assert settings.retry_policy() == RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=20.0
    )
    assert isinstance(settings.secret_sink(), PrefectSecretSink)


def test_blocks_settings_default_policy_is_a_copy() -> None:
    settings = ResponderSettings()
    settings.deny_policy_document["Statement"].clear()
    assert DEFAULT_DENY_POLICY["Statement"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"approval_steps": ["format_disk"]}, "unknown approval step 'format_disk'"),
        ({"deny_policy_document": {"Version": "1"}}, "needs a non-empty Statement"),
        ({"secret_name_template": "{owner}"}, "invalid secret name template"),
        ({"deny_policy_name": "has space"}, "deny_policy_name"),
        ({"approval_on_timeout": "maybe"}, "approval_on_timeout"),
    ],
)
def test_blocks_settings_rejects(values: dict, expected: str) -> None:
    with pytest.raises(ValueError) as caught:
        ResponderSettings(**values)
    assert expected in str(caught.value)


def test_blocks_settings_file_sink(tmp_path: Path) -> None:
    settings = ResponderSettings(
        secret_sink_kind="file", secret_directory=str(tmp_path)
    )
    sink = settings.secret_sink()
    assert isinstance(sink, FileSink)
    assert isinstance(
        ResponderSettings(secret_sink_kind="none").secret_sink(), DiscardSink
    )


@pytest.mark.slow
def test_blocks_register_command_finds_blocks(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "blocks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully registered 2 blocks" in result.stdout
    with get_client(sync_client=True) as client:
        slugs = {
            client.read_block_type_by_slug(slug).slug
            for slug in ("alibaba-cloud-credentials", "akresponder-settings")
        }
    assert slugs == {"alibaba-cloud-credentials", "akresponder-settings"}


def test_blocks_credentials_save_masks_secret(prefect_harness: None) -> None:
    block = AlibabaCloudCredentials(
        access_key_id=RESPONDER[0], access_key_secret=RESPONDER[1]
    )
    block.save("responder-test", overwrite=True)
    loaded = AlibabaCloudCredentials.load("responder-test")
    assert loaded.access_key_secret.get_secret_value() == RESPONDER[1]
    assert loaded.to_connection().access_key_id == RESPONDER[0]


def test_blocks_prefect_secret_sink_stores_json(prefect_harness: None) -> None:
    from prefect.blocks.system import Secret

    sink = PrefectSecretSink()
    secret = "Pq9wE8rT7yU6iO5pA4sD3fG2hJ1kL0"
    where = sink.deliver("app.backend", "LTAI5tNEWKEY000000000001", secret)
    name = "akresponder-app-backend-ltai5tnewkey000000000001"
    assert where == f"prefect Secret block {name}"
    assert secret not in where
    stored = Secret.load(name).get()
    assert stored == {
        "AccessKeyId": "LTAI5tNEWKEY000000000001",
        "AccessKeySecret": secret,
    }
    with pytest.raises(RuntimeError) as caught:
        sink.deliver("app.backend", "LTAI5tNEWKEY000000000001", secret)
    assert "could not save Secret block" in str(caught.value)
    assert secret not in str(caught.value)
