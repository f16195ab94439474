"""RAM AccessKey actions through the real SDK: limits, status, root keys and secrets."""

from __future__ import annotations

import json
import re

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.state import iso
from emulator.testing import RunningEmulator
from tests.helpers import (
    APP_BACKEND,
    CI_DEPLOY_A,
    CI_DEPLOY_B,
    RESPONDER,
    ROOT,
    ram_client,
    sts_client,
)

ROLE_ARN = "acs:ram::1234567890123456:role/ops-admin"


@pytest.fixture
def emu(emulator: RunningEmulator) -> RunningEmulator:
    return emulator


@pytest.fixture
def ram(emu: RunningEmulator) -> RamClient:
    return ram_client(emu, *RESPONDER)


@pytest.fixture
def root_ram(emu: RunningEmulator) -> RamClient:
    return ram_client(emu, *ROOT)


def expect_error(call, code: str, status: int) -> ClientException:
    """Run ``call`` and return the ClientException, checking its code and status."""
    with pytest.raises(ClientException) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.status_code == status
    return caught.value


def key_ids(client: RamClient, user_name: str | None = None) -> list[str]:
    body = client.list_access_keys(
        ram_models.ListAccessKeysRequest(user_name=user_name)
    )
    return [key.access_key_id for key in body.body.access_keys.access_key]


def call_with_key(emu: RunningEmulator, key_id: str, secret: str) -> None:
    """Make one signed call with the key; GetCallerIdentity needs no permission."""
    sts_client(emu, key_id, secret).get_caller_identity()


# ListAccessKeys.


def test_list_access_keys_of_a_user(ram):
    body = ram.list_access_keys(
        ram_models.ListAccessKeysRequest(user_name="ci-deploy")
    ).body

    keys = body.access_keys.access_key
    assert [key.access_key_id for key in keys] == [CI_DEPLOY_A[0], CI_DEPLOY_B[0]]
    assert [key.status for key in keys] == ["Active", "Active"]
    assert keys[0].create_date == "2025-03-01T00:00:00Z"


def test_list_access_keys_user_without_keys(ram):
    assert key_ids(ram, "alice") == []


def test_list_access_keys_defaults_to_caller(ram):
    assert key_ids(ram) == [RESPONDER[0]]


def test_list_access_keys_as_root_lists_root_keys(root_ram):
    assert key_ids(root_ram) == [ROOT[0]]


def test_list_access_keys_unknown_user_is_not_found(ram):
    expect_error(
        lambda: key_ids(ram, "nobody"),
        "EntityNotExist.User",
        404,
    )


def test_list_access_keys_role_session_needs_user(emu):
    credentials = (
        sts_client(emu, *RESPONDER)
        .assume_role(
            sts_models.AssumeRoleRequest(role_arn=ROLE_ARN, role_session_name="ir")
        )
        .body.credentials
    )
    session_ram = ram_client(
        emu,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )

    error = expect_error(lambda: key_ids(session_ram), "MissingParameter", 400)
    assert "UserName" in error.message
    assert key_ids(session_ram, "ci-deploy") == [CI_DEPLOY_A[0], CI_DEPLOY_B[0]]


# CreateAccessKey.


def test_create_access_key_returns_a_working_key(emu, ram):
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="ir-responder")
    ).body.access_key

    assert re.fullmatch(r"LTAI5t[A-Za-z0-9]{18}", key.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{30}", key.access_key_secret)
    assert key.status == "Active"
    assert key.create_date == iso(emu.cloud.access_keys[key.access_key_id].create_date)
    call_with_key(emu, key.access_key_id, key.access_key_secret)
    assert key_ids(ram, "ir-responder") == [RESPONDER[0], key.access_key_id]


def test_create_access_key_secret_is_never_recorded(emu, ram):
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="alice")
    ).body.access_key
    call_with_key(emu, key.access_key_id, key.access_key_secret)

    event = next(e for e in emu.cloud.events if e["eventName"] == "CreateAccessKey")
    assert event["responseElements"]["AccessKey"]["AccessKeyId"] == key.access_key_id
    assert "AccessKeySecret" not in event["responseElements"]["AccessKey"]
    assert event["referencedResources"] == {
        "ACS::RAM::User": ["alice"],
        "ACS::RAM::AccessKey": [key.access_key_id],
    }
    assert key.access_key_secret not in json.dumps(emu.cloud.events)
    assert key.access_key_secret not in json.dumps(emu.cloud.sls_logs)


def test_create_access_key_third_key_exceeds_limit(emu, ram):
    error = expect_error(
        lambda: ram.create_access_key(
            ram_models.CreateAccessKeyRequest(user_name="ci-deploy")
        ),
        "LimitExceeded.User.AccessKey",
        409,
    )

    assert "ci-deploy" in error.message
    assert key_ids(ram, "ci-deploy") == [CI_DEPLOY_A[0], CI_DEPLOY_B[0]]


