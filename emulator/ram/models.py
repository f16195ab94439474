"""The RAM backend: one method per RAM 2015-05-01 action, operating on a ``Cloud``.

Methods take plain, already-parsed arguments and return state objects from
``emulator.state``; ``responses.py`` turns those into wire bodies. Every method
runs under ``Cloud.lock``, which the server acquires for the whole request.

AccessKeys live in ``Cloud.access_keys`` for every owner, and the server
authenticates against that table, so UpdateAccessKey and DeleteAccessKey take
effect on the very next request.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from emulator.errors import MissingParameter
from emulator.ram import exceptions as ram_errors
from emulator.ram.validation import (
    paginate,
    validate_description,
    validate_group_name,
    validate_policy_document,
    validate_policy_name,
    validate_policy_type,
    validate_role_name,
    validate_user_name,
    validate_version_id,
)
from emulator.state import (
    AccessKey,
    Caller,
    Cloud,
    Group,
    LoginProfile,
    Policy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    StsSession,
    User,
)

MAX_ACCESS_KEYS_PER_USER = 2
MAX_POLICY_VERSIONS = 5
MAX_GROUPS_PER_USER = 5
# Per entity and policy type: 20 system policies and 5 custom policies.
MAX_ATTACHED_POLICIES = {"System": 20, "Custom": 5}
MIN_PASSWORD_LENGTH = 8  # RAM's default password policy
ROTATE_STRATEGIES = ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded")

_ALPHANUMERIC = string.ascii_letters + string.digits


def new_access_key_id() -> str:
    """Return a 24-character ``LTAI5t…`` id, the format of current RAM keys."""
    return "LTAI5t" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(18))


def new_access_key_secret() -> str:
    """Return a 30-character random AccessKeySecret."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(30))


def _new_numeric_id(first_digit: str, taken: set[str]) -> str:
    while True:
        candidate = first_digit + "".join(
            secrets.choice(string.digits) for _ in range(17)
        )
        if candidate not in taken:
            return candidate


@dataclass
class KeyOwner:
    """The owner whose AccessKeys a key action works on: a RAM user or the root."""

    user: User | None  # None for the account root

    @property
    def description(self) -> str:
        return (
            "the account root" if self.user is None else f"user {self.user.user_name!r}"
        )


