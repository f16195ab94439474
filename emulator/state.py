"""The emulated account: every resource the services share, in one place.

One ``Cloud`` is one Alibaba Cloud account. Service backends
(``emulator/<service>/models.py``) read and change it under ``Cloud.lock``. The HTTP
server holds that lock for the whole of each request, so handlers need no locking of
their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.clock import Clock


def iso(moment: datetime) -> str:
    """Format a time the way Alibaba APIs do: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an Alibaba UTC timestamp such as ``2026-11-20T08:00:00Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class AccessKey:
    access_key_id: str
    secret: str
    status: str  # "Active" or "Inactive"
    create_date: datetime
    owner_type: str  # "ram-user", "root-account" or "assumed-role"
    user_name: str | None = None  # RAM user name; None for root and STS keys
    last_used: datetime | None = None


@dataclass
class LoginProfile:
    create_date: datetime
    password_reset_required: bool = False
    mfa_bind_required: bool = False
    # The emulator keeps no password; it records that one was set.


@dataclass
class PolicyAttachment:
    policy_name: str
    policy_type: str  # "System" or "Custom"
    attach_date: datetime


@dataclass
class User:
    user_name: str
    user_id: str
    create_date: datetime
    update_date: datetime
    display_name: str = ""
    comments: str = ""
    email: str = ""
    mobile_phone: str = ""
    last_login_date: datetime | None = None
    groups: list[str] = field(default_factory=list)  # group names
    group_join_dates: dict[str, datetime] = field(default_factory=dict)
    policies: list[PolicyAttachment] = field(default_factory=list)
    login_profile: LoginProfile | None = None
    mfa_serial: str | None = None
    access_key_ids: list[str] = field(default_factory=list)


@dataclass
class Group:
    group_name: str
    group_id: str
    create_date: datetime
    comments: str = ""
    policies: list[PolicyAttachment] = field(default_factory=list)


@dataclass
class PolicyVersion:
    version_id: str  # "v1", "v2", ...
    document: str  # the JSON text as given
    create_date: datetime


@dataclass
class Policy:
    policy_name: str
    policy_type: str  # "System" or "Custom"
    description: str
    create_date: datetime
    update_date: datetime
    versions: list[PolicyVersion] = field(default_factory=list)
    default_version: str = "v1"
    next_version_number: int = 2

    def default_document(self) -> str:
        for version in self.versions:
            if version.version_id == self.default_version:
                return version.document
        raise LookupError(
            f"policy {self.policy_name} has no version {self.default_version}"
        )


@dataclass
class Role:
    role_name: str
    role_id: str
    arn: str
    assume_role_policy_document: str
    create_date: datetime
    description: str = ""
    max_session_duration: int = 3600
    policies: list[PolicyAttachment] = field(default_factory=list)


@dataclass
class StsSession:
    """Temporary credentials issued by AssumeRole."""

    access_key_id: str  # "STS.…"
    secret: str
    security_token: str
    role_name: str
    session_name: str
    expiration: datetime
    issued_by: str  # AccessKey ID of the caller of AssumeRole
    # The session policy passed to AssumeRole, if any. The session may do only what
    # both the role's policies and this document allow.
    policy: str | None = None


@dataclass
class Trail:
    name: str
    home_region: str
    sls_project: str | None
    sls_project_arn: str | None
    create_time: datetime
    # "Enable" (logging), "Disable" (logging stopped) or "Fresh" (created through
    # CreateTrail and never started). Only an "Enable" trail delivers to SLS.
    status: str = "Enable"
    event_rw: str = "All"
    start_logging_time: datetime | None = None
    stop_logging_time: datetime | None = None
    update_time: datetime | None = None
    trail_region: str = "All"
    sls_write_role_arn: str = ""
    oss_bucket_name: str = ""
    oss_key_prefix: str = ""
    oss_write_role_arn: str = ""

    @property
    def logstore(self) -> str:
        return f"actiontrail_{self.name}"


@dataclass
class Instance:
    instance_id: str
    region_id: str
    instance_type: str
    image_id: str
    instance_name: str
    creation_time: datetime
    status: str = "Running"  # "Running", "Stopped", "Deleted"
    deletion_time: datetime | None = None
    created_by_key: str | None = None
    hourly_price: float = 0.0  # CNY per started hour, fixed at creation
    zone_id: str = ""
    # Other RunInstances settings that DescribeInstances returns (Description,
    # SecurityGroupIds, VSwitchId, PrivateIpAddress, PublicIpAddress, ...).
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Caller:
    """The identity behind a signed request, resolved from its AccessKey ID."""

    type: str  # "root-account", "ram-user" or "assumed-role"
    access_key_id: str
    principal_id: str
    user_name: str  # RAM user name, "root", or "<role>:<session>"
    role_name: str | None = None
    session_name: str | None = None


@dataclass
class Cloud:
    """All state of one emulated account."""

    account_id: str
    region: str
    clock: Clock
    account_name: str = "akresponder-demo@example.com"
    users: dict[str, User] = field(default_factory=dict)  # by user name
    groups: dict[str, Group] = field(default_factory=dict)
    policies: dict[tuple[str, str], Policy] = field(
        default_factory=dict
    )  # (type, name)
    roles: dict[str, Role] = field(default_factory=dict)
    access_keys: dict[str, AccessKey] = field(default_factory=dict)  # by id, all owners
    sts_sessions: dict[str, StsSession] = field(default_factory=dict)  # by STS key id
    trails: dict[str, Trail] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    # ActionTrail records (dicts in the LookupEvents shape), in the order they happened.
    events: list[dict[str, Any]] = field(default_factory=list)
    # Bill items from the scenario, each a dict with at least BillingCycle and the
    # fields of QueryBill / QueryInstanceBill items.
    bills: list[dict[str, Any]] = field(default_factory=list)
    # SLS logstores by "<project>/<logstore>": rows as GetLogs returns them, with string
    # values ("__time__", "__topic__", "__source__", "event" = the record as JSON text).
    # A trail's logstore gets every event recorded while the trail is logging.
    sls_logs: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # CNY available before the emulated instances' charges; QueryAccountBalance
    # subtracts what they have accrued.
    account_balance: float = 10000.0
    # Emulator switches set through /__emu/config that services read, such as
    # "sls_incomplete_polls"; see emulator/control.py for the accepted names.
    settings: dict[str, Any] = field(default_factory=dict)
    id_counter: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Derived state of a service (indexes, caches, emulator settings) by service
    # name, such as "actiontrail" or "sls". The service rebuilds it when missing.
    service_state: dict[str, Any] = field(default_factory=dict)

    def next_id(self) -> int:
        """Return a number unique within this account, for building resource ids."""
        self.id_counter += 1
        return self.id_counter

    def now(self) -> datetime:
        return self.clock.now()
