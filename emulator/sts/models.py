"""The STS backend: AssumeRole and GetCallerIdentity on a ``Cloud``.

AssumeRole stores a ``StsSession`` in ``Cloud.sts_sessions`` and an ``AccessKey``
with owner type ``assumed-role`` in ``Cloud.access_keys``. The server
authenticates STS keys against both and rejects them once the session's
``expiration`` has passed on the emulator clock. The session policy, when given,
is stored on the session, and policy evaluation requires both it and the role's
policies to allow an action.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from emulator.policy import conditions_match
from emulator.ram.validation import parse_policy_document
from emulator.state import AccessKey, Caller, Cloud, Role, StsSession
from emulator.sts import exceptions as sts_errors

ROLE_ARN_PATTERN = re.compile(r"^acs:ram::(?P<account>\d+):role/(?P<name>[^/]+)$")
SESSION_NAME_PATTERN = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
MIN_DURATION_SECONDS = 900
DEFAULT_DURATION_SECONDS = 3600
MAX_SESSION_POLICY_LENGTH = 2048

_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass
class CallerIdentity:
    """A GetCallerIdentity result, where either ``user_id`` or ``role_id`` is empty."""

    account_id: str
    arn: str
    identity_type: str  # "Account", "RAMUser" or "AssumedRoleUser"
    principal_id: str
    user_id: str = ""
    role_id: str = ""


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


class StsBackend:
    """STS actions on one account's state."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def get_caller_identity(self, caller: Caller) -> CallerIdentity:
        account = self.cloud.account_id
        if caller.type == "root-account":
            return CallerIdentity(
                account_id=account,
                arn=f"acs:ram::{account}:root",
                identity_type="Account",
                principal_id=account,
                user_id=account,
            )
        if caller.type == "assumed-role":
            role = self.cloud.roles.get(caller.role_name or "")
            role_arn = (
                role.arn if role else f"acs:ram::{account}:role/{caller.role_name}"
            )
            assumed_arn = role_arn.replace(":role/", ":assumed-role/", 1)
            return CallerIdentity(
                account_id=account,
                arn=f"{assumed_arn}/{caller.session_name}",
                identity_type="AssumedRoleUser",
                principal_id=caller.principal_id,
                role_id=role.role_id if role else "",
            )
        return CallerIdentity(
            account_id=account,
            arn=f"acs:ram::{account}:user/{caller.user_name}",
            identity_type="RAMUser",
            principal_id=caller.principal_id,
            user_id=caller.principal_id,
        )

    def find_role(self, role_arn: str) -> Role:
        """Return the role that an ARN names, matching the role name ignoring case."""
        match = ROLE_ARN_PATTERN.match(role_arn)
        if match is None:
            raise sts_errors.InvalidParameterRoleArn(
                f"Got {role_arn!r}; give acs:ram::<account id>:role/<role name>."
            )
        if match["account"] != self.cloud.account_id:
            raise sts_errors.EntityNotExistRole(
                f"RoleArn {role_arn!r} names account {match['account']}, but this "
                f"emulator serves account {self.cloud.account_id} only."
            )
        wanted = match["name"].lower()
        for name, role in self.cloud.roles.items():
            if name.lower() == wanted:
                return role
        raise sts_errors.EntityNotExistRole(
            f"Account {self.cloud.account_id} has no role named {match['name']!r}; "
            "call RAM ListRoles to see the role names."
        )

    def assume_role(
        self,
        caller: Caller,
        role_arn: str,
        session_name: str,
        *,
        duration_seconds: int | None,
        policy: str | None,
        context: dict[str, Any],
    ) -> tuple[Role, StsSession]:
        """Issue temporary credentials for a role after checking who may have them.

        ``context`` contains the request's condition keys (``acs:SourceIp``) for the
        trust policy's Condition blocks.
        """
        if caller.type == "root-account":
            raise sts_errors.root_cannot_assume_roles()
        role = self.find_role(role_arn)
        _check_session_name(session_name)
        duration = _check_duration(duration_seconds, role)
        if policy is not None:
            _check_session_policy(policy)
        if not trust_policy_allows(role, caller, self.cloud.account_id, context):
            raise sts_errors.role_not_trusted(
                f"The trust policy of role {role.role_name!r} does not name "
                f"{caller.type} {caller.user_name}; add it to the role's "
                "AssumeRolePolicyDocument Principal."
            )
        return role, self._issue(caller, role, session_name, duration, policy)

    def _issue(
        self,
        caller: Caller,
        role: Role,
        session_name: str,
        duration: int,
        policy: str | None,
    ) -> StsSession:
        now = self.cloud.now()
        key_id = "STS." + _random_text(28)
        while key_id in self.cloud.access_keys or key_id in self.cloud.sts_sessions:
            key_id = "STS." + _random_text(28)
        session = StsSession(
            access_key_id=key_id,
            secret=_random_text(40),
            security_token="CAIS" + secrets.token_urlsafe(192),
            role_name=role.role_name,
            session_name=session_name,
            # Whole seconds, so that the key stops working at the very moment the
            # response's Expiration names.
            expiration=(now + timedelta(seconds=duration)).replace(microsecond=0),
            issued_by=caller.access_key_id,
            policy=policy,
        )
        self.cloud.sts_sessions[key_id] = session
        self.cloud.access_keys[key_id] = AccessKey(
            access_key_id=key_id,
            secret=session.secret,
            status="Active",
            create_date=now,
            owner_type="assumed-role",
        )
        return session


