"""RAM policy evaluation: may this caller perform this action on this resource?

The rules follow RAM's documented logic. The account root may do everything. A RAM user
is governed by the policies attached to it and to its groups, an assumed role by the
role's policies and, when AssumeRole passed one, the session policy too (both must
allow). An explicit Deny wins over any Allow, and no matching Allow is an implicit deny.

Statements support ``Effect``, ``Action``/``NotAction`` and ``Resource``/``NotResource``
with ``*`` and ``?`` wildcards, matched case-insensitively for actions, and
``Condition`` with the operators ``IpAddress``, ``NotIpAddress``, ``Bool``,
``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``, ``StringLike`` and
``StringNotLike``. A condition that uses another operator, or a key missing from the
request context, does not match, so its statement does not apply. NOTE: that makes a
Deny with an unsupported condition ineffective in the emulator, while the real service
would evaluate it.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import AlibabaError, ForbiddenRam, NoPermission, SlsError
from emulator.state import Caller, Cloud, PolicyAttachment

IDENTITY_POLICY = "AccountLevelIdentityBasedPolicy"
SESSION_POLICY = "SessionPolicy"


@dataclass
class Decision:
    """The outcome of evaluating one action for one caller."""

    allowed: bool
    reason: str  # "Root", "Allow", "ImplicitDeny" or "ExplicitDeny"
    action: str
    resource: str
    policy_type: str = IDENTITY_POLICY
    # The policy whose statement decided an Allow or an explicit Deny, as (type, name).
    matched_policy: tuple[str, str] | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Statement:
    effect: str
    actions: tuple[re.Pattern[str], ...]
    not_actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...] | None
    not_resources: tuple[re.Pattern[str], ...] | None
    condition: dict[str, Any]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Compile a RAM wildcard: ``*`` matches any run, ``?`` one character."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=1024)
def parse_document(document: str) -> tuple[_Statement, ...]:
    """Parse a policy document; raise ``ValueError`` naming the problem."""
    try:
        data = json.loads(document)
    except json.JSONDecodeError as error:
        raise ValueError(f"policy document is not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("policy document must be a JSON object with a Statement list")
    statements = []
    for index, raw in enumerate(_as_list(data.get("Statement"))):
        if not isinstance(raw, dict):
            raise ValueError(f"Statement[{index}] must be a JSON object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(
                f"Statement[{index}].Effect must be Allow or Deny, not {effect!r}"
            )
        if "Action" not in raw and "NotAction" not in raw:
            raise ValueError(f"Statement[{index}] needs an Action or NotAction")
        resources = raw.get("Resource")
        not_resources = raw.get("NotResource")
        statements.append(
            _Statement(
                effect=effect,
                actions=tuple(_glob(str(a), True) for a in _as_list(raw.get("Action"))),
                not_actions=tuple(
                    _glob(str(a), True) for a in _as_list(raw.get("NotAction"))
                ),
                resources=None
                if resources is None
                else tuple(_glob(str(r), False) for r in _as_list(resources)),
                not_resources=None
                if not_resources is None
                else tuple(_glob(str(r), False) for r in _as_list(not_resources)),
                condition=raw.get("Condition") or {},
            )
        )
    return tuple(statements)


def _matches_any(patterns: Iterable[re.Pattern[str]], value: str) -> bool:
    return any(pattern.match(value) for pattern in patterns)


def _statement_applies(
    statement: _Statement, action: str, resource: str, context: dict
) -> bool:
    if statement.actions and not _matches_any(statement.actions, action):
        return False
    if statement.not_actions and _matches_any(statement.not_actions, action):
        return False
    if statement.resources is not None and not _matches_any(
        statement.resources, resource
    ):
        return False
    if statement.not_resources is not None and _matches_any(
        statement.not_resources, resource
    ):
        return False
    return conditions_match(statement.condition, context)


def conditions_match(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Evaluate a statement's Condition block: every operator and key must match."""
    if not isinstance(condition, dict):
        return False
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, block in condition.items():
        if not isinstance(block, dict):
            return False
        for key, expected in block.items():
            actual = lowered.get(key.lower())
            if actual is None:
                return False
            if not _operator_matches(operator.lower(), str(actual), _as_list(expected)):
                return False
    return True


def _operator_matches(operator: str, actual: str, expected: list[Any]) -> bool:
    values = [str(value) for value in expected]
    if operator in ("ipaddress", "notipaddress"):
        inside = _ip_in_any(actual, values)
        return inside if operator == "ipaddress" else not inside
    if operator == "bool":
        return actual.lower() in {value.lower() for value in values}
    if operator == "stringequals":
        return actual in values
    if operator == "stringnotequals":
        return actual not in values
    if operator == "stringequalsignorecase":
        return actual.lower() in {value.lower() for value in values}
    if operator == "stringlike":
        return any(_glob(value, False).match(actual) for value in values)
    if operator == "stringnotlike":
        return not any(_glob(value, False).match(actual) for value in values)
    return False


