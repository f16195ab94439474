"""Triage of a compromised AccessKey: owner, status, age, use and permissions.

RAM has no call that returns a key's owner, so ``find_owner`` combines three
lookups: ActionTrail's GetAccessKeyLastUsedInfo (which names the user of the
key's last call), enumeration of ListUsers x ListAccessKeys, and the key's own
events. A key that no RAM user has but that appears in events of the account
root (``userIdentity.type`` ``root-account``) is the root's. The emulator and the
cloud are read the same way.

Whether the key is in use comes from the AccessKey audit APIs (last use per
product and per source IP) and RAM GetAccessKeyLastUsed, over the look-back
window. Every cloud call is a task from ``tasks/``; a read that fails is recorded
in the coverage and triage goes on, so that the gap shows in the report.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from akresponder.config import CloudConnection
from akresponder.decision import KeyFacts, OwnerType
from akresponder.errors import CloudError
from akresponder.report import (
    CoverageEntry,
    KeyState,
    Owner,
    Permission,
    Responder,
)
from tasks import actiontrail as trail_tasks
from tasks import ram as ram_tasks
from tasks import sts as sts_tasks

logger = logging.getLogger(__name__)

# RAM allows at most two AccessKeys per user.
MAX_KEYS_PER_USER = 2

# ActionTrail serviceName values whose RAM service code differs from the name in
# lower case (RAM user and AccessKey calls are recorded under Ims).
_SERVICE_CODES = {
    "ims": "ram",
    "sls": "log",
    "bssopenapi": "bssapi",
}


@dataclass
class TriageResult:
    """Everything the decision, the paths and the report need about the key."""

    facts: KeyFacts
    owner: Owner
    key: KeyState
    responder: Responder
    responder_user: str | None
    permissions: list[Permission] = field(default_factory=list)
    login_profile: dict[str, Any] | None = None
    mfa_device: dict[str, Any] | None = None
    other_keys: list[dict[str, Any]] = field(default_factory=list)
    used_services: set[str] = field(default_factory=set)
    coverage: list[CoverageEntry] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    window_start: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def owner_is_responder(self) -> bool:
        """True when the key's owner is the RAM user the responder signs in as."""
        return (
            self.owner.type == OwnerType.RAM_USER.value
            and self.responder_user is not None
            and self.owner.user_name == self.responder_user
        )


def service_code(service_name: str) -> str:
    """Map an ActionTrail ``serviceName`` (``Ecs``, ``Ims``) to a RAM code (``ecs``)."""
    lowered = service_name.lower()
    return _SERVICE_CODES.get(lowered, lowered)


