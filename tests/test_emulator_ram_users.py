"""RAM users, groups, console logins and MFA through the real SDK and real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, ram_client

BASIC = Path(__file__).parent / "scenarios" / "basic.json"


@pytest.fixture
def emu(emulator: RunningEmulator) -> RunningEmulator:
    return emulator


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


# ListUsers paging.


def test_list_users_returns_every_user_in_one_page(ram):
    body = ram.list_users(ram_models.ListUsersRequest()).body

    names = [user.user_name for user in body.users.user]
    assert names == ["alice", "app-backend", "ci-deploy", "ir-responder"]
    assert body.is_truncated is False
    assert body.marker is None


def test_list_users_fields_match_the_scenario(ram):
    body = ram.list_users(ram_models.ListUsersRequest()).body

    backend = next(u for u in body.users.user if u.user_name == "app-backend")
    assert backend.user_id == "200000000000000002"
    assert backend.display_name == "Backend service"
    assert backend.create_date == "2025-02-01T00:00:00Z"
    assert backend.update_date == "2025-02-01T00:00:00Z"


@pytest.fixture
def many_users_emu():
    scenario = json.loads(BASIC.read_text(encoding="utf-8"))
    scenario["users"].extend(
        {"UserName": f"bulk-{index:03d}", "UserId": f"29{index:016d}"}
        for index in range(250)
    )
    with start_emulator(scenario) as running:
        yield running


def test_list_users_pages_to_the_last_page(many_users_emu):
    ram = ram_client(many_users_emu, *RESPONDER)
    names: list[str] = []
    pages = 0
    marker = None
    while True:
        body = ram.list_users(ram_models.ListUsersRequest(marker=marker)).body
        pages += 1
        names.extend(user.user_name for user in body.users.user)
        if not body.is_truncated:
            assert body.marker is None
            break
        assert body.marker
        assert len(body.users.user) == 100
        marker = body.marker

    assert pages == 3
    assert len(names) == 254
    assert len(set(names)) == 254
    assert names == sorted(names)


def test_list_users_max_items_sets_the_page_size(many_users_emu):
    ram = ram_client(many_users_emu, *RESPONDER)

    first = ram.list_users(ram_models.ListUsersRequest(max_items=7)).body
    second = ram.list_users(
        ram_models.ListUsersRequest(max_items=7, marker=first.marker)
    ).body

    assert len(first.users.user) == 7
    assert len(second.users.user) == 7
    assert first.users.user[-1].user_name < second.users.user[0].user_name


def test_list_users_rejects_bad_max_items(ram):
    for value in (0, 1001):
        error = expect_error(
            lambda v=value: ram.list_users(ram_models.ListUsersRequest(max_items=v)),
            "InvalidParameter",
            400,
        )
        assert "MaxItems" in error.message


def test_list_users_foreign_marker_is_rejected(ram):
    error = expect_error(
        lambda: ram.list_users(ram_models.ListUsersRequest(marker="%%%")),
        "InvalidParameter",
        400,
    )
    assert "Marker" in error.message


# Single users.


def test_get_user_returns_the_user(ram):
    user = ram.get_user(ram_models.GetUserRequest(user_name="alice")).body.user

    assert user.user_name == "alice"
    assert user.user_id == "200000000000000004"
    assert user.display_name == "Alice Admin"


def test_get_user_unknown_name_is_not_found(ram):
    error = expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest(user_name="nobody")),
        "EntityNotExist.User",
        404,
    )
    assert "The user does not exist." in error.message
    assert "nobody" in error.message


@pytest.mark.parametrize(
    ("user_name", "code"),
    [
        ("bad name", "InvalidParameter.UserName.InvalidChars"),
        ("bad/name", "InvalidParameter.UserName.InvalidChars"),
        ("x" * 65, "InvalidParameter.UserName.Length"),
    ],
)
def test_get_user_invalid_name_is_rejected(ram, user_name, code):
    expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest(user_name=user_name)), code, 400
    )


def test_get_user_missing_name_is_rejected(ram):
    expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest()), "MissingParameter", 400
    )


def test_create_user_adds_the_user(emu, ram):
    created = ram.create_user(
        ram_models.CreateUserRequest(
            user_name="new.user@team",
            display_name="New user",
            email="new@example.com",
            comments="created by a test",
        )
    ).body.user

    assert created.user_name == "new.user@team"
    assert created.user_id.isdigit()
    assert len(created.user_id) == 18
    assert created.create_date == emu.cloud.users["new.user@team"].create_date.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    fetched = ram.get_user(ram_models.GetUserRequest(user_name="new.user@team")).body
    assert fetched.user.email == "new@example.com"
    assert fetched.user.comments == "created by a test"


def test_create_user_existing_name_conflicts(ram):
    expect_error(
        lambda: ram.create_user(ram_models.CreateUserRequest(user_name="alice")),
        "EntityAlreadyExists.User",
        409,
    )


def test_update_user_changes_fields(ram):
    updated = ram.update_user(
        ram_models.UpdateUserRequest(
            user_name="alice", new_display_name="Alice A.", new_comments="on call"
        )
    ).body.user

    assert updated.display_name == "Alice A."
    assert updated.comments == "on call"


def test_update_user_rename_moves_keys_and_groups(emu, ram):
    ram.update_user(
        ram_models.UpdateUserRequest(user_name="app-backend", new_user_name="app-svc")
    )

    expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest(user_name="app-backend")),
        "EntityNotExist.User",
        404,
    )
    keys = ram.list_access_keys(
        ram_models.ListAccessKeysRequest(user_name="app-svc")
    ).body.access_keys.access_key
    assert [key.access_key_id for key in keys] == ["LTAI5tAPPBACKEND00000001"]
    groups = ram.list_groups_for_user(
        ram_models.ListGroupsForUserRequest(user_name="app-svc")
    ).body.groups.group
    assert [group.group_name for group in groups] == ["developers"]


def test_update_user_rename_to_taken_name_conflicts(ram):
    expect_error(
        lambda: ram.update_user(
            ram_models.UpdateUserRequest(user_name="alice", new_user_name="ci-deploy")
        ),
        "EntityAlreadyExists.User",
        409,
    )


def test_update_user_invalid_new_name_is_rejected(ram):
    expect_error(
        lambda: ram.update_user(
            ram_models.UpdateUserRequest(user_name="alice", new_user_name="a b")
        ),
        "InvalidParameter.NewUserName.InvalidChars",
        400,
    )


# DeleteUser and its conflicts.


def test_delete_user_removes_a_bare_user(ram):
    ram.create_user(ram_models.CreateUserRequest(user_name="temp"))

    ram.delete_user(ram_models.DeleteUserRequest(user_name="temp"))

    expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest(user_name="temp")),
        "EntityNotExist.User",
        404,
    )


def test_delete_user_unknown_name_is_not_found(ram):
    expect_error(
        lambda: ram.delete_user(ram_models.DeleteUserRequest(user_name="nobody")),
        "EntityNotExist.User",
        404,
    )


def test_delete_user_reports_each_conflict_until_clean(emu, ram):
    """app-backend has a key, policies, a group and a login; alice adds MFA."""
    delete = lambda name: ram.delete_user(  # noqa: E731
        ram_models.DeleteUserRequest(user_name=name)
    )

    expect_error(lambda: delete("app-backend"), "DeleteConflict.User.AccessKey", 409)
    ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(
            user_name="app-backend", user_access_key_id="LTAI5tAPPBACKEND00000001"
        )
    )
    expect_error(lambda: delete("app-backend"), "DeleteConflict.User.Policy", 409)
    for name, policy_type in (
        ("AliyunECSFullAccess", "System"),
        ("app-backend-oss", "Custom"),
    ):
        ram.detach_policy_from_user(
            ram_models.DetachPolicyFromUserRequest(
                user_name="app-backend", policy_name=name, policy_type=policy_type
            )
        )
    expect_error(lambda: delete("app-backend"), "DeleteConflict.User.Group", 409)
    ram.remove_user_from_group(
        ram_models.RemoveUserFromGroupRequest(
            user_name="app-backend", group_name="developers"
        )
    )
    expect_error(lambda: delete("app-backend"), "DeleteConflict.User.LoginProfile", 409)
    ram.delete_login_profile(
        ram_models.DeleteLoginProfileRequest(user_name="app-backend")
    )
    delete("app-backend")
    assert "app-backend" not in emu.cloud.users


def test_delete_user_with_mfa_conflicts(ram):
    ram.remove_user_from_group(
        ram_models.RemoveUserFromGroupRequest(
            user_name="alice", group_name="developers"
        )
    )
    ram.delete_login_profile(ram_models.DeleteLoginProfileRequest(user_name="alice"))

    expect_error(
        lambda: ram.delete_user(ram_models.DeleteUserRequest(user_name="alice")),
        "DeleteConflict.User.MFADevice",
        409,
    )
    ram.unbind_mfadevice(ram_models.UnbindMFADeviceRequest(user_name="alice"))
    ram.delete_user(ram_models.DeleteUserRequest(user_name="alice"))


# Groups.


def test_list_groups_returns_the_groups(ram):
    body = ram.list_groups(ram_models.ListGroupsRequest()).body

    assert [group.group_name for group in body.groups.group] == ["developers"]
    assert body.is_truncated is False


def test_create_group_then_get_and_delete(ram):
    created = ram.create_group(
        ram_models.CreateGroupRequest(group_name="responders", comments="IR team")
    ).body.group
    assert created.group_name == "responders"
    assert created.comments == "IR team"

    fetched = ram.get_group(ram_models.GetGroupRequest(group_name="responders")).body
    assert fetched.group.group_id == created.group_id

    ram.delete_group(ram_models.DeleteGroupRequest(group_name="responders"))
    expect_error(
        lambda: ram.get_group(ram_models.GetGroupRequest(group_name="responders")),
        "EntityNotExist.Group",
        404,
    )


def test_create_group_existing_name_conflicts(ram):
    expect_error(
        lambda: ram.create_group(
            ram_models.CreateGroupRequest(group_name="developers")
        ),
        "EntityAlreadyExists.Group",
        409,
    )


def test_create_group_invalid_name_is_rejected(ram):
    expect_error(
        lambda: ram.create_group(ram_models.CreateGroupRequest(group_name="dev_ops")),
        "InvalidParameter.GroupName.InvalidChars",
        400,
    )


def test_delete_group_with_members_conflicts(ram):
    expect_error(
        lambda: ram.delete_group(
            ram_models.DeleteGroupRequest(group_name="developers")
        ),
        "DeleteConflict.Group.User",
        409,
    )


def test_delete_group_with_policies_conflicts(ram):
    for user_name in ("alice", "app-backend"):
        ram.remove_user_from_group(
            ram_models.RemoveUserFromGroupRequest(
                user_name=user_name, group_name="developers"
            )
        )

    expect_error(
        lambda: ram.delete_group(
            ram_models.DeleteGroupRequest(group_name="developers")
        ),
        "DeleteConflict.Group.Policy",
        409,
    )


def test_list_users_for_group_returns_members(ram):
    body = ram.list_users_for_group(
        ram_models.ListUsersForGroupRequest(group_name="developers")
    ).body

    assert [user.user_name for user in body.users.user] == ["alice", "app-backend"]
    assert body.users.user[0].join_date == "2024-05-01T00:00:00Z"


def test_list_groups_for_user_returns_join_date(ram):
    groups = ram.list_groups_for_user(
        ram_models.ListGroupsForUserRequest(user_name="app-backend")
    ).body.groups.group

    assert len(groups) == 1
    assert groups[0].group_name == "developers"
    assert groups[0].join_date == "2025-02-01T00:00:00Z"
    assert groups[0].group_id


def test_list_groups_for_user_without_groups_is_empty(ram):
    groups = ram.list_groups_for_user(
        ram_models.ListGroupsForUserRequest(user_name="ci-deploy")
    ).body.groups.group

    assert groups == []


def test_add_user_to_group_then_remove(ram):
    ram.add_user_to_group(
        ram_models.AddUserToGroupRequest(user_name="ci-deploy", group_name="developers")
    )
    groups = ram.list_groups_for_user(
        ram_models.ListGroupsForUserRequest(user_name="ci-deploy")
    ).body.groups.group
    assert [group.group_name for group in groups] == ["developers"]

    ram.remove_user_from_group(
        ram_models.RemoveUserFromGroupRequest(
            user_name="ci-deploy", group_name="developers"
        )
    )
    groups = ram.list_groups_for_user(
        ram_models.ListGroupsForUserRequest(user_name="ci-deploy")
    ).body.groups.group
    assert groups == []


def test_add_user_to_group_twice_conflicts(ram):
    expect_error(
        lambda: ram.add_user_to_group(
            ram_models.AddUserToGroupRequest(user_name="alice", group_name="developers")
        ),
        "EntityAlreadyExists.User.Group",
        409,
    )


def test_add_user_to_unknown_group_is_not_found(ram):
    expect_error(
        lambda: ram.add_user_to_group(
            ram_models.AddUserToGroupRequest(user_name="alice", group_name="nope")
        ),
        "EntityNotExist.Group",
        404,
    )


def test_add_user_to_sixth_group_exceeds_limit(ram):
    for index in range(4):
        name = f"team-{index}"
        ram.create_group(ram_models.CreateGroupRequest(group_name=name))
        ram.add_user_to_group(
            ram_models.AddUserToGroupRequest(user_name="alice", group_name=name)
        )
    ram.create_group(ram_models.CreateGroupRequest(group_name="team-extra"))

    expect_error(
        lambda: ram.add_user_to_group(
            ram_models.AddUserToGroupRequest(user_name="alice", group_name="team-extra")
        ),
        "LimitExceeded.User.Group",
        409,
    )


def test_remove_user_from_group_non_member(ram):
    expect_error(
        lambda: ram.remove_user_from_group(
            ram_models.RemoveUserFromGroupRequest(
                user_name="ci-deploy", group_name="developers"
            )
        ),
        "EntityNotExist.User.Group",
        404,
    )


# Console login profiles.


def test_get_login_profile_returns_flags(ram):
    profile = ram.get_login_profile(
        ram_models.GetLoginProfileRequest(user_name="alice")
    ).body.login_profile

    assert profile.user_name == "alice"
    assert profile.mfabind_required is True
    assert profile.password_reset_required is False
    assert profile.create_date == "2024-05-01T00:00:00Z"


def test_get_login_profile_without_one_is_not_found(ram):
    expect_error(
        lambda: ram.get_login_profile(
            ram_models.GetLoginProfileRequest(user_name="ci-deploy")
        ),
        "EntityNotExist.User.LoginProfile",
        404,
    )


def test_create_login_profile_then_get(emu, ram):
    password = "Tr0ub4dor&3-long"
    created = ram.create_login_profile(
        ram_models.CreateLoginProfileRequest(
            user_name="ci-deploy",
            password=password,
            password_reset_required=True,
            mfabind_required=True,
        )
    ).body.login_profile
    assert created.user_name == "ci-deploy"
    assert created.password_reset_required is True
    assert created.mfabind_required is True

    fetched = ram.get_login_profile(
        ram_models.GetLoginProfileRequest(user_name="ci-deploy")
    ).body.login_profile
    assert fetched.password_reset_required is True
    assert password not in json.dumps(emu.cloud.events)


def test_create_login_profile_twice_conflicts(ram):
    expect_error(
        lambda: ram.create_login_profile(
            ram_models.CreateLoginProfileRequest(
                user_name="alice", password="Another-Passw0rd"
            )
        ),
        "EntityAlreadyExists.User.LoginProfile",
        409,
    )


def test_create_login_profile_short_password_is_rejected(ram):
    error = expect_error(
        lambda: ram.create_login_profile(
            ram_models.CreateLoginProfileRequest(user_name="ci-deploy", password="abc1")
        ),
        "InvalidParameter.Password.TooWeak",
        400,
    )
    assert "abc1" not in error.message


def test_update_login_profile_forces_password_reset(emu, ram):
    password = "N3w-Passw0rd-For-Backend"
    ram.update_login_profile(
        ram_models.UpdateLoginProfileRequest(
            user_name="app-backend",
            password=password,
            password_reset_required=True,
            mfabind_required=True,
        )
    )

    profile = ram.get_login_profile(
        ram_models.GetLoginProfileRequest(user_name="app-backend")
    ).body.login_profile
    assert profile.password_reset_required is True
    assert profile.mfabind_required is True
    assert password not in json.dumps(emu.cloud.events)


def test_update_login_profile_keeps_unset_flags(ram):
    ram.update_login_profile(
        ram_models.UpdateLoginProfileRequest(
            user_name="alice", password_reset_required=True
        )
    )

    profile = ram.get_login_profile(
        ram_models.GetLoginProfileRequest(user_name="alice")
    ).body.login_profile
    assert profile.password_reset_required is True
    assert profile.mfabind_required is True


def test_update_login_profile_without_one_is_not_found(ram):
    expect_error(
        lambda: ram.update_login_profile(
            ram_models.UpdateLoginProfileRequest(
                user_name="ci-deploy", password_reset_required=True
            )
        ),
        "EntityNotExist.User.LoginProfile",
        404,
    )


def test_delete_login_profile_removes_console_access(ram):
    ram.delete_login_profile(
        ram_models.DeleteLoginProfileRequest(user_name="app-backend")
    )

    expect_error(
        lambda: ram.get_login_profile(
            ram_models.GetLoginProfileRequest(user_name="app-backend")
        ),
        "EntityNotExist.User.LoginProfile",
        404,
    )


def test_delete_login_profile_without_one_is_not_found(ram):
    expect_error(
        lambda: ram.delete_login_profile(
            ram_models.DeleteLoginProfileRequest(user_name="ci-deploy")
        ),
        "EntityNotExist.User.LoginProfile",
        404,
    )


# MFA devices.


def test_list_virtual_mfa_devices_names_the_user(ram):
    devices = ram.list_virtual_mfadevices().body.virtual_mfadevices.virtual_mfadevice

    assert len(devices) == 1
    assert devices[0].serial_number == "acs:ram::1234567890123456:mfa/alice"
    assert devices[0].user.user_name == "alice"
    assert devices[0].user.user_id == "200000000000000004"


def test_get_user_mfa_info_returns_the_device(ram):
    device = ram.get_user_mfainfo(
        ram_models.GetUserMFAInfoRequest(user_name="alice")
    ).body.mfadevice

    assert device.serial_number == "acs:ram::1234567890123456:mfa/alice"
    assert device.type == "VMFA"


def test_get_user_mfa_info_no_device(ram):
    expect_error(
        lambda: ram.get_user_mfainfo(
            ram_models.GetUserMFAInfoRequest(user_name="app-backend")
        ),
        "EntityNotExist.User.MFADevice",
        404,
    )


def test_unbind_mfa_device_returns_and_removes_it(ram):
    device = ram.unbind_mfadevice(
        ram_models.UnbindMFADeviceRequest(user_name="alice")
    ).body.mfadevice

    assert device.serial_number == "acs:ram::1234567890123456:mfa/alice"
    devices = ram.list_virtual_mfadevices().body.virtual_mfadevices.virtual_mfadevice
    assert devices == []
    expect_error(
        lambda: ram.unbind_mfadevice(
            ram_models.UnbindMFADeviceRequest(user_name="alice")
        ),
        "EntityNotExist.User.MFADevice",
        404,
    )


# ActionTrail records of user actions.


def test_user_actions_are_recorded_as_ims_events(emu, ram):
    ram.create_user(ram_models.CreateUserRequest(user_name="audited"))

    event = emu.cloud.events[-1]
    assert event["eventName"] == "CreateUser"
    assert event["serviceName"] == "Ims"
    assert event["eventSource"] == "ims.aliyuncs.com"
    assert event["eventRW"] == "Write"
    assert event["isGlobal"] is True
    assert event["referencedResources"] == {"ACS::RAM::User": ["audited"]}
    assert event["userIdentity"]["userName"] == "ir-responder"


def test_failed_user_action_is_recorded_with_error(emu, ram):
    expect_error(
        lambda: ram.get_user(ram_models.GetUserRequest(user_name="ghost")),
        "EntityNotExist.User",
        404,
    )

    event = emu.cloud.events[-1]
    assert event["eventName"] == "GetUser"
    assert event["eventRW"] == "Read"
    assert event["errorCode"] == "EntityNotExist.User"
    assert event["referencedResources"] == {"ACS::RAM::User": ["ghost"]}