def test_create_access_key_after_delete_fits_the_limit(ram):
    ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(
            user_name="ci-deploy", user_access_key_id=CI_DEPLOY_A[0]
        )
    )

    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="ci-deploy")
    ).body.access_key

    assert key_ids(ram, "ci-deploy") == [CI_DEPLOY_B[0], key.access_key_id]


def test_create_access_key_defaults_to_caller(emu, ram):
    key = ram.create_access_key(ram_models.CreateAccessKeyRequest()).body.access_key

    assert emu.cloud.access_keys[key.access_key_id].user_name == "ir-responder"


def test_create_access_key_unknown_user_is_not_found(ram):
    expect_error(
        lambda: ram.create_access_key(
            ram_models.CreateAccessKeyRequest(user_name="nobody")
        ),
        "EntityNotExist.User",
        404,
    )


# UpdateAccessKey: the status takes effect on the next request.


def test_update_access_key_inactive_rejects_the_key(emu, ram):
    call_with_key(emu, *CI_DEPLOY_A)

    ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="ci-deploy", user_access_key_id=CI_DEPLOY_A[0], status="Inactive"
        )
    )

    expect_error(
        lambda: call_with_key(emu, *CI_DEPLOY_A),
        "InvalidAccessKeyId.Inactive",
        400,
    )
    call_with_key(emu, *CI_DEPLOY_B)
    statuses = ram.list_access_keys(
        ram_models.ListAccessKeysRequest(user_name="ci-deploy")
    ).body.access_keys.access_key
    assert [key.status for key in statuses] == ["Inactive", "Active"]


def test_update_access_key_active_restores_the_key(emu, ram):
    for status in ("Inactive", "Active"):
        ram.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_name="app-backend",
                user_access_key_id=APP_BACKEND[0],
                status=status,
            )
        )

    sts_client(emu, *APP_BACKEND).get_caller_identity()


def test_update_access_key_invalid_status_is_rejected(ram):
    error = expect_error(
        lambda: ram.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_name="app-backend",
                user_access_key_id=APP_BACKEND[0],
                status="Disabled",
            )
        ),
        "InvalidParameter",
        400,
    )
    assert "Disabled" in error.message


def test_update_access_key_other_users_key(emu, ram):
    error = expect_error(
        lambda: ram.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_name="alice", user_access_key_id=APP_BACKEND[0], status="Inactive"
            )
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )

    assert "The user access key does not exist." in error.message
    assert emu.cloud.access_keys[APP_BACKEND[0]].status == "Active"


def test_update_access_key_unknown_key_is_not_found(ram):
    expect_error(
        lambda: ram.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_name="alice",
                user_access_key_id="LTAI5tDOESNOTEXIST000001",
                status="Inactive",
            )
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )


def test_update_access_key_own_key_without_user_name(emu):
    backend = ram_client(emu, *RESPONDER)
    ci = ram_client(emu, *CI_DEPLOY_A)
    backend.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            user_name="ci-deploy",
            policy_name="AliyunRAMFullAccess",
            policy_type="System",
        )
    )

    ci.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_access_key_id=CI_DEPLOY_B[0], status="Inactive"
        )
    )

    assert emu.cloud.access_keys[CI_DEPLOY_B[0]].status == "Inactive"


def test_update_access_key_without_permission_is_denied(emu):
    backend = ram_client(emu, *APP_BACKEND)

    expect_error(
        lambda: backend.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_name="ci-deploy",
                user_access_key_id=CI_DEPLOY_A[0],
                status="Inactive",
            )
        ),
        "NoPermission",
        403,
    )
    assert emu.cloud.access_keys[CI_DEPLOY_A[0]].status == "Active"


# DeleteAccessKey.


def test_delete_access_key_removes_it_from_authentication(emu, ram):
    ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(
            user_name="app-backend", user_access_key_id=APP_BACKEND[0]
        )
    )

    assert key_ids(ram, "app-backend") == []
    expect_error(
        lambda: call_with_key(emu, *APP_BACKEND),
        "InvalidAccessKeyId.NotFound",
        404,
    )


def test_delete_access_key_twice_is_not_found(ram):
    request = ram_models.DeleteAccessKeyRequest(
        user_name="app-backend", user_access_key_id=APP_BACKEND[0]
    )
    ram.delete_access_key(request)

    expect_error(
        lambda: ram.delete_access_key(request), "EntityNotExist.User.AccessKey", 404
    )