def _ip_in_any(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


# --- the caller's policies ---------------------------------------------------------


def attached_policies(cloud: Cloud, caller: Caller) -> list[PolicyAttachment]:
    """List the policies of a caller: a user's and its groups', or a role's."""
    if caller.type == "ram-user":
        user = cloud.users.get(caller.user_name)
        if user is None:
            return []
        attachments = list(user.policies)
        for group_name in user.groups:
            group = cloud.groups.get(group_name)
            if group is not None:
                attachments.extend(group.policies)
        return attachments
    if caller.type == "assumed-role":
        role = cloud.roles.get(caller.role_name or "")
        return list(role.policies) if role else []
    return []


def _session_policy(cloud: Cloud, caller: Caller) -> str | None:
    if caller.type != "assumed-role":
        return None
    session = cloud.sts_sessions.get(caller.access_key_id)
    return getattr(session, "policy", None) if session else None


def evaluate(
    cloud: Cloud,
    caller: Caller,
    action: str,
    resource: str = "*",
    context: dict[str, Any] | None = None,
) -> Decision:
    """Decide whether ``caller`` may perform ``action`` on ``resource``.

    ``context`` contains condition keys such as ``acs:SourceIp``. ``acs:MFAPresent``
    defaults to ``"false"`` because AccessKey calls carry no MFA, and
    ``acs:SecureTransport`` to ``"true"`` because the emulator replaces HTTPS endpoints.
    """
    full_context = {"acs:MFAPresent": "false", "acs:SecureTransport": "true"}
    full_context.update(context or {})
    if caller.type == "root-account":
        return Decision(True, "Root", action, resource, context=full_context)

    documents = []
    for attachment in attached_policies(cloud, caller):
        policy = cloud.policies.get((attachment.policy_type, attachment.policy_name))
        if policy is not None:
            documents.append(
                ((policy.policy_type, policy.policy_name), policy.default_document())
            )
    decision = _evaluate_documents(
        documents, action, resource, full_context, IDENTITY_POLICY
    )
    session_document = _session_policy(cloud, caller)
    if not decision.allowed or session_document is None:
        return decision
    return _evaluate_documents(
        [(("Session", "session policy"), session_document)],
        action,
        resource,
        full_context,
        SESSION_POLICY,
    )


def _evaluate_documents(
    documents: list[tuple[tuple[str, str], str]],
    action: str,
    resource: str,
    context: dict[str, Any],
    policy_type: str,
) -> Decision:
    allowed_by: tuple[str, str] | None = None
    for policy_key, document in documents:
        try:
            statements = parse_document(document)
        except ValueError:
            continue  # RAM rejects invalid documents on write, so none should be stored
        for statement in statements:
            if not _statement_applies(statement, action, resource, context):
                continue
            if statement.effect == "Deny":
                return Decision(
                    False,
                    "ExplicitDeny",
                    action,
                    resource,
                    policy_type,
                    policy_key,
                    context,
                )
            allowed_by = allowed_by or policy_key
    if allowed_by is not None:
        return Decision(
            True, "Allow", action, resource, policy_type, allowed_by, context
        )
    return Decision(False, "ImplicitDeny", action, resource, policy_type, None, context)


# --- resources named by a request -----------------------------------------------------


def request_resources(
    cloud: Cloud, product: str, params: dict[str, str], region: str
) -> list[str]:
    """Derive the resource ARNs a POP request names, for Resource matching.

    Requests that name no resource the emulator can map use ``*``.
    """
    account = cloud.account_id
    if product == "ram":
        for param, kind in (
            ("UserName", "user"),
            ("GroupName", "group"),
            ("RoleName", "role"),
            ("PolicyName", "policy"),
        ):
            if params.get(param):
                return [f"acs:ram:*:{account}:{kind}/{params[param]}"]
    elif product == "sts" and params.get("RoleArn"):
        return [params["RoleArn"]]
    elif product == "ecs":
        ids = [
            value
            for key, value in params.items()
            if key.startswith("InstanceId") and value
        ]
        if ids and not params.get("InstanceIds"):
            return [
                f"acs:ecs:{region}:{account}:instance/{instance}" for instance in ids
            ]
    elif product == "actiontrail" and params.get("Name"):
        return [f"acs:actiontrail:{region}:{account}:trail/{params['Name']}"]
    return ["*"]


def sls_resource(cloud: Cloud, project: str, path: str) -> str:
    """Build the SLS resource ARN of a request path (project, logstore)."""
    resource = f"acs:log:{cloud.region}:{cloud.account_id}:project/{project}"
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "logstores":
        resource += f"/logstore/{parts[1]}"
    return resource


# --- denial responses -----------------------------------------------------------------


def _principal_type(caller: Caller) -> str:
    return "AssumedRoleUser" if caller.type == "assumed-role" else "SubUser"


def _denial_message(caller: Caller, decision: Decision) -> str:
    head = f"You are not authorized to do this action ({decision.action})."
    if decision.reason == "ExplicitDeny" and decision.matched_policy:
        kind, name = decision.matched_policy
        return (
            f"{head} The {kind} policy {name} denies it explicitly for {caller.type} "
            f"{caller.user_name}; remove that Deny statement or call as another "
            "identity."
        )
    return (
        f"{head} You should be authorized by RAM: attach a policy that allows "
        f"{decision.action} to {caller.type} {caller.user_name}."
    )


def access_denied_detail(
    cloud: Cloud, caller: Caller, decision: Decision
) -> dict[str, str]:
    """Build the ``AccessDeniedDetail`` block of a POP permission error."""
    diagnostic = {
        "AuthAction": decision.action,
        "AuthResource": decision.resource,
        "NoPermissionType": decision.reason,
        "PolicyType": decision.policy_type,
        "MatchedPolicy": ":".join(decision.matched_policy)
        if decision.matched_policy
        else "",
        "Principal": caller.principal_id,
    }
    encoded = base64.b64encode(json.dumps(diagnostic).encode("utf-8")).decode("ascii")
    return {
        "AuthAction": decision.action,
        "AuthPrincipalType": _principal_type(caller),
        "AuthPrincipalOwnerId": cloud.account_id,
        "AuthPrincipalDisplayName": caller.user_name,
        "PolicyType": decision.policy_type,
        "NoPermissionType": decision.reason,
        "EncodedDiagnosticMessage": encoded,
    }


def access_denied_error(
    cloud: Cloud, caller: Caller, decision: Decision, product: str
) -> AlibabaError:
    """Build the permission error a POP product returns: ``Forbidden.RAM`` for ECS,
    ``NoPermission`` for the others."""
    detail = access_denied_detail(cloud, caller, decision)
    if product == "ecs":
        message = (
            "User not authorized to operate on the specified resource, or this API "
            f"doesn't support RAM. {_denial_message(caller, decision)}"
        )
        return ForbiddenRam(message, access_denied_detail=detail)
    return NoPermission(_denial_message(caller, decision), access_denied_detail=detail)


def sls_access_denied(decision: Decision) -> SlsError:
    """Build SLS's permission error, which names the action and the resource."""
    return SlsError(
        "Unauthorized",
        401,
        f"denied by sts or ram, action: {decision.action}, resource: "
        f"{decision.resource}",
    )


def sls_operation(
    method: str, path: str, query: list[tuple[str, str]]
) -> tuple[str, str]:
    """Name an SLS request's operation and the RAM action that authorises it.

    GetLogs is ``log:GetLogStoreLogs`` and GetHistograms ``log:GetLogStoreHistogram``,
    as in SLS's RAM action list.
    """
    parts = [part for part in path.split("/") if part]
    params = dict(query)
    if not parts:
        return "GetProject", "log:GetProject"
    if parts[0] == "logs":
        # NOTE: the RAM action of project-level queries is unverified.
        return "GetProjectLogs", "log:GetProjectQuery"
    if parts[0] != "logstores":
        return (
            f"{method} /{parts[0]}",
            f"log:{method.capitalize()}{parts[0].capitalize()}",
        )
    if len(parts) == 1:
        return (
            ("ListLogStores", "log:ListLogStores")
            if method == "GET"
            else (
                "CreateLogStore",
                "log:CreateLogStore",
            )
        )
    if len(parts) == 2:
        if method == "GET" and params.get("type") == "log":
            return "GetLogs", "log:GetLogStoreLogs"
        if method == "GET" and params.get("type") == "histogram":
            return "GetHistograms", "log:GetLogStoreHistogram"
        if method == "DELETE":
            return "DeleteLogStore", "log:DeleteLogStore"
        if method == "PUT":
            return "UpdateLogStore", "log:UpdateLogStore"
        return "GetLogStore", "log:GetLogStore"
    if parts[2] == "logs":
        return "GetLogs", "log:GetLogStoreLogs"
    if parts[2] == "shards" and method == "POST":
        return "PutLogs", "log:PostLogStoreLogs"
    if parts[2] == "shards":
        if len(parts) > 3 and method == "GET" and params.get("type") == "cursor":
            return "GetCursor", "log:GetCursorOrData"
        if len(parts) > 3:
            return "PullLogs", "log:GetCursorOrData"
        return "ListShards", "log:ListShards"
    return f"{method} /logstores/{parts[2]}", f"log:{parts[2].capitalize()}"
