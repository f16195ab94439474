"""RAM 2015-05-01 wire handlers: parse parameters, call ``RamBackend``, shape bodies.

Field names follow the models of ``alibabacloud_ram20150501`` 1.3. The SDK maps
bodies with ``from_map``, which turns a misspelt key into ``None`` without an
error, so every key here was copied from those models. Lists always come in
their wrapper (``{"Users": {"User": []}}``) even when empty.

User, AccessKey, login, MFA and group actions are recorded in ActionTrail as
service ``Ims``; policy and role actions as service ``Ram``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.errors import InvalidParameter
from emulator.ram.models import ROTATE_STRATEGIES, KeyOwner, RamBackend
from emulator.ram.validation import paginate
from emulator.registry import Handler, PopRequest, pop_action
from emulator.state import (
    AccessKey,
    Group,
    LoginProfile,
    Policy,
    PolicyVersion,
    Role,
    User,
    iso,
)

VERSION = "2015-05-01"
HOST_ID = "ram.aliyuncs.com"

USER = "ACS::RAM::User"
ACCESS_KEY = "ACS::RAM::AccessKey"
GROUP = "ACS::RAM::Group"
POLICY = "ACS::RAM::Policy"
ROLE = "ACS::RAM::Role"


def ims_action(action: str, *, rw: str) -> Callable[[Handler], Handler]:
    """Register a RAM action that ActionTrail records under service Ims."""
    return pop_action(
        "ram",
        VERSION,
        action,
        rw=rw,
        service_name="Ims",
        event_source="ims.aliyuncs.com",
        host_id=HOST_ID,
        is_global=True,
    )


def ram_action(action: str, *, rw: str) -> Callable[[Handler], Handler]:
    """Register a RAM action that ActionTrail records under service Ram."""
    return pop_action(
        "ram",
        VERSION,
        action,
        rw=rw,
        service_name="Ram",
        event_source="ram.aliyuncs.com",
        host_id=HOST_ID,
        is_global=True,
    )


def _backend(req: PopRequest) -> RamBackend:
    return RamBackend(req.cloud)


def _max_items(req: PopRequest) -> int:
    return req.get_int("MaxItems", 100, minimum=1, maximum=1000)


def _page(body: dict[str, Any], next_marker: str | None) -> dict[str, Any]:
    body["IsTruncated"] = next_marker is not None
    if next_marker is not None:
        body["Marker"] = next_marker
    return body


def _optional_bool(req: PopRequest, name: str) -> bool | None:
    if req.get(name) is None:
        return None
    return req.get_bool(name)


# Shapes shared by several actions.


def user_body(user: User, *, with_last_login: bool = False) -> dict[str, Any]:
    body = {
        "UserId": user.user_id,
        "UserName": user.user_name,
        "DisplayName": user.display_name,
        "Email": user.email,
        "MobilePhone": user.mobile_phone,
        "Comments": user.comments,
        "CreateDate": iso(user.create_date),
        "UpdateDate": iso(user.update_date),
    }
    if with_last_login and user.last_login_date is not None:
        body["LastLoginDate"] = iso(user.last_login_date)
    return body


def access_key_body(key: AccessKey) -> dict[str, Any]:
    return {
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": iso(key.create_date),
    }


def group_body(group: Group) -> dict[str, Any]:
    return {
        "GroupId": group.group_id,
        "GroupName": group.group_name,
        "Comments": group.comments,
        "CreateDate": iso(group.create_date),
        # UpdateGroup is not emulated, so a group's UpdateDate is its CreateDate.
        "UpdateDate": iso(group.create_date),
    }


def policy_body(policy: Policy, attachment_count: int) -> dict[str, Any]:
    return {
        "PolicyName": policy.policy_name,
        "PolicyType": policy.policy_type,
        "Description": policy.description,
        "DefaultVersion": policy.default_version,
        "AttachmentCount": attachment_count,
        "CreateDate": iso(policy.create_date),
        "UpdateDate": iso(policy.update_date),
    }


def version_body(policy: Policy, version: PolicyVersion) -> dict[str, Any]:
    return {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "PolicyDocument": version.document,
        "CreateDate": iso(version.create_date),
    }


def role_body(role: Role, *, with_document: bool = False) -> dict[str, Any]:
    body = {
        "RoleId": role.role_id,
        "RoleName": role.role_name,
        "Arn": role.arn,
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "CreateDate": iso(role.create_date),
        # UpdateRole is not emulated, so a role's UpdateDate is its CreateDate.
        "UpdateDate": iso(role.create_date),
    }
    if with_document:
        body["AssumeRolePolicyDocument"] = role.assume_role_policy_document
    return body


def login_profile_body(user: User, profile: LoginProfile) -> dict[str, Any]:
    return {
        "UserName": user.user_name,
        "PasswordResetRequired": profile.password_reset_required,
        "MFABindRequired": profile.mfa_bind_required,
        "CreateDate": iso(profile.create_date),
    }


def attached_policies_body(req: PopRequest, entity: User | Group | Role) -> dict:
    policies = []
    for attachment, policy in _backend(req).attached_policies(entity):
        policies.append(
            {
                "PolicyName": attachment.policy_name,
                "PolicyType": attachment.policy_type,
                "Description": policy.description if policy else "",
                "DefaultVersion": policy.default_version if policy else "",
                "AttachDate": iso(attachment.attach_date),
            }
        )
    return {"Policies": {"Policy": policies}}


# Users.


@ims_action("ListUsers", rw="Read")
def list_users(req: PopRequest) -> dict[str, Any]:
    users, next_marker = _backend(req).list_users(req.get("Marker"), _max_items(req))
    return _page({"Users": {"User": [user_body(user) for user in users]}}, next_marker)


@ims_action("GetUser", rw="Read")
def get_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    user = _backend(req).get_user(user_name)
    return {"User": user_body(user, with_last_login=True)}


@ims_action("CreateUser", rw="Write")
def create_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    user = _backend(req).create_user(
        user_name,
        display_name=req.get("DisplayName", ""),
        email=req.get("Email", ""),
        mobile_phone=req.get("MobilePhone", ""),
        comments=req.get("Comments", ""),
    )
    body = user_body(user)
    del body["UpdateDate"]  # CreateUser's model has no UpdateDate
    return {"User": body}


@ims_action("UpdateUser", rw="Write")
def update_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    user = _backend(req).update_user(
        user_name,
        new_user_name=req.get("NewUserName"),
        new_display_name=req.get("NewDisplayName"),
        new_email=req.get("NewEmail"),
        new_mobile_phone=req.get("NewMobilePhone"),
        new_comments=req.get("NewComments"),
    )
    if user.user_name != user_name:
        req.resources = {USER: [user_name, user.user_name]}
    return {"User": user_body(user)}


@ims_action("DeleteUser", rw="Write")
def delete_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    _backend(req).delete_user(user_name)
    return {}


# AccessKeys.


def _key_owner(req: PopRequest) -> KeyOwner:
    user_name = req.get("UserName")
    if user_name is not None:
        req.resources = {USER: [user_name]}
    owner = _backend(req).resolve_key_owner(req.caller, user_name)
    if owner.user is not None:
        req.resources = {USER: [owner.user.user_name]}
    return owner


def _name_key(req: PopRequest, access_key_id: str) -> None:
    req.resources = {**req.resources, ACCESS_KEY: [access_key_id]}


@ims_action("ListAccessKeys", rw="Read")
def list_access_keys(req: PopRequest) -> dict[str, Any]:
    keys = _backend(req).list_access_keys(_key_owner(req))
    return {"AccessKeys": {"AccessKey": [access_key_body(key) for key in keys]}}


@ims_action("GetAccessKeyLastUsed", rw="Read")
def get_access_key_last_used(req: PopRequest) -> dict[str, Any]:
    access_key_id = req.require("UserAccessKeyId")
    owner = _key_owner(req)
    _name_key(req, access_key_id)
    key = _backend(req).get_owned_key(owner, access_key_id)
    # A key that was never used has no LastUsedDate, so the SDK reads None.
    last_used = {} if key.last_used is None else {"LastUsedDate": iso(key.last_used)}
    return {"AccessKeyLastUsed": last_used}


@ims_action("CreateAccessKey", rw="Write")
def create_access_key(req: PopRequest) -> dict[str, Any]:
    owner = _key_owner(req)
    key = _backend(req).create_access_key(owner)
    _name_key(req, key.access_key_id)
    # CreateAccessKey is the only RAM response that contains a secret.
    return {"AccessKey": {**access_key_body(key), "AccessKeySecret": key.secret}}


@ims_action("UpdateAccessKey", rw="Write")
def update_access_key(req: PopRequest) -> dict[str, Any]:
    access_key_id = req.require("UserAccessKeyId")
    status = req.require("Status")
    owner = _key_owner(req)
    _name_key(req, access_key_id)
    if status not in ("Active", "Inactive"):
        raise InvalidParameter("Status", f"Got {status!r}; give Active or Inactive.")
    _backend(req).update_access_key(owner, access_key_id, status)
    return {}


@ims_action("DeleteAccessKey", rw="Write")
def delete_access_key(req: PopRequest) -> dict[str, Any]:
    access_key_id = req.require("UserAccessKeyId")
    owner = _key_owner(req)
    _name_key(req, access_key_id)
    _backend(req).delete_access_key(owner, access_key_id)
    return {}


# Policies.


@ram_action("ListPolicies", rw="Read")
def list_policies(req: PopRequest) -> dict[str, Any]:
    backend = _backend(req)
    policies, next_marker = backend.list_policies(
        req.get("PolicyType"), req.get("Marker"), _max_items(req)
    )
    items = [policy_body(p, backend.attachment_count(p)) for p in policies]
    return _page({"Policies": {"Policy": items}}, next_marker)


@ram_action("CreatePolicy", rw="Write")
def create_policy(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    policy = _backend(req).create_policy(
        policy_name, req.require("PolicyDocument"), req.get("Description", "")
    )
    body = policy_body(policy, 0)
    del body["AttachmentCount"], body["UpdateDate"]  # not in CreatePolicy's model
    return {"Policy": body}


@ram_action("GetPolicy", rw="Read")
def get_policy(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    backend = _backend(req)
    policy = backend.get_policy(policy_name, req.require("PolicyType"))
    default = next(v for v in policy.versions if v.version_id == policy.default_version)
    body = policy_body(policy, backend.attachment_count(policy))
    body["PolicyDocument"] = default.document
    return {"Policy": body, "DefaultPolicyVersion": version_body(policy, default)}


@ram_action("DeletePolicy", rw="Write")
def delete_policy(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    cascading = req.get_bool("CascadingDelete", False)
    _backend(req).delete_policy(policy_name, cascading=cascading)
    return {}


@ram_action("CreatePolicyVersion", rw="Write")
def create_policy_version(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    rotate_strategy = req.get("RotateStrategy", "None")
    if rotate_strategy not in ROTATE_STRATEGIES:
        raise InvalidParameter(
            "RotateStrategy",
            f"Got {rotate_strategy!r}; give one of {', '.join(ROTATE_STRATEGIES)}.",
        )
    policy, version = _backend(req).create_policy_version(
        policy_name,
        req.require("PolicyDocument"),
        set_as_default=req.get_bool("SetAsDefault", False),
        rotate_strategy=rotate_strategy,
    )
    return {"PolicyVersion": version_body(policy, version)}


@ram_action("GetPolicyVersion", rw="Read")
def get_policy_version(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    policy, version = _backend(req).get_policy_version(
        policy_name, req.require("PolicyType"), req.require("VersionId")
    )
    return {"PolicyVersion": version_body(policy, version)}


@ram_action("ListPolicyVersions", rw="Read")
def list_policy_versions(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    policy = _backend(req).get_policy(policy_name, req.require("PolicyType"))
    versions = [version_body(policy, v) for v in policy.versions]
    return {"PolicyVersions": {"PolicyVersion": versions}}


@ram_action("DeletePolicyVersion", rw="Write")
def delete_policy_version(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    _backend(req).delete_policy_version(policy_name, req.require("VersionId"))
    return {}


@ram_action("SetDefaultPolicyVersion", rw="Write")
def set_default_policy_version(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    _backend(req).set_default_policy_version(policy_name, req.require("VersionId"))
    return {}


@ram_action("ListEntitiesForPolicy", rw="Read")
def list_entities_for_policy(req: PopRequest) -> dict[str, Any]:
    policy_name = req.require("PolicyName")
    req.resources = {POLICY: [policy_name]}
    backend = _backend(req)
    policy = backend.get_policy(policy_name, req.require("PolicyType"))
    users, groups, roles = backend.list_entities_for_policy(policy)
    user_items = [
        {
            "UserId": user.user_id,
            "UserName": user.user_name,
            "DisplayName": user.display_name,
            "AttachDate": iso(attachment.attach_date),
        }
        for user, attachment in users
    ]
    group_items = [
        {
            "GroupName": group.group_name,
            "Comments": group.comments,
            "AttachDate": iso(attachment.attach_date),
        }
        for group, attachment in groups
    ]
    role_items = [
        {
            "RoleId": role.role_id,
            "RoleName": role.role_name,
            "Arn": role.arn,
            "Description": role.description,
            "AttachDate": iso(attachment.attach_date),
        }
        for role, attachment in roles
    ]
    return {
        "Users": {"User": user_items},
        "Groups": {"Group": group_items},
        "Roles": {"Role": role_items},
    }


# Attaching policies.


def _change_attachment(
    req: PopRequest, entity_param: str, resource_type: str, *, attach: bool
) -> dict[str, Any]:
    """Attach a policy to, or detach it from, the user, group or role named."""
    entity_name = req.require(entity_param)
    policy_name = req.require("PolicyName")
    policy_type = req.require("PolicyType")
    req.resources = {resource_type: [entity_name], POLICY: [policy_name]}
    backend = _backend(req)
    lookup = {
        "UserName": backend.get_user,
        "GroupName": backend.get_group,
        "RoleName": backend.get_role,
    }[entity_param]
    entity = lookup(entity_name)
    if attach:
        backend.attach_policy(entity, policy_name, policy_type)
    else:
        backend.detach_policy(entity, policy_name, policy_type)
    return {}


@ram_action("AttachPolicyToUser", rw="Write")
def attach_policy_to_user(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "UserName", USER, attach=True)


@ram_action("DetachPolicyFromUser", rw="Write")
def detach_policy_from_user(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "UserName", USER, attach=False)


@ram_action("ListPoliciesForUser", rw="Read")
def list_policies_for_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    return attached_policies_body(req, _backend(req).get_user(user_name))


@ram_action("AttachPolicyToGroup", rw="Write")
def attach_policy_to_group(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "GroupName", GROUP, attach=True)


@ram_action("DetachPolicyFromGroup", rw="Write")
def detach_policy_from_group(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "GroupName", GROUP, attach=False)


@ram_action("ListPoliciesForGroup", rw="Read")
def list_policies_for_group(req: PopRequest) -> dict[str, Any]:
    group_name = req.require("GroupName")
    req.resources = {GROUP: [group_name]}
    return attached_policies_body(req, _backend(req).get_group(group_name))


@ram_action("AttachPolicyToRole", rw="Write")
def attach_policy_to_role(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "RoleName", ROLE, attach=True)


@ram_action("DetachPolicyFromRole", rw="Write")
def detach_policy_from_role(req: PopRequest) -> dict[str, Any]:
    return _change_attachment(req, "RoleName", ROLE, attach=False)


@ram_action("ListPoliciesForRole", rw="Read")
def list_policies_for_role(req: PopRequest) -> dict[str, Any]:
    role_name = req.require("RoleName")
    req.resources = {ROLE: [role_name]}
    return attached_policies_body(req, _backend(req).get_role(role_name))


# Groups.


@ims_action("ListGroups", rw="Read")
def list_groups(req: PopRequest) -> dict[str, Any]:
    groups, next_marker = _backend(req).list_groups(req.get("Marker"), _max_items(req))
    items = [group_body(group) for group in groups]
    return _page({"Groups": {"Group": items}}, next_marker)


@ims_action("CreateGroup", rw="Write")
def create_group(req: PopRequest) -> dict[str, Any]:
    group_name = req.require("GroupName")
    req.resources = {GROUP: [group_name]}
    group = _backend(req).create_group(group_name, req.get("Comments", ""))
    body = group_body(group)
    del body["UpdateDate"]  # not in CreateGroup's model
    return {"Group": body}


@ims_action("GetGroup", rw="Read")
def get_group(req: PopRequest) -> dict[str, Any]:
    group_name = req.require("GroupName")
    req.resources = {GROUP: [group_name]}
    return {"Group": group_body(_backend(req).get_group(group_name))}


@ims_action("DeleteGroup", rw="Write")
def delete_group(req: PopRequest) -> dict[str, Any]:
    group_name = req.require("GroupName")
    req.resources = {GROUP: [group_name]}
    _backend(req).delete_group(group_name)
    return {}


@ims_action("ListUsersForGroup", rw="Read")
def list_users_for_group(req: PopRequest) -> dict[str, Any]:
    group_name = req.require("GroupName")
    req.resources = {GROUP: [group_name]}
    backend = _backend(req)
    group = backend.get_group(group_name)
    members, next_marker = paginate(
        backend.group_members(group),
        lambda user: user.user_name,
        req.get("Marker"),
        _max_items(req),
    )
    items = [
        {
            "UserName": user.user_name,
            "DisplayName": user.display_name,
            "JoinDate": iso(
                user.group_join_dates.get(group.group_name, user.create_date)
            ),
        }
        for user in members
    ]
    return _page({"Users": {"User": items}}, next_marker)


@ims_action("ListGroupsForUser", rw="Read")
def list_groups_for_user(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    backend = _backend(req)
    user = backend.get_user(user_name)
    items = [
        {
            "GroupId": group.group_id,
            "GroupName": group.group_name,
            "Comments": group.comments,
            "JoinDate": iso(
                user.group_join_dates.get(group.group_name, group.create_date)
            ),
        }
        for group in backend.groups_for_user(user)
    ]
    return {"Groups": {"Group": items}}


@ims_action("AddUserToGroup", rw="Write")
def add_user_to_group(req: PopRequest) -> dict[str, Any]:
    user_name, group_name = req.require("UserName"), req.require("GroupName")
    req.resources = {USER: [user_name], GROUP: [group_name]}
    _backend(req).add_user_to_group(user_name, group_name)
    return {}


@ims_action("RemoveUserFromGroup", rw="Write")
def remove_user_from_group(req: PopRequest) -> dict[str, Any]:
    user_name, group_name = req.require("UserName"), req.require("GroupName")
    req.resources = {USER: [user_name], GROUP: [group_name]}
    _backend(req).remove_user_from_group(user_name, group_name)
    return {}


# Console login profiles. The emulator never stores a password.


@ims_action("GetLoginProfile", rw="Read")
def get_login_profile(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    user, profile = _backend(req).get_login_profile(user_name)
    return {"LoginProfile": login_profile_body(user, profile)}


@ims_action("CreateLoginProfile", rw="Write")
def create_login_profile(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    user, profile = _backend(req).create_login_profile(
        user_name,
        req.require("Password"),
        password_reset_required=req.get_bool("PasswordResetRequired", False),
        mfa_bind_required=req.get_bool("MFABindRequired", False),
    )
    return {"LoginProfile": login_profile_body(user, profile)}


@ims_action("UpdateLoginProfile", rw="Write")
def update_login_profile(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    _backend(req).update_login_profile(
        user_name,
        password=req.get("Password"),
        password_reset_required=_optional_bool(req, "PasswordResetRequired"),
        mfa_bind_required=_optional_bool(req, "MFABindRequired"),
    )
    return {}


@ims_action("DeleteLoginProfile", rw="Write")
def delete_login_profile(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    _backend(req).delete_login_profile(user_name)
    return {}


# MFA devices.


@ims_action("ListVirtualMFADevices", rw="Read")
def list_virtual_mfa_devices(req: PopRequest) -> dict[str, Any]:
    # ActivateDate is left out: the emulator does not record when a device was
    # bound, so the SDK reads it as None.
    devices = [
        {
            "SerialNumber": user.mfa_serial,
            "User": {
                "UserId": user.user_id,
                "UserName": user.user_name,
                "DisplayName": user.display_name,
            },
        }
        for user in _backend(req).users_with_mfa()
    ]
    return {"VirtualMFADevices": {"VirtualMFADevice": devices}}


@ims_action("GetUserMFAInfo", rw="Read")
def get_user_mfa_info(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    serial = _backend(req).get_mfa_serial(user_name)
    return {"MFADevice": {"SerialNumber": serial, "Type": "VMFA"}}


@ims_action("UnbindMFADevice", rw="Write")
def unbind_mfa_device(req: PopRequest) -> dict[str, Any]:
    user_name = req.require("UserName")
    req.resources = {USER: [user_name]}
    serial = _backend(req).unbind_mfa_device(user_name)
    return {"MFADevice": {"SerialNumber": serial}}


# Roles.


@ram_action("ListRoles", rw="Read")
def list_roles(req: PopRequest) -> dict[str, Any]:
    roles, next_marker = _backend(req).list_roles(req.get("Marker"), _max_items(req))
    return _page({"Roles": {"Role": [role_body(role) for role in roles]}}, next_marker)


@ram_action("GetRole", rw="Read")
def get_role(req: PopRequest) -> dict[str, Any]:
    role_name = req.require("RoleName")
    req.resources = {ROLE: [role_name]}
    return {"Role": role_body(_backend(req).get_role(role_name), with_document=True)}


@ram_action("CreateRole", rw="Write")
def create_role(req: PopRequest) -> dict[str, Any]:
    role_name = req.require("RoleName")
    req.resources = {ROLE: [role_name]}
    role = _backend(req).create_role(
        role_name,
        req.require("AssumeRolePolicyDocument"),
        description=req.get("Description", ""),
        max_session_duration=req.get_int(
            "MaxSessionDuration", 3600, minimum=3600, maximum=43200
        ),
    )
    body = role_body(role, with_document=True)
    del body["UpdateDate"]  # not in CreateRole's model
    return {"Role": body}


@ram_action("DeleteRole", rw="Write")
def delete_role(req: PopRequest) -> dict[str, Any]:
    role_name = req.require("RoleName")
    req.resources = {ROLE: [role_name]}
    _backend(req).delete_role(role_name)
    return {}


# Account.


@ram_action("GetAccountAlias", rw="Read")
def get_account_alias(req: PopRequest) -> dict[str, Any]:
    # An account without a custom alias has its account id as alias. The emulator
    # models no SetAccountAlias, so every account returns its id.
    return {"AccountAlias": req.cloud.account_id}
