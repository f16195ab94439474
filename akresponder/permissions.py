"""The RAM permissions each task needs, declared as data, and the policy made of them.

Every task in ``tasks/`` carries ``@requires("ram:UpdateAccessKey", ...)``.
``FLOW_TASKS`` lists the tasks that each flow calls, and ``FLOW_DIRECT_ACTIONS`` the
RAM actions of calls a flow makes without a task. ``minimal_policy()`` builds the
least-privilege RAM policy for the responder's identity from those two tables only,
so a task that no flow calls is not in it. ``print_minimal_policy()`` prints it (the
CLI's ``policy`` command). ``permission_for(api)`` maps an API
("ram:UpdateAccessKey", "sls:GetLogs") to the RAM action that authorises it, so a
permission error can name what to grant.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__akresponder_permissions__"
TASK_MODULES: tuple[str, ...] = (
    "tasks.ram",
    "tasks.sts",
    "tasks.actiontrail",
    "tasks.bss",
    "tasks.sls",
    "tasks.ecs",
)

# RAM service codes differ from our service names for BSS and SLS.
RAM_CODES: dict[str, str] = {
    "ram": "ram",
    "sts": "sts",
    "actiontrail": "actiontrail",
    "bss": "bssapi",
    "ecs": "ecs",
    "sls": "log",
}
# APIs whose RAM action is not "<code>:<Action>". SLS authorises by resource operation
# names; STS GetCallerIdentity needs no permission at all.
SPECIAL_ACTIONS: dict[str, str | None] = {
    "sls:GetLogs": "log:GetLogStoreLogs",
    "sls:GetHistograms": "log:GetLogStoreHistogram",
    "sts:GetCallerIdentity": None,
}

_registry: dict[str, tuple[str, ...]] = {}


def permission_for(api: str) -> str | None:
    """Return the RAM action that authorises ``api`` ("<service>:<Action>")."""
    if api in SPECIAL_ACTIONS:
        return SPECIAL_ACTIONS[api]
    service, _, action = api.partition(":")
    if service not in RAM_CODES or not action:
        raise ValueError(
            f"unknown API {api!r}; write it as <service>:<Action> with a service "
            f"from {', '.join(RAM_CODES)}"
        )
    return f"{RAM_CODES[service]}:{action}"


def requires(*actions: str) -> Callable[[F], F]:
    """Declare the RAM actions a task function needs (none for an empty call)."""
    for action in actions:
        code, _, name = action.partition(":")
        if code not in RAM_CODES.values() or not name:
            raise ValueError(
                f"invalid RAM action {action!r}; write it as <code>:<Action> with a "
                f"code from {', '.join(sorted(set(RAM_CODES.values())))}"
            )

    def declare(function: F) -> F:
        setattr(function, ATTRIBUTE, tuple(actions))
        _registry[f"{function.__module__}.{function.__name__}"] = tuple(actions)
        return function

    return declare


def declared_permissions(task: Any) -> tuple[str, ...] | None:
    """Return the actions a task or function declared, or None if it declared none."""
    function = getattr(task, "fn", task)
    return getattr(function, ATTRIBUTE, None)


def load_task_modules() -> None:
    """Import every task module so that all declarations are registered."""
    for module in TASK_MODULES:
        importlib.import_module(module)


def registered() -> dict[str, tuple[str, ...]]:
    """Return every registered declaration, by ``module.function`` name."""
    load_task_modules()
    return dict(_registry)


# The flows whose permissions ``minimal_policy`` can build. The alert intake and the
# responses it starts, and the responses for keys the attacker created, all run the
# response flow, so "respond" covers them.
FLOWS: tuple[str, ...] = ("respond", "undo", "sweep")

# The tasks each flow calls, as "<module>.<function>" of ``tasks/``. A test scans the
# flows' modules for task calls and fails when a call is missing here or an entry
# here is called nowhere.
FLOW_TASKS: dict[str, tuple[str, ...]] = {
    "respond": (
        "sts.get_caller_identity",
        "ram.list_users",
        "ram.list_access_keys",
        "ram.get_user",
        "ram.get_access_key_last_used",
        "ram.list_policies_for_user",
        "ram.list_groups_for_user",
        "ram.list_policies_for_group",
        "ram.get_policy",
        "ram.get_login_profile",
        "ram.get_user_mfa_info",
        "ram.update_access_key",
        "ram.delete_access_key",
        "ram.create_access_key",
        "ram.create_policy",
        "ram.attach_policy_to_user",
        "ram.detach_policy_from_user",
        "ram.update_login_profile",
        "actiontrail.lookup_events",
        "actiontrail.get_access_key_last_used_info",
        "actiontrail.get_access_key_last_used_products",
        "actiontrail.get_access_key_last_used_ips",
        "actiontrail.describe_trails",
        "sls.get_logstore",
        "sls.get_histograms",
        "sls.get_logs_page",
        "bss.query_instance_bill",
        "ecs.describe_instances",
    ),
    "undo": (
        "ram.list_access_keys",
        "ram.list_policies_for_user",
        "ram.get_policy",
        "ram.get_login_profile",
        "ram.update_access_key",
        "ram.detach_policy_from_user",
        "ram.attach_policy_to_user",
        "ram.update_login_profile",
        "ram.list_entities_for_policy",
        "ram.delete_policy",
    ),
    "sweep": ("actiontrail.lookup_events_page",),
}

# RAM actions of calls made without a task. The sweep calls RAM through
# ``call_api`` so that it can pace each action on a token bucket of its own.
FLOW_DIRECT_ACTIONS: dict[str, tuple[str, ...]] = {
    "sweep": (
        "ram:ListUsers",
        "ram:ListAccessKeys",
        "ram:GetAccessKeyLastUsed",
        "ram:GetLoginProfile",
        "ram:GetUserMFAInfo",
        "ram:ListVirtualMFADevices",
    ),
}

# Actions that only ever act on the deny policy, so the policy allows them on that
# policy's ARN alone. The RAM API reference gives the resource of both as
# acs:ram:*:{#accountId}:policy/{#PolicyName}. Without this, ram:CreatePolicy on "*"
# would let the responder create any policy and attach it to itself.
# NOTE: ram:AttachPolicyToUser stays on "*", so the responder can still attach an
# existing policy to any user. Undo re-attaches whatever policies containment
# detached, so no single policy ARN covers it.
DENY_POLICY_ACTIONS: tuple[str, ...] = ("ram:CreatePolicy", "ram:DeletePolicy")
DEFAULT_DENY_POLICY_NAME = "akresponder-deny-high-risk"
# RAM policy names: 1 to 128 letters, digits and hyphens.
_POLICY_NAME = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def parse_flows(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list of flow names, such as "respond,undo"."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part))
    unknown = [name for name in names if name not in FLOWS]
    if unknown or not names:
        raise ValueError(
            f"invalid flow list {text!r}; give one or more of {', '.join(FLOWS)} "
            "separated by commas"
        )
    return names


def flow_actions(flows: Iterable[str] = FLOWS) -> set[str]:
    """Return the RAM actions that the given flows need."""
    declared = registered()
    actions: set[str] = set()
    for flow in flows:
        if flow not in FLOWS:
            raise ValueError(f"unknown flow {flow!r}; choose from {', '.join(FLOWS)}")
        for task in FLOW_TASKS.get(flow, ()):
            name = f"tasks.{task}"
            if name not in declared:
                raise ValueError(
                    f"FLOW_TASKS[{flow!r}] names {task!r}, which is not a task "
                    "with @requires in tasks/; fix the entry"
                )
            actions.update(declared[name])
        actions.update(FLOW_DIRECT_ACTIONS.get(flow, ()))
    return actions


def minimal_policy(
    tasks: Iterable[Any] | None = None,
    *,
    flows: Iterable[str] = FLOWS,
    deny_policy_name: str = DEFAULT_DENY_POLICY_NAME,
) -> dict[str, Any]:
    """Build the RAM policy document that allows exactly the actions the flows need.

    ``flows`` limits it to some flows. ``tasks`` (task objects or functions)
    replaces the flows' tables with those tasks' declarations. ``deny_policy_name``
    must match the settings' ``deny_policy_name``, because ram:CreatePolicy and
    ram:DeletePolicy are allowed on that policy only. Every other action is allowed
    on "*", in one statement per service so that the document stays readable.
    """
    if not _POLICY_NAME.match(deny_policy_name):
        raise ValueError(
            f"invalid deny policy name {deny_policy_name!r}; give the settings' "
            "deny_policy_name: 1 to 128 letters, digits and hyphens"
        )
    if tasks is None:
        actions = flow_actions(flows)
    else:
        actions = set()
        for task in tasks:
            declared = declared_permissions(task)
            if declared is None:
                name = getattr(task, "name", None) or getattr(task, "__name__", task)
                raise ValueError(
                    f"task {name!r} declares no permissions; add @requires(...)"
                )
            actions.update(declared)

    narrowed = sorted(actions & set(DENY_POLICY_ACTIONS))
    by_code: dict[str, set[str]] = {}
    for action in actions - set(narrowed):
        code = action.partition(":")[0]
        by_code.setdefault(code, set()).add(action)

    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": sorted(by_code[code]), "Resource": "*"}
        for code in sorted(by_code)
    ]
    if narrowed:
        statements.append(
            {
                "Effect": "Allow",
                "Action": narrowed,
                "Resource": f"acs:ram:*:*:policy/{deny_policy_name}",
            }
        )
    return {"Version": "1", "Statement": statements}


def print_minimal_policy(
    flows: Iterable[str] = FLOWS, deny_policy_name: str = DEFAULT_DENY_POLICY_NAME
) -> None:
    """Print the responder's minimal RAM policy as JSON (the ``policy`` command)."""
    document = minimal_policy(flows=flows, deny_policy_name=deny_policy_name)
    print(json.dumps(document, indent=2))