def parse_time(value: Any) -> datetime | None:
    """Parse an Alibaba timestamp: ISO text with ``Z``, or epoch milliseconds."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def identify_responder(
    connection: CloudConnection, *, incident: str
) -> tuple[Responder, str | None]:
    """Return who the responder is (STS GetCallerIdentity) and its RAM user name."""
    identity = sts_tasks.get_caller_identity(connection, incident=incident)
    arn = identity.get("Arn") or ""
    user_name = None
    if identity.get("IdentityType") == "RAMUser" and ":user/" in arn:
        user_name = arn.rsplit(":user/", 1)[1]
    responder = Responder(
        access_key_id=connection.access_key_id,
        identity_type=identity.get("IdentityType"),
        arn=arn or None,
        account_id=identity.get("AccountId"),
        principal_id=identity.get("PrincipalId") or identity.get("UserId"),
    )
    return responder, user_name


def _find_on_users(
    connection: CloudConnection,
    access_key_id: str,
    preferred: str | None,
    incident: str,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
    """Return (the key's entry, the owner's keys, the owner) by enumerating users."""
    if preferred:
        try:
            keys = ram_tasks.list_access_keys(connection, preferred, incident=incident)
        except CloudError as error:
            if not error.is_not_found:
                raise
            keys = []
        for entry in keys:
            if entry.get("AccessKeyId") == access_key_id:
                return entry, keys, preferred

    users = ram_tasks.list_users(connection, incident=incident)
    for user in users:
        name = user.get("UserName")
        if not name or name == preferred:
            continue
        keys = ram_tasks.list_access_keys(connection, name, incident=incident)
        for entry in keys:
            if entry.get("AccessKeyId") == access_key_id:
                return entry, keys, name
    return None, [], None


def _seen_as_root(
    connection: CloudConnection,
    access_key_id: str,
    window_start: datetime,
    now: datetime,
    incident: str,
) -> bool:
    events = trail_tasks.lookup_events(
        connection,
        start_time=window_start,
        end_time=now,
        attributes={"EventAccessKeyId": access_key_id},
        max_events=20,
        incident=incident,
    )
    return any(
        (event.get("userIdentity") or {}).get("type") == "root-account"
        for event in events
    )


def find_owner(
    connection: CloudConnection,
    access_key_id: str,
    *,
    responder: Responder,
    window_start: datetime,
    now: datetime,
    incident: str,
    coverage: list[CoverageEntry],
) -> tuple[Owner, dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
    """Identify the key's owner.

    Returns the owner, the key's ListAccessKeys entry (None when no user has it),
    the owner's keys, and GetAccessKeyLastUsedInfo's answer (None if it failed).
    """
    found_by: list[str] = []
    info: dict[str, Any] | None = None
    try:
        info = trail_tasks.get_access_key_last_used_info(
            connection, access_key_id, incident=incident
        )
    except CloudError as error:
        logger.warning(
            "GetAccessKeyLastUsedInfo failed access_key_id=%s code=%s",
            access_key_id,
            error.code,
        )
        coverage.append(
            CoverageEntry(
                source="actiontrail-ak-audit", status="failed", detail=str(error)
            )
        )
    account_type = (info or {}).get("AccountType") or ""
    info_user = (info or {}).get("UserName") or None
    if account_type and account_type != "ram-user":
        info_user = None

    entry, keys, user_name = _find_on_users(
        connection, access_key_id, info_user, incident
    )
    account_id = (info or {}).get("AccountId") or responder.account_id
    if entry is not None:
        found_by.append("ram-enumeration")
        if info_user == user_name:
            found_by.append("actiontrail-last-used")
        user = ram_tasks.get_user(connection, user_name, incident=incident)
        owner = Owner(
            type="ram-user",
            user_name=user_name,
            user_id=user.get("UserId"),
            account_id=account_id,
            found_by=found_by,
        )
        return owner, entry, keys, info

    if account_type == "root-account":
        owner = Owner(
            type="root-account",
            account_id=account_id,
            found_by=["actiontrail-last-used"],
        )
        return owner, None, [], info

    if responder.identity_type == "Account":
        # Only the root itself can list the root's keys (ListAccessKeys without a
        # user name lists the caller's own keys).
        root_keys = ram_tasks.list_access_keys(connection, None, incident=incident)
        for root_entry in root_keys:
            if root_entry.get("AccessKeyId") == access_key_id:
                owner = Owner(
                    type="root-account",
                    account_id=account_id,
                    found_by=["root-key-list"],
                )
                return owner, root_entry, root_keys, info

    try:
        if _seen_as_root(connection, access_key_id, window_start, now, incident):
            owner = Owner(
                type="root-account",
                account_id=account_id,
                found_by=["actiontrail-events"],
            )
            return owner, None, [], info
    except CloudError as error:
        logger.warning(
            "LookupEvents for the owner failed access_key_id=%s code=%s",
            access_key_id,
            error.code,
        )

    if info_user:
        # ActionTrail saw the key on this user, but the user no longer has it:
        # the key was deleted.
        owner = Owner(
            type="ram-user",
            user_name=info_user,
            account_id=account_id,
            found_by=["actiontrail-last-used"],
        )
        return owner, None, [], info

    return Owner(type="unknown", account_id=account_id), None, [], info


def _usage(
    connection: CloudConnection,
    access_key_id: str,
    owner: Owner,
    entry: dict[str, Any] | None,
    info: dict[str, Any] | None,
    window_start: datetime,
    incident: str,
    coverage: list[CoverageEntry],
) -> tuple[bool | None, datetime | None, list[str], list[str], set[str]]:
    """Return (in use, last used, IPs, products, RAM codes used) in the window."""
    moments: list[datetime] = []
    sources_ok = 0
    ips: list[str] = []
    products: list[str] = []
    used_codes: set[str] = set()

    if info is not None:
        sources_ok += 1
        used = parse_time(info.get("UsedTimestamp"))
        if used is not None:
            moments.append(used)

    if owner.type == "ram-user" and entry is not None and owner.user_name:
        try:
            ram_last = ram_tasks.get_access_key_last_used(
                connection, owner.user_name, access_key_id, incident=incident
            )
            sources_ok += 1
            used = parse_time(ram_last.get("LastUsedDate"))
            if used is not None:
                moments.append(used)
            coverage.append(CoverageEntry(source="ram-last-used", status="complete"))
        except CloudError as error:
            coverage.append(
                CoverageEntry(
                    source="ram-last-used", status="failed", detail=str(error)
                )
            )

    audit_failures = []
    try:
        product_records = trail_tasks.get_access_key_last_used_products(
            connection, access_key_id, incident=incident
        )
        sources_ok += 1
    except CloudError as error:
        product_records = []
        audit_failures.append(str(error))
    for record in product_records:
        used = parse_time(record.get("UsedTimestamp"))
        name = record.get("ServiceName") or ""
        if used is None or used < window_start or not name:
            continue
        products.append(name)
        used_codes.add(service_code(name))
        try:
            ip_records = trail_tasks.get_access_key_last_used_ips(
                connection, access_key_id, name, incident=incident
            )
        except CloudError as error:
            audit_failures.append(str(error))
            continue
        for ip_record in ip_records:
            ip_used = parse_time(ip_record.get("UsedTimestamp"))
            address = ip_record.get("Ip")
            if address and ip_used is not None and ip_used >= window_start:
                if address not in ips:
                    ips.append(address)
    if info is not None or product_records or not audit_failures:
        coverage.append(
            CoverageEntry(
                source="actiontrail-ak-audit",
                status="partial" if audit_failures else "complete",
                detail="; ".join(audit_failures),
                items=len(product_records),
            )
        )
    elif audit_failures:
        coverage.append(
            CoverageEntry(
                source="actiontrail-ak-audit",
                status="failed",
                detail="; ".join(audit_failures),
            )
        )

    last_used = max(moments) if moments else None
    if last_used is not None and last_used >= window_start:
        in_use: bool | None = True
    elif products:
        in_use = True
    elif sources_ok == 0:
        in_use = None
    else:
        in_use = False
    return in_use, last_used, ips, products, used_codes


def _policy_services(document: str | dict[str, Any] | None) -> set[str] | None:
    """Return the RAM codes a policy allows (``*`` for everything), or None."""
    if not document:
        return None
    try:
        parsed = json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return None
    services: set[str] = set()
    for statement in parsed.get("Statement") or []:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        if isinstance(actions, str):
            actions = [actions]
        for action in actions:
            services.add("*" if action == "*" else action.split(":", 1)[0].lower())
    return services


def _permissions(
    connection: CloudConnection,
    user_name: str,
    used_codes: set[str],
    in_use: bool | None,
    incident: str,
    coverage: list[CoverageEntry],
) -> list[Permission]:
    """List the user's policies and propose those its key did not need for removal."""
    attached: list[tuple[dict[str, Any], str]] = []
    try:
        for policy in ram_tasks.list_policies_for_user(
            connection, user_name, incident=incident
        ):
            attached.append((policy, f"user:{user_name}"))
        for group in ram_tasks.list_groups_for_user(
            connection, user_name, incident=incident
        ):
            group_name = group.get("GroupName")
            for policy in ram_tasks.list_policies_for_group(
                connection, group_name, incident=incident
            ):
                attached.append((policy, f"group:{group_name}"))
    except CloudError as error:
        coverage.append(
            CoverageEntry(source="ram-permissions", status="failed", detail=str(error))
        )
        return []

    permissions = []
    for policy, attached_to in attached:
        name = policy.get("PolicyName", "")
        policy_type = policy.get("PolicyType", "Custom")
        try:
            detail = ram_tasks.get_policy(
                connection, name, policy_type, incident=incident
            )
            document = (detail.get("DefaultPolicyVersion") or {}).get(
                "PolicyDocument"
            ) or (detail.get("Policy") or {}).get("PolicyDocument")
        except CloudError as error:
            logger.warning("GetPolicy failed policy=%s code=%s", name, error.code)
            document = None
        services = _policy_services(document)
        propose, reason = _proposal(services, used_codes, in_use)
        permissions.append(
            Permission(
                policy_name=name,
                policy_type=policy_type,
                attached_to=attached_to,
                proposed_for_removal=propose,
                reason=reason,
            )
        )
    coverage.append(
        CoverageEntry(source="ram-permissions", status="complete", items=len(attached))
    )
    return permissions