class RamBackend:
    """RAM actions on one account's state."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    # Lookups shared by many actions.

    def get_user(self, user_name: str) -> User:
        validate_user_name(user_name)
        user = self.cloud.users.get(user_name)
        if user is None:
            raise ram_errors.EntityNotExistUser(
                f"UserName {user_name!r} is not a RAM user of this account; "
                "call ListUsers to see the user names."
            )
        return user

    def get_group(self, group_name: str) -> Group:
        validate_group_name(group_name)
        group = self.cloud.groups.get(group_name)
        if group is None:
            raise ram_errors.EntityNotExistGroup(
                f"GroupName {group_name!r} is not a group of this account; "
                "call ListGroups to see the group names."
            )
        return group

    def get_role(self, role_name: str) -> Role:
        validate_role_name(role_name)
        role = self.cloud.roles.get(role_name)
        if role is None:
            # Role names are unique ignoring case, so a differently cased name
            # still finds the role.
            wanted = role_name.lower()
            role = next(
                (r for name, r in self.cloud.roles.items() if name.lower() == wanted),
                None,
            )
        if role is None:
            raise ram_errors.EntityNotExistRole(
                f"RoleName {role_name!r} is not a role of this account; "
                "call ListRoles to see the role names."
            )
        return role

    def get_policy(self, policy_name: str, policy_type: str) -> Policy:
        validate_policy_type(policy_type)
        validate_policy_name(policy_name)
        policy = self.cloud.policies.get((policy_type, policy_name))
        if policy is None:
            raise ram_errors.EntityNotExistPolicy(
                f"There is no {policy_type} policy {policy_name!r}; check the "
                "PolicyType and call ListPolicies to see the policy names."
            )
        return policy

    def get_custom_policy(self, policy_name: str) -> Policy:
        return self.get_policy(policy_name, "Custom")

    # Users.

    def list_users(
        self, marker: str | None, max_items: int
    ) -> tuple[list[User], str | None]:
        return paginate(
            list(self.cloud.users.values()), _user_sort_key, marker, max_items
        )

    def create_user(
        self,
        user_name: str,
        *,
        display_name: str = "",
        email: str = "",
        mobile_phone: str = "",
        comments: str = "",
    ) -> User:
        validate_user_name(user_name)
        if user_name in self.cloud.users:
            raise ram_errors.EntityAlreadyExistsUser(
                f"UserName {user_name!r} is taken; choose another name."
            )
        now = self.cloud.now()
        taken = {user.user_id for user in self.cloud.users.values()}
        user = User(
            user_name=user_name,
            user_id=_new_numeric_id("2", taken),
            create_date=now,
            update_date=now,
            display_name=display_name or user_name,
            comments=comments,
            email=email,
            mobile_phone=mobile_phone,
        )
        self.cloud.users[user_name] = user
        return user

    def update_user(
        self,
        user_name: str,
        *,
        new_user_name: str | None = None,
        new_display_name: str | None = None,
        new_email: str | None = None,
        new_mobile_phone: str | None = None,
        new_comments: str | None = None,
    ) -> User:
        user = self.get_user(user_name)
        if new_user_name is not None and new_user_name != user_name:
            validate_user_name(new_user_name, parameter="NewUserName")
            if new_user_name in self.cloud.users:
                raise ram_errors.EntityAlreadyExistsUser(
                    f"NewUserName {new_user_name!r} is taken; choose another name."
                )
            self._rename_user(user, new_user_name)
        if new_display_name is not None:
            user.display_name = new_display_name
        if new_email is not None:
            user.email = new_email
        if new_mobile_phone is not None:
            user.mobile_phone = new_mobile_phone
        if new_comments is not None:
            user.comments = new_comments
        user.update_date = self.cloud.now()
        return user

    def _rename_user(self, user: User, new_user_name: str) -> None:
        old_user_name = user.user_name
        del self.cloud.users[old_user_name]
        user.user_name = new_user_name
        self.cloud.users[new_user_name] = user
        for key in self.cloud.access_keys.values():
            if key.owner_type == "ram-user" and key.user_name == old_user_name:
                key.user_name = new_user_name

    def delete_user(self, user_name: str) -> None:
        """Delete a user that owns nothing, else raise the first DeleteConflict.

        The checks run in the order AccessKey, Policy, Group, LoginProfile,
        MFADevice. NOTE: the real service's order of checks is unverified.
        """
        user = self.get_user(user_name)
        if self._user_keys(user):
            raise ram_errors.DeleteConflictUserAccessKey(
                f"User {user_name!r} still has AccessKeys; delete them with "
                "DeleteAccessKey first."
            )
        if user.policies:
            raise ram_errors.DeleteConflictUserPolicy(
                f"User {user_name!r} still has policies attached; detach them with "
                "DetachPolicyFromUser first."
            )
        if user.groups:
            raise ram_errors.DeleteConflictUserGroup(
                f"User {user_name!r} is still in groups {user.groups}; remove it "
                "with RemoveUserFromGroup first."
            )
        if user.login_profile is not None:
            raise ram_errors.DeleteConflictUserLoginProfile(
                f"User {user_name!r} still has a login profile; delete it with "
                "DeleteLoginProfile first."
            )
        if user.mfa_serial is not None:
            raise ram_errors.DeleteConflictUserMFADevice(
                f"User {user_name!r} still has an MFA device; unbind it with "
                "UnbindMFADevice first."
            )
        del self.cloud.users[user_name]

    # AccessKeys.

    def resolve_key_owner(self, caller: Caller, user_name: str | None) -> KeyOwner:
        """Return whose keys a key action names.

        With ``UserName`` that is the RAM user. Without it, the caller's own keys:
        a RAM user's or, for a root-account caller, the root's. An assumed-role
        caller owns no keys and must name a user.
        """
        if user_name is not None:
            return KeyOwner(self.get_user(user_name))
        if caller.type == "root-account":
            # NOTE: RAM acting on the root's own keys when UserName is omitted is
            # inferred from the IMS API and is unverified for RAM 2015-05-01.
            return KeyOwner(None)
        if caller.type == "ram-user":
            return KeyOwner(self.get_user(caller.user_name))
        raise MissingParameter("UserName")

    def list_access_keys(self, owner: KeyOwner) -> list[AccessKey]:
        if owner.user is None:
            keys = [
                key
                for key in self.cloud.access_keys.values()
                if key.owner_type == "root-account"
            ]
            return sorted(keys, key=lambda key: key.create_date)
        return self._user_keys(owner.user)

    def _user_keys(self, user: User) -> list[AccessKey]:
        keys = [
            key
            for key in self.cloud.access_keys.values()
            if key.owner_type == "ram-user" and key.user_name == user.user_name
        ]
        return sorted(keys, key=lambda key: key.create_date)

    def get_owned_key(self, owner: KeyOwner, access_key_id: str) -> AccessKey:
        """Return the owner's key, or raise EntityNotExist.User.AccessKey.

        A root key named together with a UserName is not that user's key, so it
        is reported as missing: RAM cannot manage the root's keys through a user.
        """
        key = self.cloud.access_keys.get(access_key_id)
        if key is not None:
            if owner.user is None and key.owner_type == "root-account":
                return key
            if (
                owner.user is not None
                and key.owner_type == "ram-user"
                and key.user_name == owner.user.user_name
            ):
                return key
        raise ram_errors.EntityNotExistUserAccessKey(
            f"UserAccessKeyId {access_key_id!r} is not a key of "
            f"{owner.description}; call ListAccessKeys to see its keys."
        )

    def create_access_key(self, owner: KeyOwner) -> AccessKey:
        existing = self.list_access_keys(owner)
        if len(existing) >= MAX_ACCESS_KEYS_PER_USER:
            # NOTE: the limit of 2 is documented for RAM users. Applying it to the
            # root's keys is an assumption.
            raise ram_errors.LimitExceededUserAccessKey(
                f"{owner.description.capitalize()} already has "
                f"{len(existing)} AccessKeys, the maximum; delete one with "
                "DeleteAccessKey first."
            )
        key_id = new_access_key_id()
        while key_id in self.cloud.access_keys:
            key_id = new_access_key_id()
        key = AccessKey(
            access_key_id=key_id,
            secret=new_access_key_secret(),
            status="Active",
            create_date=self.cloud.now(),
            owner_type="root-account" if owner.user is None else "ram-user",
            user_name=None if owner.user is None else owner.user.user_name,
        )
        self.cloud.access_keys[key_id] = key
        if owner.user is not None:
            owner.user.access_key_ids.append(key_id)
        return key

    def update_access_key(
        self, owner: KeyOwner, access_key_id: str, status: str
    ) -> None:
        key = self.get_owned_key(owner, access_key_id)
        key.status = status

    def delete_access_key(self, owner: KeyOwner, access_key_id: str) -> None:
        self.get_owned_key(owner, access_key_id)
        del self.cloud.access_keys[access_key_id]
        if owner.user is not None and access_key_id in owner.user.access_key_ids:
            owner.user.access_key_ids.remove(access_key_id)

    # Policies.

    def list_policies(
        self, policy_type: str | None, marker: str | None, max_items: int
    ) -> tuple[list[Policy], str | None]:
        if policy_type is not None:
            validate_policy_type(policy_type)
        policies = [
            policy
            for policy in self.cloud.policies.values()
            if policy_type is None or policy.policy_type == policy_type
        ]
        return paginate(policies, _policy_sort_key, marker, max_items)

    def create_policy(
        self, policy_name: str, document: str, description: str
    ) -> Policy:
        validate_policy_name(policy_name)
        validate_description(description)
        validate_policy_document(document)
        if ("Custom", policy_name) in self.cloud.policies:
            raise ram_errors.EntityAlreadyExistsPolicy(
                f"PolicyName {policy_name!r} is taken by a custom policy; choose "
                "another name or call CreatePolicyVersion to change it."
            )
        now = self.cloud.now()
        policy = Policy(
            policy_name=policy_name,
            policy_type="Custom",
            description=description,
            create_date=now,
            update_date=now,
            versions=[PolicyVersion("v1", document, now)],
            default_version="v1",
            next_version_number=2,
        )
        self.cloud.policies[("Custom", policy_name)] = policy
        return policy

    def delete_policy(self, policy_name: str, *, cascading: bool = False) -> None:
        policy = self.get_custom_policy(policy_name)
        if cascading:
            for entity in self._policy_holders(policy):
                entity.policies = [
                    attachment
                    for attachment in entity.policies
                    if not _is_attachment_of(attachment, policy)
                ]
        else:
            self._check_policy_unused(policy)
        del self.cloud.policies[("Custom", policy_name)]

    def _check_policy_unused(self, policy: Policy) -> None:
        users, groups, roles = self.list_entities_for_policy(policy)
        name = policy.policy_name
        if users:
            raise ram_errors.DeleteConflictPolicyUser(
                f"Policy {name!r} is attached to users "
                f"{[user.user_name for user, _ in users]}; detach it with "
                "DetachPolicyFromUser or pass CascadingDelete=true."
            )
        if groups:
            raise ram_errors.DeleteConflictPolicyGroup(
                f"Policy {name!r} is attached to groups "
                f"{[group.group_name for group, _ in groups]}; detach it with "
                "DetachPolicyFromGroup or pass CascadingDelete=true."
            )
        if roles:
            raise ram_errors.DeleteConflictPolicyRole(
                f"Policy {name!r} is attached to roles "
                f"{[role.role_name for role, _ in roles]}; detach it with "
                "DetachPolicyFromRole or pass CascadingDelete=true."
            )
        extra = [
            version.version_id
            for version in policy.versions
            if version.version_id != policy.default_version
        ]
        if extra:
            raise ram_errors.DeleteConflictPolicyVersion(
                f"Policy {name!r} has non-default versions {extra}; delete them "
                "with DeletePolicyVersion or pass CascadingDelete=true."
            )

    def attachment_count(self, policy: Policy) -> int:
        return sum(1 for _ in self._policy_holders(policy))

    def _policy_holders(self, policy: Policy) -> list[User | Group | Role]:
        entities: list[User | Group | Role] = [
            *self.cloud.users.values(),
            *self.cloud.groups.values(),
            *self.cloud.roles.values(),
        ]
        return [
            entity
            for entity in entities
            if any(_is_attachment_of(a, policy) for a in entity.policies)
        ]

    def list_entities_for_policy(
        self, policy: Policy
    ) -> tuple[
        list[tuple[User, PolicyAttachment]],
        list[tuple[Group, PolicyAttachment]],
        list[tuple[Role, PolicyAttachment]],
    ]:
        def attached(entities):
            found = []
            for entity in entities:
                for attachment in entity.policies:
                    if _is_attachment_of(attachment, policy):
                        found.append((entity, attachment))
            return found

        return (
            attached(self.cloud.users.values()),
            attached(self.cloud.groups.values()),
            attached(self.cloud.roles.values()),
        )

    def get_policy_version(
        self, policy_name: str, policy_type: str, version_id: str
    ) -> tuple[Policy, PolicyVersion]:
        policy = self.get_policy(policy_name, policy_type)
        return policy, self._find_version(policy, version_id)

    def _find_version(self, policy: Policy, version_id: str) -> PolicyVersion:
        validate_version_id(version_id)
        for version in policy.versions:
            if version.version_id == version_id:
                return version
        raise ram_errors.EntityNotExistPolicyVersion(
            f"Policy {policy.policy_name!r} has no version {version_id!r}; call "
            "ListPolicyVersions to see its versions."
        )

    def create_policy_version(
        self,
        policy_name: str,
        document: str,
        *,
        set_as_default: bool,
        rotate_strategy: str,
    ) -> tuple[Policy, PolicyVersion]:
        policy = self.get_custom_policy(policy_name)
        validate_policy_document(document)
        if len(policy.versions) >= MAX_POLICY_VERSIONS:
            if rotate_strategy != "DeleteOldestNonDefaultVersionWhenLimitExceeded":
                raise ram_errors.LimitExceededPolicyVersion(
                    f"Policy {policy_name!r} already has {len(policy.versions)} "
                    "versions, the maximum; delete one with DeletePolicyVersion or "
                    "pass RotateStrategy="
                    "DeleteOldestNonDefaultVersionWhenLimitExceeded."
                )
            oldest = min(
                (
                    version
                    for version in policy.versions
                    if version.version_id != policy.default_version
                ),
                key=lambda version: int(version.version_id[1:]),
            )
            policy.versions.remove(oldest)
        now = self.cloud.now()
        version = PolicyVersion(f"v{policy.next_version_number}", document, now)
        policy.next_version_number += 1
        policy.versions.append(version)
        if set_as_default:
            policy.default_version = version.version_id
        policy.update_date = now
        return policy, version

    def delete_policy_version(self, policy_name: str, version_id: str) -> None:
        policy = self.get_custom_policy(policy_name)
        version = self._find_version(policy, version_id)
        if version.version_id == policy.default_version:
            raise ram_errors.DeleteConflictPolicyVersionDefault(
                f"Version {version_id!r} is the default of policy {policy_name!r}; "
                "make another version the default with SetDefaultPolicyVersion "
                "first."
            )
        policy.versions.remove(version)

    def set_default_policy_version(self, policy_name: str, version_id: str) -> None:
        policy = self.get_custom_policy(policy_name)
        version = self._find_version(policy, version_id)
        policy.default_version = version.version_id
        policy.update_date = self.cloud.now()

    # Attaching policies to users, groups and roles.

    def attach_policy(
        self, entity: User | Group | Role, policy_name: str, policy_type: str
    ) -> None:
        policy = self.get_policy(policy_name, policy_type)
        if any(_is_attachment_of(a, policy) for a in entity.policies):
            raise _already_attached_error(entity, policy)
        same_type = [a for a in entity.policies if a.policy_type == policy_type]
        limit = MAX_ATTACHED_POLICIES[policy_type]
        if len(same_type) >= limit:
            raise _limit_error(entity, policy_type, limit)
        entity.policies.append(
            PolicyAttachment(policy.policy_name, policy.policy_type, self.cloud.now())
        )

    def detach_policy(
        self, entity: User | Group | Role, policy_name: str, policy_type: str
    ) -> None:
        policy = self.get_policy(policy_name, policy_type)
        remaining = [a for a in entity.policies if not _is_attachment_of(a, policy)]
        if len(remaining) == len(entity.policies):
            raise _not_attached_error(entity, policy)
        entity.policies = remaining

    def attached_policies(
        self, entity: User | Group | Role
    ) -> list[tuple[PolicyAttachment, Policy | None]]:
        """Return the entity's attachments with their policy, None when it is gone."""
        return [
            (a, self.cloud.policies.get((a.policy_type, a.policy_name)))
            for a in entity.policies
        ]

    # Groups.

    def list_groups(
        self, marker: str | None, max_items: int
    ) -> tuple[list[Group], str | None]:
        groups = list(self.cloud.groups.values())
        return paginate(groups, lambda group: group.group_name, marker, max_items)

    def create_group(self, group_name: str, comments: str) -> Group:
        validate_group_name(group_name)
        if group_name in self.cloud.groups:
            raise ram_errors.EntityAlreadyExistsGroup(
                f"GroupName {group_name!r} is taken; choose another name."
            )
        taken = {group.group_id for group in self.cloud.groups.values()}
        group = Group(
            group_name=group_name,
            group_id=_new_numeric_id("1", taken),
            create_date=self.cloud.now(),
            comments=comments,
        )
        self.cloud.groups[group_name] = group
        return group

    def delete_group(self, group_name: str) -> None:
        group = self.get_group(group_name)
        members = self.group_members(group)
        if members:
            raise ram_errors.DeleteConflictGroupUser(
                f"Group {group_name!r} still has members "
                f"{[user.user_name for user in members]}; remove them with "
                "RemoveUserFromGroup first."
            )
        if group.policies:
            raise ram_errors.DeleteConflictGroupPolicy(
                f"Group {group_name!r} still has policies attached; detach them "
                "with DetachPolicyFromGroup first."
            )
        del self.cloud.groups[group_name]

    def group_members(self, group: Group) -> list[User]:
        return [
            user
            for user in self.cloud.users.values()
            if group.group_name in user.groups
        ]

    def groups_for_user(self, user: User) -> list[Group]:
        return [
            self.cloud.groups[name] for name in user.groups if name in self.cloud.groups
        ]

    def add_user_to_group(self, user_name: str, group_name: str) -> None:
        group = self.get_group(group_name)
        user = self.get_user(user_name)
        if group.group_name in user.groups:
            raise ram_errors.EntityAlreadyExistsUserGroup(
                f"User {user_name!r} is already in group {group_name!r}."
            )
        if len(user.groups) >= MAX_GROUPS_PER_USER:
            raise ram_errors.LimitExceededUserGroup(
                f"User {user_name!r} is already in {len(user.groups)} groups, the "
                "maximum; remove it from one with RemoveUserFromGroup first."
            )
        user.groups.append(group.group_name)
        user.group_join_dates[group.group_name] = self.cloud.now()

    def remove_user_from_group(self, user_name: str, group_name: str) -> None:
        group = self.get_group(group_name)
        user = self.get_user(user_name)
        if group.group_name not in user.groups:
            raise ram_errors.EntityNotExistUserGroup(
                f"User {user_name!r} is not in group {group_name!r}; call "
                "ListGroupsForUser to see its groups."
            )
        user.groups.remove(group.group_name)
        user.group_join_dates.pop(group.group_name, None)

    # Login profiles and MFA.

    def get_login_profile(self, user_name: str) -> tuple[User, LoginProfile]:
        user = self.get_user(user_name)
        if user.login_profile is None:
            raise ram_errors.EntityNotExistUserLoginProfile(
                f"User {user_name!r} has no console login; create one with "
                "CreateLoginProfile."
            )
        return user, user.login_profile

    def create_login_profile(
        self,
        user_name: str,
        password: str,
        *,
        password_reset_required: bool,
        mfa_bind_required: bool,
    ) -> tuple[User, LoginProfile]:
        user = self.get_user(user_name)
        if user.login_profile is not None:
            raise ram_errors.EntityAlreadyExistsUserLoginProfile(
                f"User {user_name!r} already has a console login; change it with "
                "UpdateLoginProfile."
            )
        _check_password(password)
        user.login_profile = LoginProfile(
            create_date=self.cloud.now(),
            password_reset_required=password_reset_required,
            mfa_bind_required=mfa_bind_required,
        )
        return user, user.login_profile

    def update_login_profile(
        self,
        user_name: str,
        *,
        password: str | None,
        password_reset_required: bool | None,
        mfa_bind_required: bool | None,
    ) -> None:
        _, profile = self.get_login_profile(user_name)
        if password is not None:
            _check_password(password)
        if password_reset_required is not None:
            profile.password_reset_required = password_reset_required
        if mfa_bind_required is not None:
            profile.mfa_bind_required = mfa_bind_required

    def delete_login_profile(self, user_name: str) -> None:
        user, _ = self.get_login_profile(user_name)
        user.login_profile = None

    def get_mfa_serial(self, user_name: str) -> str:
        user = self.get_user(user_name)
        if user.mfa_serial is None:
            raise ram_errors.EntityNotExistUserMFADevice(
                f"User {user_name!r} has no MFA device bound."
            )
        return user.mfa_serial

    def unbind_mfa_device(self, user_name: str) -> str:
        serial = self.get_mfa_serial(user_name)
        self.cloud.users[user_name].mfa_serial = None
        return serial

    def users_with_mfa(self) -> list[User]:
        return [user for user in self.cloud.users.values() if user.mfa_serial]

    # Roles.

    def list_roles(
        self, marker: str | None, max_items: int
    ) -> tuple[list[Role], str | None]:
        roles = list(self.cloud.roles.values())
        return paginate(roles, lambda role: role.role_name, marker, max_items)

    def create_role(
        self,
        role_name: str,
        assume_role_policy_document: str,
        *,
        description: str,
        max_session_duration: int,
    ) -> Role:
        validate_role_name(role_name)
        validate_description(description)
        validate_policy_document(
            assume_role_policy_document,
            parameter="AssumeRolePolicyDocument",
            trust=True,
        )
        if role_name.lower() in (name.lower() for name in self.cloud.roles):
            raise ram_errors.EntityAlreadyExistsRole(
                f"RoleName {role_name!r} is taken (role names ignore case); "
                "choose another name."
            )
        taken = {role.role_id for role in self.cloud.roles.values()}
        role = Role(
            role_name=role_name,
            role_id=_new_numeric_id("3", taken),
            # NOTE: real role ARNs are assumed to spell the name in lower case.
            arn=f"acs:ram::{self.cloud.account_id}:role/{role_name.lower()}",
            assume_role_policy_document=assume_role_policy_document,
            create_date=self.cloud.now(),
            description=description,
            max_session_duration=max_session_duration,
        )
        self.cloud.roles[role_name] = role
        return role

    def delete_role(self, role_name: str) -> None:
        """Delete a role without policies and end the STS sessions issued for it.

        NOTE: that a deleted role's STS tokens stop working at once is assumed.
        """
        role = self.get_role(role_name)
        if role.policies:
            raise ram_errors.DeleteConflictRolePolicy(
                f"Role {role_name!r} still has policies attached; detach them with "
                "DetachPolicyFromRole first."
            )
        del self.cloud.roles[role.role_name]
        ended: list[StsSession] = [
            session
            for session in self.cloud.sts_sessions.values()
            if session.role_name == role.role_name
        ]
        for session in ended:
            del self.cloud.sts_sessions[session.access_key_id]
            self.cloud.access_keys.pop(session.access_key_id, None)


