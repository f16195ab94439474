"""STS tasks against the emulator."""

from __future__ import annotations

import pytest
from cloud_helpers import APP_BACKEND, connect

from akresponder.config import ConfigurationError
from akresponder.errors import CloudError
from tasks import ram, sts

ROLE = "acs:ram::1234567890123456:role/ops-admin"


def test_sts_get_caller_identity_responder(emulator) -> None:
    identity = sts.get_caller_identity.fn(connect(emulator))
    assert identity["AccountId"] == "1234567890123456"
    assert identity["IdentityType"] == "RAMUser"
    assert identity["Arn"] == "acs:ram::1234567890123456:user/ir-responder"
    assert "RequestId" not in identity


def test_sts_get_caller_identity_names_key_owner(emulator) -> None:
    # A compromised key's own credentials tell whose key it is, without any RAM
    # permission.
    identity = sts.get_caller_identity.fn(connect(emulator, APP_BACKEND))
    assert identity["Arn"].endswith(":user/app-backend")


def test_sts_get_caller_identity_disabled_key(emulator) -> None:
    ram.update_access_key.fn(
        connect(emulator), "app-backend", APP_BACKEND[0], "Inactive"
    )
    with pytest.raises(CloudError) as caught:
        sts.get_caller_identity.fn(connect(emulator, APP_BACKEND))
    assert caught.value.code == "InvalidAccessKeyId.Inactive"
    assert "Check the responder's AccessKey pair" in str(caught.value)


def test_sts_assume_role_returns_connection(emulator) -> None:
    connection = connect(emulator)
    assumed = sts.assume_role.fn(connection, ROLE, session_name="incident-1")
    assert assumed.access_key_id.startswith("STS.")
    assert assumed.security_token is not None
    assert assumed.endpoint == connection.endpoint
    assert assumed.credential_source == f"assumed-role:{ROLE}"
    identity = sts.get_caller_identity.fn(assumed)
    assert identity["IdentityType"] == "AssumedRoleUser"
    assert identity["Arn"].endswith("ops-admin/incident-1")


def test_sts_assume_role_rejects_bad_arn(emulator) -> None:
    with pytest.raises(ConfigurationError) as caught:
        sts.assume_role.fn(connect(emulator), "arn:aws:iam::1:role/x")
    assert "invalid role ARN" in str(caught.value)


def test_sts_assume_role_missing_role(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        sts.assume_role.fn(
            connect(emulator), "acs:ram::1234567890123456:role/no-such-role"
        )
    assert caught.value.api == "sts:AssumeRole"
    assert caught.value.retryable is False
