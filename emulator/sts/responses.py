"""STS 2015-04-01 wire handlers: AssumeRole and GetCallerIdentity.

Field names follow the models of ``alibabacloud_sts20150401`` 1.2. GetCallerIdentity
needs no permission, like the real service. AssumeRole needs ``sts:AssumeRole``,
which the server checks before the handler runs, and the role's trust policy,
which the backend checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.errors import InvalidParameter
from emulator.registry import Handler, PopRequest, pop_action
from emulator.state import iso
from emulator.sts.models import StsBackend

VERSION = "2015-04-01"
ROLE = "ACS::RAM::Role"
ACCESS_KEY = "ACS::RAM::AccessKey"


def sts_action(
    action: str, *, rw: str, auth_action: str | None = ""
) -> Callable[[Handler], Handler]:
    """Register an STS action, recorded in ActionTrail under service Sts."""
    return pop_action(
        "sts",
        VERSION,
        action,
        rw=rw,
        service_name="Sts",
        event_source="sts.aliyuncs.com",
        host_id="sts.aliyuncs.com",
        auth_action=auth_action,
        is_global=True,
    )


@sts_action("GetCallerIdentity", rw="Read", auth_action=None)
def get_caller_identity(req: PopRequest) -> dict[str, Any]:
    identity = StsBackend(req.cloud).get_caller_identity(req.caller)
    body = {
        "AccountId": identity.account_id,
        "Arn": identity.arn,
        "IdentityType": identity.identity_type,
        "PrincipalId": identity.principal_id,
    }
    # UserId is returned for the root and RAM users, RoleId for role sessions.
    if identity.user_id:
        body["UserId"] = identity.user_id
    if identity.role_id:
        body["RoleId"] = identity.role_id
    return body


@sts_action("AssumeRole", rw="Write")
def assume_role(req: PopRequest) -> dict[str, Any]:
    role_arn = req.require("RoleArn")
    req.resources = {ROLE: [role_arn]}
    duration = req.params.get("DurationSeconds")
    if duration not in (None, "") and not duration.isdigit():
        raise InvalidParameter(
            "DurationSeconds", f"Got {duration!r}; give a whole number of seconds."
        )
    role, session = StsBackend(req.cloud).assume_role(
        req.caller,
        role_arn,
        req.require("RoleSessionName"),
        duration_seconds=int(duration) if duration else None,
        policy=req.get("Policy"),
        context={"acs:SourceIp": req.source_ip},
    )
    req.resources = {ROLE: [role_arn], ACCESS_KEY: [session.access_key_id]}
    # The secret and the token appear in this response only, because the trail
    # record of the call drops both.
    return {
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "AccessKeySecret": session.secret,
            "SecurityToken": session.security_token,
            "Expiration": iso(session.expiration),
        },
        "AssumedRoleUser": {
            "Arn": f"{role.arn}/{session.session_name}",
            "AssumedRoleId": f"{role.role_id}:{session.session_name}",
        },
    }
