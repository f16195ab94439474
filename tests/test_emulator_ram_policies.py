"""RAM policies, versions, attachments and roles through the real SDK and HTTP."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator
from tests.helpers import RESPONDER, ram_client, sts_client

ACCOUNT = "1234567890123456"
TRUST_ACCOUNT = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"RAM": [f"acs:ram::{ACCOUNT}:root"]},
            }
        ],
    }
)


def document(*actions: str, effect: str = "Allow") -> str:
    """Build a one-statement policy document for ``actions`` on every resource."""
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "1", "Statement": [statement]})


@pytest.fixture
def emu(emulator: RunningEmulator) -> RunningEmulator:
    return emulator


@pytest.fixture
def ram(emu: RunningEmulator) -> RamClient:
    return ram_client(emu, *RESPONDER)


def alice_client(emu: RunningEmulator, ram: RamClient) -> RamClient:
    """Give alice (who has no keys) an AccessKey and return her RAM client."""
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="alice")
    ).body.access_key
    return ram_client(emu, key.access_key_id, key.access_key_secret)


def expect_error(call, code: str, status: int) -> ClientException:
    """Run ``call`` and return the ClientException, checking its code and status."""
    with pytest.raises(ClientException) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.status_code == status
    return caught.value


def create_policy(ram: RamClient, name: str, text: str | None = None) -> None:
    ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name=name,
            policy_document=text or document("ecs:DescribeInstances"),
            description=f"{name} for tests",
        )
    )


def create_version(ram: RamClient, name: str, **kwargs):
    return ram.create_policy_version(
        ram_models.CreatePolicyVersionRequest(
            policy_name=name, policy_document=document("ecs:StopInstance"), **kwargs
        )
    ).body.policy_version


def version_ids(ram: RamClient, name: str) -> list[str]:
    versions = ram.list_policy_versions(
        ram_models.ListPolicyVersionsRequest(policy_name=name, policy_type="Custom")
    ).body.policy_versions.policy_version
    return [version.version_id for version in versions]


def user_policy_names(ram: RamClient, user_name: str) -> list[str]:
    policies = ram.list_policies_for_user(
        ram_models.ListPoliciesForUserRequest(user_name=user_name)
    ).body.policies.policy
    return [policy.policy_name for policy in policies]


# CreatePolicy and GetPolicy.


def test_create_policy_then_get_it(emu, ram):
    text = document("ecs:DescribeInstances")
    created = ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name="read-ecs", policy_document=text, description="ECS reads"
        )
    ).body.policy
    assert created.policy_name == "read-ecs"
    assert created.policy_type == "Custom"
    assert created.default_version == "v1"
    assert created.description == "ECS reads"

    body = ram.get_policy(
        ram_models.GetPolicyRequest(policy_name="read-ecs", policy_type="Custom")
    ).body
    assert body.policy.policy_document == text
    assert body.policy.attachment_count == 0
    assert body.default_policy_version.version_id == "v1"
    assert body.default_policy_version.is_default_version is True
    assert body.default_policy_version.policy_document == text


def test_create_policy_existing_name_conflicts(ram):
    expect_error(
        lambda: create_policy(ram, "app-backend-oss"),
        "EntityAlreadyExists.Policy",
        409,
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("read_ecs", "InvalidParameter.PolicyName.InvalidChars"),
        ("x" * 129, "InvalidParameter.PolicyName.Length"),
    ],
)
def test_create_policy_invalid_name_is_rejected(ram, name, code):
    expect_error(lambda: create_policy(ram, name), code, 400)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"Version": "1"}', "Statement"),
        ('{"Version": "2", "Statement": [{}]}', "Version"),
        (
            '{"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "*", '
            '"Resource": "*"}]}',
            "Effect",
        ),
        (
            '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*"}]}',
            "Resource",
        ),
    ],
)
def test_create_policy_malformed_document_is_rejected(ram, text, problem):
    error = expect_error(
        lambda: create_policy(ram, "broken", text), "MalformedPolicyDocument", 400
    )
    assert problem in error.message


def test_create_policy_document_over_6144_chars_is_rejected(ram):
    actions = [f"ecs:Action{index:05d}" for index in range(400)]
    text = document(*actions)
    assert len(text) > 6144

    expect_error(
        lambda: create_policy(ram, "too-long", text),
        "InvalidParameter.PolicyDocument.Length",
        400,
    )


def test_get_policy_system_policy(ram):
    body = ram.get_policy(
        ram_models.GetPolicyRequest(
            policy_name="AdministratorAccess", policy_type="System"
        )
    ).body

    assert body.policy.policy_type == "System"
    assert json.loads(body.policy.policy_document)["Statement"]
    assert body.policy.attachment_count == 2


def test_get_policy_unknown_is_not_found(ram):
    expect_error(
        lambda: ram.get_policy(
            ram_models.GetPolicyRequest(policy_name="nope", policy_type="Custom")
        ),
        "EntityNotExist.Policy",
        404,
    )


def test_get_policy_wrong_type_is_not_found(ram):
    expect_error(
        lambda: ram.get_policy(
            ram_models.GetPolicyRequest(
                policy_name="app-backend-oss", policy_type="System"
            )
        ),
        "EntityNotExist.Policy",
        404,
    )


def test_get_policy_invalid_type_is_rejected(ram):
    error = expect_error(
        lambda: ram.get_policy(
            ram_models.GetPolicyRequest(policy_name="x", policy_type="Managed")
        ),
        "InvalidParameter.PolicyType",
        400,
    )
    assert "Managed" in error.message


# ListPolicies.


def test_list_policies_filters_by_type(ram):
    body = ram.list_policies(ram_models.ListPoliciesRequest(policy_type="Custom")).body

    assert [policy.policy_name for policy in body.policies.policy] == [
        "app-backend-oss"
    ]
    assert body.policies.policy[0].attachment_count == 1
    assert body.is_truncated is False


def test_list_policies_pages_through_all(ram):
    names: list[str] = []
    marker = None
    while True:
        body = ram.list_policies(
            ram_models.ListPoliciesRequest(max_items=4, marker=marker)
        ).body
        names.extend(policy.policy_name for policy in body.policies.policy)
        if not body.is_truncated:
            break
        marker = body.marker

    assert "app-backend-oss" in names
    assert "AdministratorAccess" in names
    assert len(names) == len(set(names))
    assert len(names) > 4


# Policy versions.


def test_create_policy_version_set_as_default(ram):
    version = create_version(ram, "app-backend-oss", set_as_default=True)

    assert version.version_id == "v2"
    assert version.is_default_version is True
    body = ram.get_policy(
        ram_models.GetPolicyRequest(policy_name="app-backend-oss", policy_type="Custom")
    ).body
    assert body.policy.default_version == "v2"
    assert body.default_policy_version.policy_document == version.policy_document


def test_create_policy_version_not_default_keeps_default(ram):
    version = create_version(ram, "app-backend-oss")

    assert version.is_default_version is False
    body = ram.get_policy(
        ram_models.GetPolicyRequest(policy_name="app-backend-oss", policy_type="Custom")
    ).body
    assert body.policy.default_version == "v1"


def test_create_policy_version_sixth_exceeds_limit(ram):
    for _ in range(4):
        create_version(ram, "app-backend-oss")
    assert version_ids(ram, "app-backend-oss") == ["v1", "v2", "v3", "v4", "v5"]

    expect_error(
        lambda: create_version(ram, "app-backend-oss"),
        "LimitExceeded.Policy.Version",
        409,
    )
    assert version_ids(ram, "app-backend-oss") == ["v1", "v2", "v3", "v4", "v5"]


def test_create_policy_version_rotation_drops_oldest_non_default(ram):
    for _ in range(4):
        create_version(ram, "app-backend-oss")

    version = create_version(
        ram,
        "app-backend-oss",
        rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
    )

    assert version.version_id == "v6"
    assert version_ids(ram, "app-backend-oss") == ["v1", "v3", "v4", "v5", "v6"]


def test_create_policy_version_invalid_rotate_strategy_is_rejected(ram):
    error = expect_error(
        lambda: create_version(ram, "app-backend-oss", rotate_strategy="Oldest"),
        "InvalidParameter",
        400,
    )
    assert "RotateStrategy" in error.message


def test_create_policy_version_system_policy(ram):
    expect_error(
        lambda: create_version(ram, "AdministratorAccess"),
        "EntityNotExist.Policy",
        404,
    )


def test_get_policy_version_returns_the_document(ram):
    created = create_version(ram, "app-backend-oss")

    version = ram.get_policy_version(
        ram_models.GetPolicyVersionRequest(
            policy_name="app-backend-oss", policy_type="Custom", version_id="v2"
        )
    ).body.policy_version

    assert version.policy_document == created.policy_document
    assert version.is_default_version is False


def test_set_default_policy_version_switches_default(ram):
    create_version(ram, "app-backend-oss")

    ram.set_default_policy_version(
        ram_models.SetDefaultPolicyVersionRequest(
            policy_name="app-backend-oss", version_id="v2"
        )
    )

    versions = ram.list_policy_versions(
        ram_models.ListPolicyVersionsRequest(
            policy_name="app-backend-oss", policy_type="Custom"
        )
    ).body.policy_versions.policy_version
    assert [v.is_default_version for v in versions] == [False, True]


def test_set_default_policy_version_unknown_is_not_found(ram):
    expect_error(
        lambda: ram.set_default_policy_version(
            ram_models.SetDefaultPolicyVersionRequest(
                policy_name="app-backend-oss", version_id="v9"
            )
        ),
        "EntityNotExist.Policy.Version",
        404,
    )


def test_delete_policy_version_removes_it(ram):
    create_version(ram, "app-backend-oss")

    ram.delete_policy_version(
        ram_models.DeletePolicyVersionRequest(
            policy_name="app-backend-oss", version_id="v2"
        )
    )

    assert version_ids(ram, "app-backend-oss") == ["v1"]


def test_delete_policy_version_default_conflicts(ram):
    expect_error(
        lambda: ram.delete_policy_version(
            ram_models.DeletePolicyVersionRequest(
                policy_name="app-backend-oss", version_id="v1"
            )
        ),
        "DeleteConflict.Policy.Version.Default",
        409,
    )


def test_delete_policy_version_bad_id_is_rejected(ram):
    expect_error(
        lambda: ram.delete_policy_version(
            ram_models.DeletePolicyVersionRequest(
                policy_name="app-backend-oss", version_id="latest"
            )
        ),
        "InvalidParameter.VersionId.Format",
        400,
    )


# DeletePolicy and its conflicts.


def test_delete_policy_removes_an_unused_policy(ram):
    create_policy(ram, "temp-policy")

    ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="temp-policy"))

    expect_error(
        lambda: ram.get_policy(
            ram_models.GetPolicyRequest(policy_name="temp-policy", policy_type="Custom")
        ),
        "EntityNotExist.Policy",
        404,
    )


def test_delete_policy_attached_to_user_conflicts(ram):
    expect_error(
        lambda: ram.delete_policy(
            ram_models.DeletePolicyRequest(policy_name="app-backend-oss")
        ),
        "DeleteConflict.Policy.User",
        409,
    )


def test_delete_policy_attached_to_group_conflicts(ram):
    create_policy(ram, "team-policy")
    ram.attach_policy_to_group(
        ram_models.AttachPolicyToGroupRequest(
            group_name="developers", policy_name="team-policy", policy_type="Custom"
        )
    )

    expect_error(
        lambda: ram.delete_policy(
            ram_models.DeletePolicyRequest(policy_name="team-policy")
        ),
        "DeleteConflict.Policy.Group",
        409,
    )


def test_delete_policy_attached_to_role_conflicts(ram):
    create_policy(ram, "role-policy")
    ram.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            role_name="ops-admin", policy_name="role-policy", policy_type="Custom"
        )
    )

    expect_error(
        lambda: ram.delete_policy(
            ram_models.DeletePolicyRequest(policy_name="role-policy")
        ),
        "DeleteConflict.Policy.Role",
        409,
    )


def test_delete_policy_with_extra_versions_conflicts(ram):
    create_policy(ram, "versioned")
    create_version(ram, "versioned")

    expect_error(
        lambda: ram.delete_policy(
            ram_models.DeletePolicyRequest(policy_name="versioned")
        ),
        "DeleteConflict.Policy.Version",
        409,
    )


def test_delete_policy_cascading_detaches_everywhere(emu, ram):
    create_version(ram, "app-backend-oss")

    ram.delete_policy(
        ram_models.DeletePolicyRequest(
            policy_name="app-backend-oss", cascading_delete=True
        )
    )

    assert user_policy_names(ram, "app-backend") == ["AliyunECSFullAccess"]
    assert ("Custom", "app-backend-oss") not in emu.cloud.policies


def test_delete_policy_system_policy_is_not_found(ram):
    expect_error(
        lambda: ram.delete_policy(
            ram_models.DeletePolicyRequest(policy_name="AdministratorAccess")
        ),
        "EntityNotExist.Policy",
        404,
    )


# Attachments to users: they decide what the user may do at once.


def test_attach_policy_to_user_grants_permission(emu, ram):
    alice = alice_client(emu, ram)
    expect_error(
        lambda: alice.list_users(ram_models.ListUsersRequest()), "NoPermission", 403
    )

    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            user_name="alice",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
        )
    )
    alice.list_users(ram_models.ListUsersRequest())

    ram.detach_policy_from_user(
        ram_models.DetachPolicyFromUserRequest(
            user_name="alice",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
        )
    )
    expect_error(
        lambda: alice.list_users(ram_models.ListUsersRequest()), "NoPermission", 403
    )


def test_attach_policy_to_user_deny_version_revokes(emu, ram):
    alice = alice_client(emu, ram)
    create_policy(ram, "alice-ram", document("ram:List*"))
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            user_name="alice", policy_name="alice-ram", policy_type="Custom"
        )
    )
    alice.list_users(ram_models.ListUsersRequest())

    ram.create_policy_version(
        ram_models.CreatePolicyVersionRequest(
            policy_name="alice-ram",
            policy_document=document("ram:*", effect="Deny"),
            set_as_default=True,
        )
    )

    expect_error(
        lambda: alice.list_users(ram_models.ListUsersRequest()), "NoPermission", 403
    )


def test_list_policies_for_user_returns_attachments(ram):
    policies = ram.list_policies_for_user(
        ram_models.ListPoliciesForUserRequest(user_name="app-backend")
    ).body.policies.policy

    assert [(p.policy_name, p.policy_type) for p in policies] == [
        ("AliyunECSFullAccess", "System"),
        ("app-backend-oss", "Custom"),
    ]
    assert policies[1].description == "Backend access to its OSS bucket"
    assert policies[1].default_version == "v1"
    assert policies[1].attach_date == "2025-02-01T00:00:00Z"


def test_attach_policy_to_user_twice_conflicts(ram):
    expect_error(
        lambda: ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                user_name="app-backend",
                policy_name="app-backend-oss",
                policy_type="Custom",
            )
        ),
        "EntityAlreadyExists.User.Policy",
        409,
    )


def test_attach_policy_to_user_unknown_policy(ram):
    expect_error(
        lambda: ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                user_name="alice", policy_name="ghost", policy_type="Custom"
            )
        ),
        "EntityNotExist.Policy",
        404,
    )


def test_attach_policy_to_user_sixth_custom_exceeds_limit(ram):
    for index in range(4):
        create_policy(ram, f"extra-{index}")
        ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                user_name="app-backend",
                policy_name=f"extra-{index}",
                policy_type="Custom",
            )
        )
    create_policy(ram, "extra-last")

    expect_error(
        lambda: ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                user_name="app-backend", policy_name="extra-last", policy_type="Custom"
            )
        ),
        "LimitExceeded.User.Policy",
        409,
    )


def test_detach_policy_from_user_not_attached(ram):
    expect_error(
        lambda: ram.detach_policy_from_user(
            ram_models.DetachPolicyFromUserRequest(
                user_name="alice",
                policy_name="AdministratorAccess",
                policy_type="System",
            )
        ),
        "EntityNotExist.User.Policy",
        404,
    )


# Attachments to groups and roles.


def test_group_policy_attach_list_detach(ram):
    ram.attach_policy_to_group(
        ram_models.AttachPolicyToGroupRequest(
            group_name="developers",
            policy_name="AliyunLogReadOnlyAccess",
            policy_type="System",
        )
    )
    policies = ram.list_policies_for_group(
        ram_models.ListPoliciesForGroupRequest(group_name="developers")
    ).body.policies.policy
    assert [p.policy_name for p in policies] == [
        "AliyunECSReadOnlyAccess",
        "AliyunLogReadOnlyAccess",
    ]

    ram.detach_policy_from_group(
        ram_models.DetachPolicyFromGroupRequest(
            group_name="developers",
            policy_name="AliyunLogReadOnlyAccess",
            policy_type="System",
        )
    )
    policies = ram.list_policies_for_group(
        ram_models.ListPoliciesForGroupRequest(group_name="developers")
    ).body.policies.policy
    assert [p.policy_name for p in policies] == ["AliyunECSReadOnlyAccess"]


def test_group_policy_errors(ram):
    request = {
        "group_name": "developers",
        "policy_name": "AliyunECSReadOnlyAccess",
        "policy_type": "System",
    }
    expect_error(
        lambda: ram.attach_policy_to_group(
            ram_models.AttachPolicyToGroupRequest(**request)
        ),
        "EntityAlreadyExists.Group.Policy",
        409,
    )
    expect_error(
        lambda: ram.detach_policy_from_group(
            ram_models.DetachPolicyFromGroupRequest(
                group_name="developers",
                policy_name="AdministratorAccess",
                policy_type="System",
            )
        ),
        "EntityNotExist.Group.Policy",
        404,
    )
    expect_error(
        lambda: ram.list_policies_for_group(
            ram_models.ListPoliciesForGroupRequest(group_name="ghosts")
        ),
        "EntityNotExist.Group",
        404,
    )


def test_role_policy_attach_list_detach(ram):
    ram.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            role_name="ops-admin",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
        )
    )
    policies = ram.list_policies_for_role(
        ram_models.ListPoliciesForRoleRequest(role_name="ops-admin")
    ).body.policies.policy
    assert [p.policy_name for p in policies] == [
        "AdministratorAccess",
        "AliyunRAMReadOnlyAccess",
    ]

    ram.detach_policy_from_role(
        ram_models.DetachPolicyFromRoleRequest(
            role_name="ops-admin",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
        )
    )
    expect_error(
        lambda: ram.detach_policy_from_role(
            ram_models.DetachPolicyFromRoleRequest(
                role_name="ops-admin",
                policy_name="AliyunRAMReadOnlyAccess",
                policy_type="System",
            )
        ),
        "EntityNotExist.Role.Policy",
        404,
    )
    expect_error(
        lambda: ram.attach_policy_to_role(
            ram_models.AttachPolicyToRoleRequest(
                role_name="ops-admin",
                policy_name="AdministratorAccess",
                policy_type="System",
            )
        ),
        "EntityAlreadyExists.Role.Policy",
        409,
    )


def test_list_entities_for_policy_names_users_groups_roles(ram):
    admin = ram.list_entities_for_policy(
        ram_models.ListEntitiesForPolicyRequest(
            policy_name="AdministratorAccess", policy_type="System"
        )
    ).body
    assert [user.user_name for user in admin.users.user] == ["ir-responder"]
    assert [role.role_name for role in admin.roles.role] == ["ops-admin"]
    assert admin.roles.role[0].arn == f"acs:ram::{ACCOUNT}:role/ops-admin"
    assert admin.groups.group == []

    read_only = ram.list_entities_for_policy(
        ram_models.ListEntitiesForPolicyRequest(
            policy_name="AliyunECSReadOnlyAccess", policy_type="System"
        )
    ).body
    assert [group.group_name for group in read_only.groups.group] == ["developers"]
    assert read_only.users.user == []


# Roles.


def test_list_roles_returns_the_role(ram):
    body = ram.list_roles(ram_models.ListRolesRequest()).body

    assert [role.role_name for role in body.roles.role] == ["ops-admin"]
    assert body.roles.role[0].max_session_duration == 3600
    assert body.is_truncated is False


def test_list_roles_pages_with_marker(ram):
    for index in range(5):
        ram.create_role(
            ram_models.CreateRoleRequest(
                role_name=f"role-{index}", assume_role_policy_document=TRUST_ACCOUNT
            )
        )
    names: list[str] = []
    marker = None
    while True:
        body = ram.list_roles(
            ram_models.ListRolesRequest(max_items=2, marker=marker)
        ).body
        names.extend(role.role_name for role in body.roles.role)
        if not body.is_truncated:
            break
        marker = body.marker

    assert names == ["ops-admin", "role-0", "role-1", "role-2", "role-3", "role-4"]


def test_get_role_returns_trust_policy(ram):
    role = ram.get_role(ram_models.GetRoleRequest(role_name="ops-admin")).body.role

    assert role.arn == f"acs:ram::{ACCOUNT}:role/ops-admin"
    assert role.role_id
    trust = json.loads(role.assume_role_policy_document)
    assert trust["Statement"][0]["Principal"]["RAM"] == [f"acs:ram::{ACCOUNT}:root"]


def test_get_role_name_is_case_insensitive(ram):
    role = ram.get_role(ram_models.GetRoleRequest(role_name="Ops-Admin")).body.role

    assert role.role_name == "ops-admin"


def test_get_role_unknown_is_not_found(ram):
    expect_error(
        lambda: ram.get_role(ram_models.GetRoleRequest(role_name="ghost")),
        "EntityNotExist.Role",
        404,
    )


def test_create_role_then_get(ram):
    created = ram.create_role(
        ram_models.CreateRoleRequest(
            role_name="Backdoor",
            assume_role_policy_document=TRUST_ACCOUNT,
            description="made by a test",
            max_session_duration=7200,
        )
    ).body.role

    assert created.role_name == "Backdoor"
    assert created.arn == f"acs:ram::{ACCOUNT}:role/backdoor"
    assert created.max_session_duration == 7200
    fetched = ram.get_role(ram_models.GetRoleRequest(role_name="Backdoor")).body.role
    assert fetched.role_id == created.role_id
    assert fetched.description == "made by a test"


def test_create_role_name_taken_ignoring_case_conflicts(ram):
    expect_error(
        lambda: ram.create_role(
            ram_models.CreateRoleRequest(
                role_name="OPS-Admin", assume_role_policy_document=TRUST_ACCOUNT
            )
        ),
        "EntityAlreadyExists.Role",
        409,
    )


def test_create_role_trust_policy_without_principal_is_rejected(ram):
    expect_error(
        lambda: ram.create_role(
            ram_models.CreateRoleRequest(
                role_name="no-principal",
                assume_role_policy_document=document("sts:AssumeRole"),
            )
        ),
        "MalformedPolicyDocument",
        400,
    )


def test_create_role_rejects_short_max_session(ram):
    error = expect_error(
        lambda: ram.create_role(
            ram_models.CreateRoleRequest(
                role_name="short",
                assume_role_policy_document=TRUST_ACCOUNT,
                max_session_duration=600,
            )
        ),
        "InvalidParameter",
        400,
    )
    assert "MaxSessionDuration" in error.message


def test_delete_role_with_policies_conflicts(ram):
    expect_error(
        lambda: ram.delete_role(ram_models.DeleteRoleRequest(role_name="ops-admin")),
        "DeleteConflict.Role.Policy",
        409,
    )


def test_delete_role_ends_its_sessions(emu, ram):
    ram.create_role(
        ram_models.CreateRoleRequest(
            role_name="short-lived", assume_role_policy_document=TRUST_ACCOUNT
        )
    )
    credentials = (
        sts_client(emu, *RESPONDER)
        .assume_role(
            sts_models.AssumeRoleRequest(
                role_arn=f"acs:ram::{ACCOUNT}:role/short-lived",
                role_session_name="probe",
            )
        )
        .body.credentials
    )

    ram.delete_role(ram_models.DeleteRoleRequest(role_name="short-lived"))

    assert credentials.access_key_id not in emu.cloud.sts_sessions
    session_sts = sts_client(
        emu,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )
    expect_error(session_sts.get_caller_identity, "InvalidAccessKeyId.NotFound", 404)


# Account alias and trail records.


def test_get_account_alias_defaults_to_account_id(ram):
    assert ram.get_account_alias().body.account_alias == ACCOUNT


def test_policy_actions_are_recorded_as_ram_events(emu, ram):
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            user_name="alice",
            policy_name="AdministratorAccess",
            policy_type="System",
        )
    )

    event = emu.cloud.events[-1]
    assert event["eventName"] == "AttachPolicyToUser"
    assert event["serviceName"] == "Ram"
    assert event["eventSource"] == "ram.aliyuncs.com"
    assert event["eventRW"] == "Write"
    assert event["referencedResources"] == {
        "ACS::RAM::User": ["alice"],
        "ACS::RAM::Policy": ["AdministratorAccess"],
    }