def test_delete_access_key_other_users_key(emu, ram):
    expect_error(
        lambda: ram.delete_access_key(
            ram_models.DeleteAccessKeyRequest(
                user_name="alice", user_access_key_id=CI_DEPLOY_A[0]
            )
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )
    assert CI_DEPLOY_A[0] in emu.cloud.access_keys


# GetAccessKeyLastUsed.


def test_get_access_key_last_used_follows_use(emu, ram):
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="alice")
    ).body.access_key

    def last_used() -> str | None:
        return ram.get_access_key_last_used(
            ram_models.GetAccessKeyLastUsedRequest(
                user_name="alice", user_access_key_id=key.access_key_id
            )
        ).body.access_key_last_used.last_used_date

    assert last_used() is None
    call_with_key(emu, key.access_key_id, key.access_key_secret)
    used = emu.cloud.access_keys[key.access_key_id].last_used
    assert used is not None
    assert last_used() == iso(used)


def test_get_access_key_last_used_of_scenario_key(emu, ram):
    body = ram.get_access_key_last_used(
        ram_models.GetAccessKeyLastUsedRequest(
            user_name="app-backend", user_access_key_id=APP_BACKEND[0]
        )
    ).body

    expected = iso(emu.cloud.access_keys[APP_BACKEND[0]].last_used)
    assert body.access_key_last_used.last_used_date == expected


def test_get_access_key_last_used_unknown_key(ram):
    expect_error(
        lambda: ram.get_access_key_last_used(
            ram_models.GetAccessKeyLastUsedRequest(
                user_name="app-backend", user_access_key_id=CI_DEPLOY_A[0]
            )
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )


# Root keys: RAM manages them only for a root caller that names no user.


@pytest.mark.parametrize("user_name", ["ir-responder", "alice"])
def test_root_key_with_user_name_is_not_found(emu, ram, root_ram, user_name):
    for client in (ram, root_ram):
        expect_error(
            lambda c=client: c.update_access_key(
                ram_models.UpdateAccessKeyRequest(
                    user_name=user_name, user_access_key_id=ROOT[0], status="Inactive"
                )
            ),
            "EntityNotExist.User.AccessKey",
            404,
        )
        expect_error(
            lambda c=client: c.delete_access_key(
                ram_models.DeleteAccessKeyRequest(
                    user_name=user_name, user_access_key_id=ROOT[0]
                )
            ),
            "EntityNotExist.User.AccessKey",
            404,
        )
        expect_error(
            lambda c=client: c.get_access_key_last_used(
                ram_models.GetAccessKeyLastUsedRequest(
                    user_name=user_name, user_access_key_id=ROOT[0]
                )
            ),
            "EntityNotExist.User.AccessKey",
            404,
        )
    assert emu.cloud.access_keys[ROOT[0]].status == "Active"


def test_root_key_hidden_from_ram_user(emu, ram):
    expect_error(
        lambda: ram.update_access_key(
            ram_models.UpdateAccessKeyRequest(
                user_access_key_id=ROOT[0], status="Inactive"
            )
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )
    assert emu.cloud.access_keys[ROOT[0]].status == "Active"


def test_root_caller_manages_its_own_keys(emu, root_ram):
    key = root_ram.create_access_key(
        ram_models.CreateAccessKeyRequest()
    ).body.access_key
    assert emu.cloud.access_keys[key.access_key_id].owner_type == "root-account"
    assert key_ids(root_ram) == [ROOT[0], key.access_key_id]

    root_ram.get_access_key_last_used(
        ram_models.GetAccessKeyLastUsedRequest(user_access_key_id=ROOT[0])
    )
    root_ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_access_key_id=key.access_key_id, status="Inactive"
        )
    )
    expect_error(
        lambda: call_with_key(emu, key.access_key_id, key.access_key_secret),
        "InvalidAccessKeyId.Inactive",
        400,
    )
    root_ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(user_access_key_id=key.access_key_id)
    )
    assert key_ids(root_ram) == [ROOT[0]]


def test_root_caller_needs_user_name_for_user_keys(emu, root_ram):
    expect_error(
        lambda: root_ram.delete_access_key(
            ram_models.DeleteAccessKeyRequest(user_access_key_id=APP_BACKEND[0])
        ),
        "EntityNotExist.User.AccessKey",
        404,
    )
    assert APP_BACKEND[0] in emu.cloud.access_keys


# ActionTrail records of key actions.


def test_key_actions_are_recorded_as_ims_writes(emu, ram):
    ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="app-backend",
            user_access_key_id=APP_BACKEND[0],
            status="Inactive",
        )
    )

    event = emu.cloud.events[-1]
    assert event["eventName"] == "UpdateAccessKey"
    assert event["serviceName"] == "Ims"
    assert event["eventRW"] == "Write"
    assert event["requestParameters"]["UserAccessKeyId"] == APP_BACKEND[0]
    assert event["referencedResources"] == {
        "ACS::RAM::User": ["app-backend"],
        "ACS::RAM::AccessKey": [APP_BACKEND[0]],
    }
