"""STS GetCallerIdentity and AssumeRole through the real SDK and real HTTP."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.state import iso, parse_iso
from emulator.testing import RunningEmulator
from tests.helpers import APP_BACKEND, RESPONDER, ROOT, ram_client, sts_client

ACCOUNT = "1234567890123456"
ROLE_ARN = f"acs:ram::{ACCOUNT}:role/ops-admin"


def trust_policy(*principals: str, effect: str = "Allow") -> str:
    statement = {
        "Action": "sts:AssumeRole",
        "Effect": effect,
        "Principal": {"RAM": list(principals)},
    }
    return json.dumps({"Version": "1", "Statement": [statement]})


@pytest.fixture
def emu(emulator: RunningEmulator) -> RunningEmulator:
    return emulator


@pytest.fixture
def sts(emu: RunningEmulator) -> StsClient:
    return sts_client(emu, *RESPONDER)


@pytest.fixture
def ram(emu: RunningEmulator) -> RamClient:
    return ram_client(emu, *RESPONDER)


def expect_error(call, code: str, status: int) -> ClientException:
    """Run ``call`` and return the ClientException, checking its code and status."""
    with pytest.raises(ClientException) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.status_code == status
    return caught.value


def assume(client: StsClient, role_arn: str = ROLE_ARN, **kwargs):
    request = sts_models.AssumeRoleRequest(
        role_arn=role_arn,
        role_session_name=kwargs.pop("session", "ir-session"),
        **kwargs,
    )
    return client.assume_role(request).body


def session_clients(emu: RunningEmulator, credentials) -> tuple[StsClient, RamClient]:
    """Return STS and RAM clients that sign with the temporary credentials."""
    arguments = (
        emu,
        credentials.access_key_id,
        credentials.access_key_secret,
    )
    token = credentials.security_token
    return (
        sts_client(*arguments, security_token=token),
        ram_client(*arguments, security_token=token),
    )


def user_with_key(ram: RamClient, user_name: str, *policies: str) -> tuple[str, str]:
    """Create a RAM user with the given system policies and return its key pair."""
    ram.create_user(ram_models.CreateUserRequest(user_name=user_name))
    for policy_name in policies:
        ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                user_name=user_name, policy_name=policy_name, policy_type="System"
            )
        )
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name=user_name)
    ).body.access_key
    return key.access_key_id, key.access_key_secret


# GetCallerIdentity.


def test_get_caller_identity_of_ram_user(sts):
    body = sts.get_caller_identity().body

    assert body.account_id == ACCOUNT
    assert body.identity_type == "RAMUser"
    assert body.arn == f"acs:ram::{ACCOUNT}:user/ir-responder"
    assert body.user_id == "200000000000000001"
    assert body.principal_id == "200000000000000001"
    assert body.role_id is None


def test_get_caller_identity_of_root(emu):
    body = sts_client(emu, *ROOT).get_caller_identity().body

    assert body.identity_type == "Account"
    assert body.arn == f"acs:ram::{ACCOUNT}:root"
    assert body.user_id == ACCOUNT
    assert body.principal_id == ACCOUNT


def test_get_caller_identity_needs_no_permission(emu, ram):
    key_pair = user_with_key(ram, "no-rights")

    body = sts_client(emu, *key_pair).get_caller_identity().body

    assert body.arn == f"acs:ram::{ACCOUNT}:user/no-rights"


def test_get_caller_identity_of_role_session(emu, sts):
    credentials = assume(sts, session="whoami").credentials
    session_sts, _ = session_clients(emu, credentials)

    body = session_sts.get_caller_identity().body

    role_id = emu.cloud.roles["ops-admin"].role_id
    assert body.identity_type == "AssumedRoleUser"
    assert body.arn == f"acs:ram::{ACCOUNT}:assumed-role/ops-admin/whoami"
    assert body.role_id == role_id
    assert body.principal_id == f"{role_id}:whoami"
    assert body.user_id is None


def test_get_caller_identity_is_recorded_as_sts_read(emu, sts):
    sts.get_caller_identity()

    event = emu.cloud.events[-1]
    assert event["eventName"] == "GetCallerIdentity"
    assert event["serviceName"] == "Sts"
    assert event["eventSource"] == "sts.aliyuncs.com"
    assert event["eventRW"] == "Read"


# AssumeRole.


def test_assume_role_returns_credentials(emu, sts):
    body = assume(sts, session="ir-session")

    credentials = body.credentials
    assert re.fullmatch(r"STS\.[A-Za-z0-9]{28}", credentials.access_key_id)
    assert credentials.access_key_secret
    assert credentials.security_token
    issued = emu.cloud.access_keys[credentials.access_key_id].create_date
    assert credentials.expiration == iso(issued + timedelta(seconds=3600))
    session = emu.cloud.sts_sessions[credentials.access_key_id]
    assert session.expiration == parse_iso(credentials.expiration)
    role_id = emu.cloud.roles["ops-admin"].role_id
    assert body.assumed_role_user.arn == f"{ROLE_ARN}/ir-session"
    assert body.assumed_role_user.assumed_role_id == f"{role_id}:ir-session"


def test_assume_role_stores_the_session(emu, sts):
    credentials = assume(sts).credentials

    session = emu.cloud.sts_sessions[credentials.access_key_id]
    assert session.role_name == "ops-admin"
    assert session.session_name == "ir-session"
    assert session.issued_by == RESPONDER[0]
    assert session.policy is None
    key = emu.cloud.access_keys[credentials.access_key_id]
    assert key.owner_type == "assumed-role"
    assert key.status == "Active"


def test_assume_role_credentials_call_ram_as_the_role(emu, sts):
    credentials = assume(sts).credentials
    _, session_ram = session_clients(emu, credentials)

    users = session_ram.list_users(ram_models.ListUsersRequest()).body.users.user

    assert "ir-responder" in [user.user_name for user in users]
    identity = emu.cloud.events[-1]["userIdentity"]
    assert identity["type"] == "assumed-role"
    assert identity["accessKeyId"] == credentials.access_key_id
    assert identity["userName"] == "ops-admin:ir-session"


def test_assume_role_name_is_case_insensitive(sts):
    body = assume(sts, role_arn=f"acs:ram::{ACCOUNT}:role/OPS-Admin")

    assert body.assumed_role_user.arn == f"{ROLE_ARN}/ir-session"


def test_assume_role_duration_sets_expiration(emu, sts):
    credentials = assume(sts, duration_seconds=900).credentials

    issued = emu.cloud.access_keys[credentials.access_key_id].create_date
    assert credentials.expiration == iso(issued + timedelta(seconds=900))


@pytest.mark.parametrize("seconds", [899, 3601])
def test_assume_role_duration_out_of_range_is_rejected(sts, seconds):
    error = expect_error(
        lambda: assume(sts, duration_seconds=seconds),
        "InvalidParameter.DurationSeconds",
        400,
    )
    assert str(seconds) in error.message


def test_assume_role_duration_up_to_role_maximum(emu, ram, sts):
    ram.create_role(
        ram_models.CreateRoleRequest(
            role_name="long-role",
            assume_role_policy_document=trust_policy(f"acs:ram::{ACCOUNT}:root"),
            max_session_duration=7200,
        )
    )

    credentials = assume(
        sts, role_arn=f"acs:ram::{ACCOUNT}:role/long-role", duration_seconds=7200
    ).credentials

    issued = emu.cloud.access_keys[credentials.access_key_id].create_date
    assert credentials.expiration == iso(issued + timedelta(seconds=7200))


@pytest.mark.parametrize("session", ["a", "has space", "x" * 65, "bad/name"])
def test_assume_role_invalid_session_name_is_rejected(sts, session):
    expect_error(
        lambda: assume(sts, session=session), "InvalidParameter.RoleSessionName", 400
    )


@pytest.mark.parametrize(
    "role_arn", ["ops-admin", f"acs:ram::{ACCOUNT}:user/ops-admin", "acs:ram::x:role/a"]
)
def test_assume_role_malformed_arn_is_rejected(sts, role_arn):
    expect_error(
        lambda: assume(sts, role_arn=role_arn), "InvalidParameter.RoleArn", 400
    )


def test_assume_role_unknown_role_is_not_found(sts):
    error = expect_error(
        lambda: assume(sts, role_arn=f"acs:ram::{ACCOUNT}:role/ghost"),
        "EntityNotExist.Role",
        404,
    )
    assert "ghost" in error.message


def test_assume_role_other_account_is_not_found(sts):
    expect_error(
        lambda: assume(sts, role_arn="acs:ram::9999999999999999:role/ops-admin"),
        "EntityNotExist.Role",
        404,
    )


def test_assume_role_without_sts_permission_is_denied(emu):
    backend_sts = sts_client(emu, *APP_BACKEND)

    error = expect_error(lambda: assume(backend_sts), "NoPermission", 403)

    assert "sts:AssumeRole" in error.message
    assert emu.cloud.sts_sessions == {}


def test_assume_role_by_root_is_denied(emu):
    error = expect_error(lambda: assume(sts_client(emu, *ROOT)), "NoPermission", 403)

    assert "Roles may not be assumed by root accounts." in error.message


def test_assume_role_trust_policy_names_one_user(emu, ram, sts):
    ram.create_role(
        ram_models.CreateRoleRequest(
            role_name="alice-only",
            assume_role_policy_document=trust_policy(
                f"acs:ram::{ACCOUNT}:user/assumer"
            ),
        )
    )
    role_arn = f"acs:ram::{ACCOUNT}:role/alice-only"
    assumer = sts_client(
        emu, *user_with_key(ram, "assumer", "AliyunSTSAssumeRoleAccess")
    )

    error = expect_error(lambda: assume(sts, role_arn=role_arn), "NoPermission", 403)
    assert "does not trust you" in error.message
    assert assume(assumer, role_arn=role_arn).credentials.access_key_id


def test_assume_role_trust_policy_deny_wins(ram, sts):
    document = json.loads(trust_policy(f"acs:ram::{ACCOUNT}:root"))
    document["Statement"].append(
        json.loads(
            trust_policy(f"acs:ram::{ACCOUNT}:user/ir-responder", effect="Deny")
        )["Statement"][0]
    )
    ram.create_role(
        ram_models.CreateRoleRequest(
            role_name="deny-responder", assume_role_policy_document=json.dumps(document)
        )
    )

    expect_error(
        lambda: assume(sts, role_arn=f"acs:ram::{ACCOUNT}:role/deny-responder"),
        "NoPermission",
        403,
    )


def test_assume_role_from_role_session(emu, sts):
    credentials = assume(sts).credentials
    session_sts, _ = session_clients(emu, credentials)

    chained = assume(session_sts, session="chained").credentials

    assert emu.cloud.sts_sessions[chained.access_key_id].issued_by == (
        credentials.access_key_id
    )


# Session policies restrict what the session may do.


def test_assume_role_session_policy_restricts_actions(emu, sts):
    policy = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "ram:ListUsers", "Resource": "*"}
            ],
        }
    )
    credentials = assume(sts, policy=policy).credentials
    _, session_ram = session_clients(emu, credentials)

    session_ram.list_users(ram_models.ListUsersRequest())
    expect_error(
        lambda: session_ram.list_roles(ram_models.ListRolesRequest()),
        "NoPermission",
        403,
    )
    assert emu.cloud.sts_sessions[credentials.access_key_id].policy == policy


def test_assume_role_malformed_session_policy_is_rejected(sts):
    expect_error(
        lambda: assume(sts, policy='{"Version": "1"}'),
        "InvalidParameter.PolicyGrammar",
        400,
    )


def test_assume_role_session_policy_too_long(sts):
    actions = [f"ecs:Action{index:04d}" for index in range(150)]
    policy = json.dumps(
        {
            "Version": "1",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )
    assert len(policy) > 2048

    expect_error(lambda: assume(sts, policy=policy), "InvalidParameter.PolicySize", 400)


# Expiry and the security token.


def test_sts_credentials_expire_on_the_emulator_clock(emu, sts):
    credentials = assume(sts, duration_seconds=900).credentials
    session_sts, _ = session_clients(emu, credentials)
    session_sts.get_caller_identity()

    emu.cloud.clock.advance(901)

    expect_error(session_sts.get_caller_identity, "InvalidSecurityToken.Expired", 400)


def test_sts_key_without_token_is_rejected(emu, sts):
    credentials = assume(sts).credentials
    no_token = sts_client(emu, credentials.access_key_id, credentials.access_key_secret)

    expect_error(no_token.get_caller_identity, "MissingSecurityToken", 400)


# Secrets never reach ActionTrail.


def test_assume_role_secret_and_token_are_never_recorded(emu, sts):
    credentials = assume(sts).credentials
    session_sts, _ = session_clients(emu, credentials)
    session_sts.get_caller_identity()

    event = next(e for e in emu.cloud.events if e["eventName"] == "AssumeRole")
    assert event["serviceName"] == "Sts"
    assert event["eventSource"] == "sts.aliyuncs.com"
    assert event["eventRW"] == "Write"
    recorded = event["responseElements"]["Credentials"]
    assert recorded["AccessKeyId"] == credentials.access_key_id
    assert "AccessKeySecret" not in recorded
    assert "SecurityToken" not in recorded
    assert event["referencedResources"] == {
        "ACS::RAM::Role": [ROLE_ARN],
        "ACS::RAM::AccessKey": [credentials.access_key_id],
    }
    everything = json.dumps(emu.cloud.events) + json.dumps(emu.cloud.sls_logs)
    assert credentials.access_key_secret not in everything
    assert credentials.security_token not in everything
