"""The Alibaba Cloud system policies that every emulated account has.

The documents follow the published system policies in spirit: full-access policies allow
``<namespace>:*`` and read-only policies allow the ``Get*``, ``List*``, ``Describe*``
and ``Query*`` actions of the namespace. NOTE: the real documents carry more statements,
such as the service-linked-role grants of the full-access policies. The emulator keeps
only the grants that decide the actions it serves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from emulator.state import Cloud, Policy, PolicyVersion

# The creation date the emulator shows for every system policy.
SYSTEM_POLICY_DATE = datetime(2015, 4, 28, 0, 0, 0, tzinfo=UTC)

READ_PREFIXES = ("Get*", "List*", "Describe*", "Query*", "Lookup*")


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def _allow(actions: list[str] | str, resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def _read_only(namespace: str) -> str:
    return _document(_allow([f"{namespace}:{prefix}" for prefix in READ_PREFIXES]))


SYSTEM_POLICIES: dict[str, tuple[str, str]] = {
    "AdministratorAccess": (
        "Provides full access to Alibaba Cloud services and resources.",
        _document(_allow("*")),
    ),
    "ReadOnlyAccess": (
        "Provides read-only access to all Alibaba Cloud services and resources.",
        _document(_allow([f"*:{prefix}" for prefix in READ_PREFIXES])),
    ),
    "AliyunRAMFullAccess": (
        "Provides full access to Resource Access Management (RAM).",
        _document(_allow("ram:*")),
    ),
    "AliyunRAMReadOnlyAccess": (
        "Provides read-only access to Resource Access Management (RAM).",
        _read_only("ram"),
    ),
    "AliyunECSFullAccess": (
        "Provides full access to Elastic Compute Service (ECS).",
        _document(_allow("ecs:*")),
    ),
    "AliyunECSReadOnlyAccess": (
        "Provides read-only access to Elastic Compute Service (ECS).",
        _read_only("ecs"),
    ),
    "AliyunActionTrailFullAccess": (
        "Provides full access to ActionTrail.",
        _document(_allow("actiontrail:*")),
    ),
    "AliyunActionTrailReadOnlyAccess": (
        "Provides read-only access to ActionTrail.",
        _read_only("actiontrail"),
    ),
    "AliyunBSSFullAccess": (
        "Provides full access to Billing Management.",
        _document(_allow("bssapi:*")),
    ),
    "AliyunBSSReadOnlyAccess": (
        "Provides read-only access to Billing Management.",
        _read_only("bssapi"),
    ),
    "AliyunLogFullAccess": (
        "Provides full access to Log Service (SLS).",
        _document(_allow("log:*")),
    ),
    "AliyunLogReadOnlyAccess": (
        "Provides read-only access to Log Service (SLS).",
        _read_only("log"),
    ),
    "AliyunSTSAssumeRoleAccess": (
        "Provides access to call the AssumeRole operation of Security Token Service "
        "(STS).",
        _document(_allow("sts:AssumeRole")),
    ),
}


def install_system_policies(cloud: Cloud) -> None:
    """Add every system policy to ``cloud.policies`` under ``("System", name)``."""
    for name, (description, document) in SYSTEM_POLICIES.items():
        cloud.policies[("System", name)] = Policy(
            policy_name=name,
            policy_type="System",
            description=description,
            create_date=SYSTEM_POLICY_DATE,
            update_date=SYSTEM_POLICY_DATE,
            versions=[PolicyVersion("v1", document, SYSTEM_POLICY_DATE)],
            default_version="v1",
        )
