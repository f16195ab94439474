"""RAM tasks: one Prefect task per API action.

Every task takes a ``CloudConnection`` first and keyword ``incident``, an id that goes
into the log lines. Each logs before and after its call with ``key=value`` fields.
Results are plain data in the API's own field names (PascalCase), without
``RequestId`` unless stated. ``.fn`` is the plain function, for batch code outside a
flow.

Reading: ``list_users`` (all pages), ``get_user``, ``list_access_keys``,
``get_access_key_last_used``, ``get_policy``, ``list_policy_versions``,
``list_policies_for_user``, ``list_groups_for_user``, ``list_policies_for_group``,
``get_login_profile`` (None without console login), ``list_virtual_mfa_devices``,
``get_user_mfa_info`` (None without MFA), ``list_entities_for_policy``.

Changing: ``create_access_key`` (the secret goes to a sink, never into the result),
``update_access_key``, ``delete_access_key``, ``create_policy``,
``delete_policy``, ``create_policy_version``, ``delete_policy_version``,
``attach_policy_to_user``,
``detach_policy_from_user``, ``remove_user_from_group``, ``update_login_profile``,
``delete_login_profile``, ``delete_user``.
"""

from __future__ import annotations

from typing import Any

from alibabacloud_ram20150501 import models as ram_models
from pydantic import SecretStr

from akresponder import redact
from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.sinks import SecretSink, make_sink
from tasks._common import (
    body_map,
    call_api,
    check_access_key_id,
    check_choice,
    check_group_name,
    check_policy_document,
    check_policy_name,
    check_user_name,
    check_version_id,
    cloud_task,
    fields,
    items,
    task_logger,
)

POLICY_TYPES = ("System", "Custom")
KEY_STATUSES = ("Active", "Inactive")
ROTATE_STRATEGIES = ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded")
LIST_USERS_PAGE_SIZE = 100


def _ram(
    connection: CloudConnection,
    action: str,
    invoke: Any,
    *,
    target: str,
    idempotent: bool = True,
) -> dict[str, Any]:
    response = call_api(
        connection, "ram", action, invoke, target=target, idempotent=idempotent
    )
    return body_map(response)