def _user_sort_key(user: User) -> str:
    return user.user_name


def _policy_sort_key(policy: Policy) -> str:
    return f"{policy.policy_type}/{policy.policy_name}"


def _is_attachment_of(attachment: PolicyAttachment, policy: Policy) -> bool:
    return (
        attachment.policy_name == policy.policy_name
        and attachment.policy_type == policy.policy_type
    )


def _entity_label(entity: User | Group | Role) -> str:
    if isinstance(entity, User):
        return f"user {entity.user_name!r}"
    if isinstance(entity, Group):
        return f"group {entity.group_name!r}"
    return f"role {entity.role_name!r}"


def _already_attached_error(entity: User | Group | Role, policy: Policy):
    error_class = {
        User: ram_errors.EntityAlreadyExistsUserPolicy,
        Group: ram_errors.EntityAlreadyExistsGroupPolicy,
        Role: ram_errors.EntityAlreadyExistsRolePolicy,
    }[type(entity)]
    return error_class(
        f"{policy.policy_type} policy {policy.policy_name!r} is already attached "
        f"to {_entity_label(entity)}."
    )


def _not_attached_error(entity: User | Group | Role, policy: Policy):
    error_class = {
        User: ram_errors.EntityNotExistUserPolicy,
        Group: ram_errors.EntityNotExistGroupPolicy,
        Role: ram_errors.EntityNotExistRolePolicy,
    }[type(entity)]
    kind = type(entity).__name__
    return error_class(
        f"{policy.policy_type} policy {policy.policy_name!r} is not attached to "
        f"{_entity_label(entity)}; call ListPoliciesFor{kind} to see its policies."
    )


def _limit_error(entity: User | Group | Role, policy_type: str, limit: int):
    error_class = {
        User: ram_errors.LimitExceededUserPolicy,
        Group: ram_errors.LimitExceededGroupPolicy,
        Role: ram_errors.LimitExceededRolePolicy,
    }[type(entity)]
    return error_class(
        f"{_entity_label(entity).capitalize()} already has {limit} {policy_type} "
        "policies, the maximum; detach one first."
    )


def _check_password(password: str) -> None:
    # The message gives the rule, never the password.
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ram_errors.InvalidParameterPasswordTooWeak(
            f"The password has {len(password)} characters; give at least "
            f"{MIN_PASSWORD_LENGTH}."
        )
