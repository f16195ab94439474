"""The RAM permissions each task needs, declared as data, and the policy made of them.

Every task in ``tasks/`` carries ``@requires("ram:UpdateAccessKey", ...)``. From those
declarations ``minimal_policy()`` builds the least-privilege RAM policy for the
responder's identity, and ``print_minimal_policy()`` prints it (the CLI's ``policy``
command). ``permission_for(api)`` maps an API ("ram:UpdateAccessKey",
"sls:GetLogs") to the RAM action that authorises it, so a permission error can name
what to grant.
"""

from __future__ import annotations

import importlib
import json
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


def minimal_policy(tasks: Iterable[Any] | None = None) -> dict[str, Any]:
    """Build the RAM policy document that allows exactly the declared actions.

    ``tasks`` limits it to some tasks (task objects or functions); None covers every
    task in ``tasks/``. One statement per service keeps the document readable.
    """
    if tasks is None:
        declarations = list(registered().values())
    else:
        declarations = []
        for task in tasks:
            actions = declared_permissions(task)
            if actions is None:
                name = getattr(task, "name", None) or getattr(task, "__name__", task)
                raise ValueError(
                    f"task {name!r} declares no permissions; add @requires(...)"
                )
            declarations.append(actions)

    by_code: dict[str, set[str]] = {}
    for actions in declarations:
        for action in actions:
            code = action.partition(":")[0]
            by_code.setdefault(code, set()).add(action)

    statements = [
        {"Effect": "Allow", "Action": sorted(by_code[code]), "Resource": "*"}
        for code in sorted(by_code)
    ]
    return {"Version": "1", "Statement": statements}


def print_minimal_policy() -> None:
    """Print the responder's minimal RAM policy as JSON (the ``policy`` command)."""
    print(json.dumps(minimal_policy(), indent=2))