@cloud_task("ram:ListUsers")
def list_users(
    connection: CloudConnection,
    *,
    page_size: int = LIST_USERS_PAGE_SIZE,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List every RAM user of the account, following ``Marker`` to the last page."""
    if not 1 <= page_size <= 1000:
        raise ValueError(f"invalid page_size {page_size!r}; use 1 to 1000")
    log = task_logger()
    log.info("Listing RAM users %s", fields(incident=incident, action="ListUsers"))

    users: list[dict[str, Any]] = []
    marker: str | None = None
    pages = 0
    while True:
        request = ram_models.ListUsersRequest(marker=marker, max_items=page_size)
        body = _ram(
            connection,
            "ListUsers",
            lambda client, request=request: client.list_users(request),
            target=f"page={pages + 1}",
        )
        users.extend(items(body, "Users", "User"))
        pages += 1
        marker = body.get("Marker")
        if not body.get("IsTruncated") or not marker:
            break

    log.info(
        "Listed RAM users %s",
        fields(incident=incident, action="ListUsers", users=len(users), pages=pages),
    )
    return users


@cloud_task("ram:GetUser")
def get_user(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> dict[str, Any]:
    """Return a RAM user's details (``User`` of GetUser)."""
    check_user_name(user_name)
    log = task_logger()
    log.info("Getting RAM user %s", fields(incident=incident, user=user_name))

    request = ram_models.GetUserRequest(user_name=user_name)
    body = _ram(
        connection,
        "GetUser",
        lambda client: client.get_user(request),
        target=f"user={user_name}",
    )

    log.debug("Got RAM user %s", fields(incident=incident, user=user_name))
    return dict(body.get("User") or {})


@cloud_task("ram:ListAccessKeys")
def list_access_keys(
    connection: CloudConnection,
    user_name: str | None = None,
    *,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a user's AccessKeys (``AccessKeyId``, ``Status``, ``CreateDate``).

    Without ``user_name`` RAM lists the caller's own keys.
    """
    if user_name is not None:
        check_user_name(user_name)
    log = task_logger()
    log.info(
        "Listing AccessKeys %s",
        fields(
            incident=incident, user=user_name or "(caller)", action="ListAccessKeys"
        ),
    )

    request = ram_models.ListAccessKeysRequest(user_name=user_name)
    body = _ram(
        connection,
        "ListAccessKeys",
        lambda client: client.list_access_keys(request),
        target=f"user={user_name or '(caller)'}",
    )
    keys = items(body, "AccessKeys", "AccessKey")

    log.info(
        "Listed AccessKeys %s",
        fields(incident=incident, user=user_name or "(caller)", keys=len(keys)),
    )
    return keys


@cloud_task("ram:GetAccessKeyLastUsed")
def get_access_key_last_used(
    connection: CloudConnection,
    user_name: str,
    access_key_id: str,
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Return ``{"UserName", "AccessKeyId", "LastUsedDate"}`` (None if never used)."""
    check_user_name(user_name)
    check_access_key_id(access_key_id)
    log = task_logger()
    log.info(
        "Getting AccessKey last use %s",
        fields(incident=incident, user=user_name, access_key_id=access_key_id),
    )

    request = ram_models.GetAccessKeyLastUsedRequest(
        user_name=user_name, user_access_key_id=access_key_id
    )
    body = _ram(
        connection,
        "GetAccessKeyLastUsed",
        lambda client: client.get_access_key_last_used(request),
        target=f"user={user_name} access_key_id={access_key_id}",
    )
    last_used = (body.get("AccessKeyLastUsed") or {}).get("LastUsedDate") or None

    log.info(
        "Got AccessKey last use %s",
        fields(
            incident=incident,
            access_key_id=access_key_id,
            last_used=last_used or "never",
        ),
    )
    return {
        "UserName": user_name,
        "AccessKeyId": access_key_id,
        "LastUsedDate": last_used,
    }


@cloud_task("ram:CreateAccessKey", "ram:DeleteAccessKey")
def create_access_key(
    connection: CloudConnection,
    user_name: str,
    *,
    sink: SecretSink | str = "prefect-secret",
    incident: str = "",
) -> dict[str, Any]:
    """Create an AccessKey for a user and hand its secret to ``sink``.

    Returns ``{"UserName", "AccessKeyId", "Status", "CreateDate", "SecretStoredIn"}``;
    the secret itself is never returned or logged. If the sink fails, the new key is
    deleted again (hence ``ram:DeleteAccessKey``), so that no key exists whose secret
    no one holds, and ``SinkError`` is raised.
    """
    check_user_name(user_name)
    if isinstance(sink, str):
        sink = make_sink(sink)
    log = task_logger()
    log.info(
        "Creating AccessKey %s",
        fields(
            incident=incident,
            user=user_name,
            action="CreateAccessKey",
            sink=sink.kind,
        ),
    )

    request = ram_models.CreateAccessKeyRequest(user_name=user_name)
    body = _ram(
        connection,
        "CreateAccessKey",
        lambda client: client.create_access_key(request),
        target=f"user={user_name}",
        idempotent=False,
    )
    key = dict(body.get("AccessKey") or {})
    secret = key.pop("AccessKeySecret", None)
    access_key_id = key.get("AccessKeyId", "")
    if not secret or not access_key_id:
        raise CloudError(
            code="IncompleteResponse",
            status=200,
            api="ram:CreateAccessKey",
            target=f"user={user_name}",
            detail="the response has no AccessKeyId or AccessKeySecret",
        )
    redact.register_secret(secret)

    try:
        stored_in = sink.deliver(user_name, access_key_id, secret)
    except Exception:
        log.error(
            "Storing the new secret failed; deleting the new AccessKey %s",
            fields(incident=incident, user=user_name, access_key_id=access_key_id),
        )
        delete_request = ram_models.DeleteAccessKeyRequest(
            user_name=user_name, user_access_key_id=access_key_id
        )
        _ram(
            connection,
            "DeleteAccessKey",
            lambda client: client.delete_access_key(delete_request),
            target=f"user={user_name} access_key_id={access_key_id}",
        )
        raise
    finally:
        del secret

    log.info(
        "Created AccessKey %s",
        fields(
            incident=incident,
            user=user_name,
            access_key_id=access_key_id,
            action="CreateAccessKey",
            secret_stored_in=stored_in,
        ),
    )
    return {
        "UserName": user_name,
        "AccessKeyId": access_key_id,
        "Status": key.get("Status"),
        "CreateDate": key.get("CreateDate"),
        "SecretStoredIn": stored_in,
    }


@cloud_task("ram:UpdateAccessKey")
def update_access_key(
    connection: CloudConnection,
    user_name: str,
    access_key_id: str,
    status: str,
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Set an AccessKey's status to ``Active`` or ``Inactive``.

    Returns ``{"UserName", "AccessKeyId", "Status", "RequestId"}``.
    """
    check_user_name(user_name)
    check_access_key_id(access_key_id)
    check_choice("status", status, KEY_STATUSES)
    log = task_logger()
    log.info(
        "Updating AccessKey %s",
        fields(
            incident=incident,
            user=user_name,
            access_key_id=access_key_id,
            action="UpdateAccessKey",
            status=status,
        ),
    )

    request = ram_models.UpdateAccessKeyRequest(
        user_name=user_name, user_access_key_id=access_key_id, status=status
    )
    body = _ram(
        connection,
        "UpdateAccessKey",
        lambda client: client.update_access_key(request),
        target=f"user={user_name} access_key_id={access_key_id}",
    )

    log.info(
        "Updated AccessKey %s",
        fields(
            incident=incident,
            access_key_id=access_key_id,
            status=status,
            result="ok",
        ),
    )
    return {
        "UserName": user_name,
        "AccessKeyId": access_key_id,
        "Status": status,
        "RequestId": body.get("RequestId"),
    }


@cloud_task("ram:DeleteAccessKey")
def delete_access_key(
    connection: CloudConnection,
    user_name: str,
    access_key_id: str,
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Delete an AccessKey. Returns ``{"UserName", "AccessKeyId", "RequestId"}``.

    Not retried after an ambiguous failure (a dropped connection), because a resent
    delete of an already deleted key fails with ``EntityNotExist.User.AccessKey``.
    """
    check_user_name(user_name)
    check_access_key_id(access_key_id)
    log = task_logger()
    log.info(
        "Deleting AccessKey %s",
        fields(
            incident=incident,
            user=user_name,
            access_key_id=access_key_id,
            action="DeleteAccessKey",
        ),
    )

    request = ram_models.DeleteAccessKeyRequest(
        user_name=user_name, user_access_key_id=access_key_id
    )
    body = _ram(
        connection,
        "DeleteAccessKey",
        lambda client: client.delete_access_key(request),
        target=f"user={user_name} access_key_id={access_key_id}",
        idempotent=False,
    )

    log.info(
        "Deleted AccessKey %s",
        fields(incident=incident, access_key_id=access_key_id, result="ok"),
    )
    return {
        "UserName": user_name,
        "AccessKeyId": access_key_id,
        "RequestId": body.get("RequestId"),
    }


@cloud_task("ram:CreatePolicy")
def create_policy(
    connection: CloudConnection,
    policy_name: str,
    policy_document: str | dict[str, Any],
    *,
    description: str = "",
    incident: str = "",
) -> dict[str, Any]:
    """Create a custom policy; returns ``Policy`` of CreatePolicy.

    Raises ``CloudError`` with code ``EntityAlreadyExists.Policy`` if the name is
    taken; use ``get_policy`` and ``create_policy_version`` to update one.
    """
    check_policy_name(policy_name)
    document = check_policy_document(policy_document)
    if len(description) > 1024:
        raise ValueError(
            f"description has {len(description)} characters; RAM accepts at most 1024"
        )
    log = task_logger()
    log.info(
        "Creating policy %s",
        fields(incident=incident, policy=policy_name, action="CreatePolicy"),
    )

    request = ram_models.CreatePolicyRequest(
        policy_name=policy_name,
        policy_document=document,
        description=description or None,
    )
    body = _ram(
        connection,
        "CreatePolicy",
        lambda client: client.create_policy(request),
        target=f"policy={policy_name}",
        idempotent=False,
    )

    log.info(
        "Created policy %s", fields(incident=incident, policy=policy_name, result="ok")
    )
    return dict(body.get("Policy") or {})


@cloud_task("ram:GetPolicy")
def get_policy(
    connection: CloudConnection,
    policy_name: str,
    policy_type: str = "Custom",
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Return ``{"Policy": {...}, "DefaultPolicyVersion": {...}}`` of GetPolicy."""
    check_policy_name(policy_name)
    check_choice("policy_type", policy_type, POLICY_TYPES)
    log = task_logger()
    log.info(
        "Getting policy %s",
        fields(incident=incident, policy=policy_name, policy_type=policy_type),
    )

    request = ram_models.GetPolicyRequest(
        policy_name=policy_name, policy_type=policy_type
    )
    body = _ram(
        connection,
        "GetPolicy",
        lambda client: client.get_policy(request),
        target=f"policy={policy_name} policy_type={policy_type}",
    )

    return {
        "Policy": dict(body.get("Policy") or {}),
        "DefaultPolicyVersion": dict(body.get("DefaultPolicyVersion") or {}),
    }


@cloud_task("ram:CreatePolicyVersion")
def create_policy_version(
    connection: CloudConnection,
    policy_name: str,
    policy_document: str | dict[str, Any],
    *,
    set_as_default: bool = True,
    rotate_strategy: str = "None",
    incident: str = "",
) -> dict[str, Any]:
    """Add a version to a custom policy; returns ``PolicyVersion``.

    RAM keeps at most five versions; with ``rotate_strategy="None"`` a sixth fails
    with ``LimitExceeded.Policy.Version``, so delete an old one first or pass
    ``DeleteOldestNonDefaultVersionWhenLimitExceeded``.
    """
    check_policy_name(policy_name)
    document = check_policy_document(policy_document)
    check_choice("rotate_strategy", rotate_strategy, ROTATE_STRATEGIES)
    log = task_logger()
    log.info(
        "Creating policy version %s",
        fields(
            incident=incident,
            policy=policy_name,
            action="CreatePolicyVersion",
            set_as_default=set_as_default,
        ),
    )

    request = ram_models.CreatePolicyVersionRequest(
        policy_name=policy_name,
        policy_document=document,
        set_as_default=set_as_default,
        rotate_strategy=rotate_strategy,
    )
    body = _ram(
        connection,
        "CreatePolicyVersion",
        lambda client: client.create_policy_version(request),
        target=f"policy={policy_name}",
        idempotent=False,
    )
    version = dict(body.get("PolicyVersion") or {})

    log.info(
        "Created policy version %s",
        fields(
            incident=incident,
            policy=policy_name,
            version=version.get("VersionId"),
            result="ok",
        ),
    )
    return version


@cloud_task("ram:ListPolicyVersions")
def list_policy_versions(
    connection: CloudConnection,
    policy_name: str,
    policy_type: str = "Custom",
    *,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a policy's versions (``VersionId``, ``IsDefaultVersion``, ...)."""
    check_policy_name(policy_name)
    check_choice("policy_type", policy_type, POLICY_TYPES)
    log = task_logger()
    log.info(
        "Listing policy versions %s", fields(incident=incident, policy=policy_name)
    )

    request = ram_models.ListPolicyVersionsRequest(
        policy_name=policy_name, policy_type=policy_type
    )
    body = _ram(
        connection,
        "ListPolicyVersions",
        lambda client: client.list_policy_versions(request),
        target=f"policy={policy_name}",
    )
    return items(body, "PolicyVersions", "PolicyVersion")


@cloud_task("ram:DeletePolicy")
def delete_policy(
    connection: CloudConnection, policy_name: str, *, incident: str = ""
) -> dict[str, Any]:
    """Delete a custom policy that is attached nowhere; returns ``{"PolicyName",
    "RequestId"}``."""
    check_policy_name(policy_name)
    log = task_logger()
    log.info(
        "Deleting policy %s",
        fields(incident=incident, policy=policy_name, action="DeletePolicy"),
    )

    request = ram_models.DeletePolicyRequest(policy_name=policy_name)
    body = _ram(
        connection,
        "DeletePolicy",
        lambda client: client.delete_policy(request),
        target=f"policy={policy_name}",
        idempotent=False,
    )

    log.info(
        "Deleted policy %s", fields(incident=incident, policy=policy_name, result="ok")
    )
    return {"PolicyName": policy_name, "RequestId": body.get("RequestId")}


@cloud_task("ram:DeletePolicyVersion")
def delete_policy_version(
    connection: CloudConnection,
    policy_name: str,
    version_id: str,
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Delete a non-default policy version; returns ``{"PolicyName", "VersionId",
    "RequestId"}``."""
    check_policy_name(policy_name)
    check_version_id(version_id)
    log = task_logger()
    log.info(
        "Deleting policy version %s",
        fields(
            incident=incident,
            policy=policy_name,
            version=version_id,
            action="DeletePolicyVersion",
        ),
    )

    request = ram_models.DeletePolicyVersionRequest(
        policy_name=policy_name, version_id=version_id
    )
    body = _ram(
        connection,
        "DeletePolicyVersion",
        lambda client: client.delete_policy_version(request),
        target=f"policy={policy_name} version={version_id}",
        idempotent=False,
    )

    log.info(
        "Deleted policy version %s",
        fields(incident=incident, policy=policy_name, version=version_id, result="ok"),
    )
    return {
        "PolicyName": policy_name,
        "VersionId": version_id,
        "RequestId": body.get("RequestId"),
    }


def _attachment_change(
    connection: CloudConnection,
    action: str,
    verb: str,
    no_op_code: str,
    policy_name: str,
    policy_type: str,
    user_name: str,
    incident: str,
) -> dict[str, Any]:
    check_policy_name(policy_name)
    check_choice("policy_type", policy_type, POLICY_TYPES)
    check_user_name(user_name)
    log = task_logger()
    log.info(
        "%s policy %s",
        verb,
        fields(
            incident=incident,
            user=user_name,
            policy=policy_name,
            policy_type=policy_type,
            action=action,
        ),
    )

    model = getattr(ram_models, f"{action}Request")
    request = model(
        policy_name=policy_name, policy_type=policy_type, user_name=user_name
    )
    method = (
        "attach_policy_to_user"
        if action == "AttachPolicyToUser"
        else ("detach_policy_from_user")
    )
    changed = True
    request_id = None
    try:
        body = _ram(
            connection,
            action,
            lambda client: getattr(client, method)(request),
            target=f"user={user_name} policy={policy_name}",
        )
        request_id = body.get("RequestId")
    except CloudError as error:
        # Already in the requested state, also when a retried request was processed.
        if error.code != no_op_code:
            raise
        changed = False

    log.info(
        "%s policy %s",
        "Attached" if action == "AttachPolicyToUser" else "Detached",
        fields(
            incident=incident,
            user=user_name,
            policy=policy_name,
            result="ok" if changed else "unchanged",
        ),
    )
    return {
        "UserName": user_name,
        "PolicyName": policy_name,
        "PolicyType": policy_type,
        "Changed": changed,
        "RequestId": request_id,
    }


@cloud_task("ram:AttachPolicyToUser")
def attach_policy_to_user(
    connection: CloudConnection,
    policy_name: str,
    user_name: str,
    policy_type: str = "Custom",
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Attach a policy to a user; ``Changed`` is False if it was attached already."""
    return _attachment_change(
        connection,
        "AttachPolicyToUser",
        "Attaching",
        "EntityAlreadyExists.User.Policy",
        policy_name,
        policy_type,
        user_name,
        incident,
    )


@cloud_task("ram:DetachPolicyFromUser")
def detach_policy_from_user(
    connection: CloudConnection,
    policy_name: str,
    user_name: str,
    policy_type: str = "Custom",
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Detach a policy from a user; ``Changed`` is False if it was not attached."""
    return _attachment_change(
        connection,
        "DetachPolicyFromUser",
        "Detaching",
        "EntityNotExist.User.Policy",
        policy_name,
        policy_type,
        user_name,
        incident,
    )


@cloud_task("ram:ListPoliciesForUser")
def list_policies_for_user(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the policies attached directly to a user."""
    check_user_name(user_name)
    log = task_logger()
    log.info("Listing user policies %s", fields(incident=incident, user=user_name))

    request = ram_models.ListPoliciesForUserRequest(user_name=user_name)
    body = _ram(
        connection,
        "ListPoliciesForUser",
        lambda client: client.list_policies_for_user(request),
        target=f"user={user_name}",
    )
    return items(body, "Policies", "Policy")


@cloud_task("ram:ListGroupsForUser")
def list_groups_for_user(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the groups a user belongs to."""
    check_user_name(user_name)
    log = task_logger()
    log.info("Listing user groups %s", fields(incident=incident, user=user_name))

    request = ram_models.ListGroupsForUserRequest(user_name=user_name)
    body = _ram(
        connection,
        "ListGroupsForUser",
        lambda client: client.list_groups_for_user(request),
        target=f"user={user_name}",
    )
    return items(body, "Groups", "Group")


@cloud_task("ram:ListPoliciesForGroup")
def list_policies_for_group(
    connection: CloudConnection, group_name: str, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the policies attached to a group."""
    check_group_name(group_name)
    log = task_logger()
    log.info("Listing group policies %s", fields(incident=incident, group=group_name))

    request = ram_models.ListPoliciesForGroupRequest(group_name=group_name)
    body = _ram(
        connection,
        "ListPoliciesForGroup",
        lambda client: client.list_policies_for_group(request),
        target=f"group={group_name}",
    )
    return items(body, "Policies", "Policy")


@cloud_task("ram:RemoveUserFromGroup")
def remove_user_from_group(
    connection: CloudConnection,
    user_name: str,
    group_name: str,
    *,
    incident: str = "",
) -> dict[str, Any]:
    """Remove a user from a group; return ``{"UserName", "GroupName", "RequestId"}``."""
    check_user_name(user_name)
    check_group_name(group_name)
    log = task_logger()
    log.info(
        "Removing user from group %s",
        fields(
            incident=incident,
            user=user_name,
            group=group_name,
            action="RemoveUserFromGroup",
        ),
    )

    request = ram_models.RemoveUserFromGroupRequest(
        user_name=user_name, group_name=group_name
    )
    body = _ram(
        connection,
        "RemoveUserFromGroup",
        lambda client: client.remove_user_from_group(request),
        target=f"user={user_name} group={group_name}",
        idempotent=False,
    )

    log.info(
        "Removed user from group %s",
        fields(incident=incident, user=user_name, group=group_name, result="ok"),
    )
    return {
        "UserName": user_name,
        "GroupName": group_name,
        "RequestId": body.get("RequestId"),
    }


@cloud_task("ram:GetLoginProfile")
def get_login_profile(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> dict[str, Any] | None:
    """Return the user's ``LoginProfile``, or None if the user has no console login."""
    check_user_name(user_name)
    log = task_logger()
    log.info("Getting login profile %s", fields(incident=incident, user=user_name))

    request = ram_models.GetLoginProfileRequest(user_name=user_name)
    try:
        body = _ram(
            connection,
            "GetLoginProfile",
            lambda client: client.get_login_profile(request),
            target=f"user={user_name}",
        )
    except CloudError as error:
        if error.code == "EntityNotExist.User.LoginProfile":
            log.info(
                "User has no console login %s",
                fields(incident=incident, user=user_name),
            )
            return None
        raise
    return dict(body.get("LoginProfile") or {})


@cloud_task("ram:UpdateLoginProfile")
def update_login_profile(
    connection: CloudConnection,
    user_name: str,
    *,
    password: SecretStr | None = None,
    password_reset_required: bool | None = None,
    mfa_bind_required: bool | None = None,
    incident: str = "",
) -> dict[str, Any]:
    """Change a user's console login: new password, forced reset, required MFA.

    The password is a ``SecretStr``, so it stays masked in reprs and flow
    parameters, and it is registered for log redaction. Returns the settings changed
    (without the password) and ``RequestId``.
    """
    check_user_name(user_name)
    if (
        password is None
        and password_reset_required is None
        and mfa_bind_required is None
    ):
        raise ValueError(
            "update_login_profile needs at least one of password, "
            "password_reset_required or mfa_bind_required"
        )
    plain_password = None
    if password is not None:
        plain_password = password.get_secret_value()
        if len(plain_password) < 8:
            raise ValueError(
                "password is shorter than 8 characters; RAM password policies "
                "require at least 8"
            )
        redact.register_secret(plain_password)
    log = task_logger()
    log.info(
        "Updating login profile %s",
        fields(
            incident=incident,
            user=user_name,
            action="UpdateLoginProfile",
            password_changed=password is not None,
            password_reset_required=password_reset_required,
            mfa_bind_required=mfa_bind_required,
        ),
    )

    request = ram_models.UpdateLoginProfileRequest(
        user_name=user_name,
        password=plain_password,
        password_reset_required=password_reset_required,
        mfabind_required=mfa_bind_required,
    )
    body = _ram(
        connection,
        "UpdateLoginProfile",
        lambda client: client.update_login_profile(request),
        target=f"user={user_name}",
    )

    log.info(
        "Updated login profile %s",
        fields(incident=incident, user=user_name, result="ok"),
    )
    return {
        "UserName": user_name,
        "PasswordChanged": password is not None,
        "PasswordResetRequired": password_reset_required,
        "MFABindRequired": mfa_bind_required,
        "RequestId": body.get("RequestId"),
    }


@cloud_task("ram:DeleteLoginProfile")
def delete_login_profile(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> dict[str, Any]:
    """Remove a user's console login; ``Changed`` is False if there was none."""
    check_user_name(user_name)
    log = task_logger()
    log.info(
        "Deleting login profile %s",
        fields(incident=incident, user=user_name, action="DeleteLoginProfile"),
    )

    request = ram_models.DeleteLoginProfileRequest(user_name=user_name)
    changed = True
    request_id = None
    try:
        body = _ram(
            connection,
            "DeleteLoginProfile",
            lambda client: client.delete_login_profile(request),
            target=f"user={user_name}",
        )
        request_id = body.get("RequestId")
    except CloudError as error:
        if error.code != "EntityNotExist.User.LoginProfile":
            raise
        changed = False

    log.info(
        "Deleted login profile %s",
        fields(
            incident=incident,
            user=user_name,
            result="ok" if changed else "unchanged",
        ),
    )
    return {"UserName": user_name, "Changed": changed, "RequestId": request_id}


@cloud_task("ram:ListVirtualMFADevices")
def list_virtual_mfa_devices(
    connection: CloudConnection, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the account's virtual MFA devices and the users they are bound to."""
    log = task_logger()
    log.info("Listing virtual MFA devices %s", fields(incident=incident))

    body = _ram(
        connection,
        "ListVirtualMFADevices",
        lambda client: client.list_virtual_mfadevices(),
        target="account",
    )
    return items(body, "VirtualMFADevices", "VirtualMFADevice")


@cloud_task("ram:GetUserMFAInfo")
def get_user_mfa_info(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> dict[str, Any] | None:
    """Return the user's ``MFADevice``, or None if no MFA device is bound."""
    check_user_name(user_name)
    log = task_logger()
    log.info("Getting MFA device %s", fields(incident=incident, user=user_name))

    request = ram_models.GetUserMFAInfoRequest(user_name=user_name)
    try:
        body = _ram(
            connection,
            "GetUserMFAInfo",
            lambda client: client.get_user_mfainfo(request),
            target=f"user={user_name}",
        )
    except CloudError as error:
        if error.code.startswith("EntityNotExist.User.MFADevice"):
            return None
        raise
    return dict(body.get("MFADevice") or {}) or None


@cloud_task("ram:ListEntitiesForPolicy")
def list_entities_for_policy(
    connection: CloudConnection,
    policy_name: str,
    policy_type: str = "Custom",
    *,
    incident: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """Return ``{"Users": [...], "Groups": [...], "Roles": [...]}`` a policy is on."""
    check_policy_name(policy_name)
    check_choice("policy_type", policy_type, POLICY_TYPES)
    log = task_logger()
    log.info(
        "Listing entities for policy %s",
        fields(incident=incident, policy=policy_name, policy_type=policy_type),
    )

    request = ram_models.ListEntitiesForPolicyRequest(
        policy_name=policy_name, policy_type=policy_type
    )
    body = _ram(
        connection,
        "ListEntitiesForPolicy",
        lambda client: client.list_entities_for_policy(request),
        target=f"policy={policy_name}",
    )
    return {
        "Users": items(body, "Users", "User"),
        "Groups": items(body, "Groups", "Group"),
        "Roles": items(body, "Roles", "Role"),
    }


@cloud_task("ram:DeleteUser")
def delete_user(
    connection: CloudConnection, user_name: str, *, incident: str = ""
) -> dict[str, Any]:
    """Delete a RAM user; returns ``{"UserName", "RequestId"}``.

    RAM refuses while the user still has keys, policies, groups, a login profile or an
    MFA device (``DeleteConflict.User.*``); remove those first.
    """
    check_user_name(user_name)
    log = task_logger()
    log.info(
        "Deleting RAM user %s",
        fields(incident=incident, user=user_name, action="DeleteUser"),
    )

    request = ram_models.DeleteUserRequest(user_name=user_name)
    body = _ram(
        connection,
        "DeleteUser",
        lambda client: client.delete_user(request),
        target=f"user={user_name}",
        idempotent=False,
    )

    log.info(
        "Deleted RAM user %s", fields(incident=incident, user=user_name, result="ok")
    )
    return {"UserName": user_name, "RequestId": body.get("RequestId")}