def _proposal(
    services: set[str] | None, used_codes: set[str], in_use: bool | None
) -> tuple[bool, str]:
    if services is None:
        return False, "Its document could not be read; review it by hand."
    if "*" in services:
        return True, "It allows every action of every service."
    if in_use is None:
        return False, "The key's use is unknown, so every permission is kept."
    unused = sorted(services - used_codes)
    if services and not (services & used_codes):
        return True, (
            f"The key made no call to {', '.join(unused)} in the look-back window."
        )
    used = sorted(services & used_codes)
    return False, f"The key used {', '.join(used)} in the look-back window."


def triage_key(
    connection: CloudConnection,
    access_key_id: str,
    *,
    lookback_days: int,
    responder: Responder,
    responder_user: str | None,
    incident: str,
    now: datetime | None = None,
) -> TriageResult:
    """Gather the facts about ``access_key_id`` that the decision and paths need."""
    now = now or datetime.now(UTC)
    window_start = now - timedelta(days=lookback_days)
    coverage: list[CoverageEntry] = []

    owner, entry, owner_keys, info = find_owner(
        connection,
        access_key_id,
        responder=responder,
        window_start=window_start,
        now=now,
        incident=incident,
        coverage=coverage,
    )
    in_use, last_used, ips, products, used_codes = _usage(
        connection,
        access_key_id,
        owner,
        entry,
        info,
        window_start,
        incident,
        coverage,
    )

    create_date = parse_time((entry or {}).get("CreateDate"))
    other_keys = [key for key in owner_keys if key.get("AccessKeyId") != access_key_id]
    key = KeyState(
        status=(entry or {}).get("Status"),
        create_date=create_date,
        age_days=round((now - create_date).total_seconds() / 86400, 1)
        if create_date
        else None,
        in_use=in_use,
        last_used=last_used,
        source_ips=ips,
        products=products,
        free_key_slot=len(owner_keys) < MAX_KEYS_PER_USER
        if owner.type == "ram-user"
        else None,
        other_keys=[str(item.get("AccessKeyId")) for item in other_keys],
    )

    result = TriageResult(
        facts=KeyFacts(
            access_key_id=access_key_id,
            owner_type=OwnerType(owner.type),
            user_name=owner.user_name,
            status=key.status,
            in_use=in_use,
            is_responder_key=access_key_id == responder.access_key_id,
            free_key_slot=bool(key.free_key_slot),
        ),
        owner=owner,
        key=key,
        responder=responder,
        responder_user=responder_user,
        other_keys=other_keys,
        used_services=used_codes,
        coverage=coverage,
        now=now,
        window_start=window_start,
    )

    if owner.type == "ram-user" and owner.user_name and entry is not None:
        user_name = owner.user_name
        result.permissions = _permissions(
            connection, user_name, used_codes, in_use, incident, coverage
        )
        result.login_profile = ram_tasks.get_login_profile(
            connection, user_name, incident=incident
        )
        result.mfa_device = ram_tasks.get_user_mfa_info(
            connection, user_name, incident=incident
        )
    return result