def _check_session_name(session_name: str) -> None:
    if not SESSION_NAME_PATTERN.match(session_name):
        raise sts_errors.InvalidParameterRoleSessionName(
            f"Got {session_name!r}; give 2 to 64 letters, digits or . @ _ -."
        )


def _check_duration(duration_seconds: int | None, role: Role) -> int:
    if duration_seconds is None:
        return DEFAULT_DURATION_SECONDS
    maximum = role.max_session_duration
    if not MIN_DURATION_SECONDS <= duration_seconds <= maximum:
        raise sts_errors.InvalidParameterDurationSeconds(
            f"Got {duration_seconds}; give {MIN_DURATION_SECONDS} to {maximum} "
            f"seconds, the MaxSessionDuration of role {role.role_name!r}."
        )
    return duration_seconds


def _check_session_policy(policy: str) -> None:
    if len(policy) > MAX_SESSION_POLICY_LENGTH:
        raise sts_errors.InvalidParameterPolicySize(
            f"The Policy has {len(policy)} characters; give at most "
            f"{MAX_SESSION_POLICY_LENGTH}."
        )
    try:
        parse_policy_document(policy)
    except ValueError as error:
        raise sts_errors.InvalidParameterPolicyGrammar(
            f"{error}. Fix the session policy JSON and send it again."
        ) from None


def trust_policy_allows(
    role: Role, caller: Caller, account_id: str, context: dict[str, Any]
) -> bool:
    """Decide whether the role's trust policy lets ``caller`` assume it.

    A RAM principal ``acs:ram::<account>:root`` (or the bare account id) trusts
    every RAM user and role session of that account. A principal
    ``acs:ram::<account>:user/<name>`` trusts one RAM user, and
    ``acs:ram::<account>:role/<name>`` trusts the sessions of one role. A matching
    Deny statement wins over any Allow.
    """
    try:
        document = parse_policy_document(role.assume_role_policy_document, trust=True)
    except ValueError:
        return False
    allowed = False
    for statement in document["Statement"]:
        if not _names_assume_role(statement):
            continue
        if not _principal_matches(statement["Principal"], caller, account_id):
            continue
        if not conditions_match(statement.get("Condition") or {}, context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _names_assume_role(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action", [])
    if isinstance(actions, str):
        actions = [actions]
    return any(action.lower() in ("sts:assumerole", "sts:*", "*") for action in actions)


def _principal_matches(
    principal: dict[str, Any], caller: Caller, account_id: str
) -> bool:
    names = principal.get("RAM", [])
    if isinstance(names, str):
        names = [names]
    prefix = f"acs:ram::{account_id}:"
    for name in names:
        if name in (f"{prefix}root", account_id):
            return True
        if caller.type == "ram-user" and name == f"{prefix}user/{caller.user_name}":
            return True
        if (
            caller.type == "assumed-role"
            and name.lower() == f"{prefix}role/{caller.role_name}".lower()
        ):
            return True
    return False
