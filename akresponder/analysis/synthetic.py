"""Build ActionTrail records by hand or in bulk, for tests and the scale benchmark.

``make_event`` returns one record in the LookupEvents shape with the fields a real
record carries. ``generate_events`` returns a reproducible stream: daily traffic of a
few applications, each with its own key, IP, region and client, and one attack on the
first application's key in the last day. The attack follows the steps of a real
AccessKey compromise: recon, denied probes, a backdoor user with its own key and
console password, an admin policy, instances in a new region, secret reads, image
sharing and logging stopped. It uses the same kind of user agent as the applications,
so detectors cannot find it by its client name.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT_ID = "1234567890123456"

# serviceName and eventSource by action, for the actions this module emits.
_SERVICES: dict[str, tuple[str, str]] = {}
for _names, _service, _source in (
    (
        (
            "CreateUser",
            "CreateAccessKey",
            "CreateLoginProfile",
            "UpdateLoginProfile",
            "DeleteLoginProfile",
            "ListUsers",
            "GetUser",
            "ListAccessKeys",
            "UpdateAccessKey",
            "DeleteAccessKey",
            "UnbindMFADevice",
            "ChangePassword",
        ),
        "Ims",
        "ims-share.aliyuncs.com",
    ),
    (
        (
            "AttachPolicyToUser",
            "AttachPolicyToRole",
            "AttachPolicyToGroup",
            "AddUserToGroup",
            "ListPoliciesForUser",
            "ListRoles",
            "UpdateRole",
            "CreateRole",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "DeleteUser",
        ),
        "Ram",
        "ram.aliyuncs.com",
    ),
    (("AssumeRole", "GetCallerIdentity"), "Sts", "sts.aliyuncs.com"),
    (
        ("StopLogging", "DeleteTrail", "UpdateTrail", "DescribeTrails", "LookupEvents"),
        "Actiontrail",
        "actiontrail.cn-hangzhou.aliyuncs.com",
    ),
    (("GetSecretValue", "ListSecrets", "Decrypt"), "Kms", "kms.aliyuncs.com"),
    (("ConsoleSignin",), "AasSub", "signin.aliyun.com"),
    (("DeleteFlowLog", "DeactiveFlowLog"), "Vpc", "vpc.aliyuncs.com"),
    (("GetObject", "ListBuckets", "PutBucketAcl", "DeleteBucket"), "Oss", "oss"),
    (("QueryAccountBalance", "QueryBill"), "BssOpenApi", "business.aliyuncs.com"),
):
    for _name in _names:
        _SERVICES[_name] = (_service, _source)

_READ_PREFIXES = ("Describe", "List", "Get", "Query", "Lookup")
_GLOBAL_SERVICES = frozenset({"Ims", "Ram", "Sts", "AasSub", "AasCustomer"})


def make_event(
    action: str,
    *,
    time: datetime | str,
    access_key_id: str = "LTAI5tAPPBACKEND00000001",
    user_name: str = "app-backend",
    identity_type: str = "ram-user",
    principal_id: str = "200000000000000002",
    service: str | None = None,
    event_source: str | None = None,
    rw: str | None = None,
    region: str = "cn-hangzhou",
    source_ip: str = "198.51.100.10",
    user_agent: str = "aliyun-sdk-java/2.8.3",
    error_code: str = "",
    error_message: str = "",
    request_parameters: dict[str, Any] | None = None,
    response_elements: dict[str, Any] | None = None,
    additional_event_data: dict[str, Any] | None = None,
    event_type: str = "ApiCall",
    event_id: str | None = None,
    resource_type: str = "",
    resource_name: str = "",
    is_global: bool | None = None,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """Return one ActionTrail record in the LookupEvents shape.

    Service, event source, read/write and global flags follow from ``action`` when not
    given; an unknown action is treated as an ECS call. An empty ``access_key_id``
    leaves the key out of ``userIdentity``, as console events do.
    """
    default_service, default_source = _SERVICES.get(action, ("Ecs", "ecs.aliyuncs.com"))
    service = service or default_service
    moment = time if isinstance(time, str) else _iso(time)
    identifier = event_id or str(uuid.uuid4()).upper()
    identity: dict[str, Any] = {
        "type": identity_type,
        "principalId": principal_id,
        "accountId": account_id,
        "userName": user_name,
    }
    if access_key_id:
        identity["accessKeyId"] = access_key_id
    record: dict[str, Any] = {
        "eventId": identifier,
        "eventVersion": "1",
        "eventType": event_type,
        "eventCategory": "Management",
        "eventName": action,
        "eventRW": rw or ("Read" if action.startswith(_READ_PREFIXES) else "Write"),
        "eventSource": event_source or default_source,
        "serviceName": service,
        "eventTime": moment,
        "acsRegion": region,
        "requestId": identifier,
        "sourceIpAddress": source_ip,
        "userAgent": user_agent,
        "errorCode": error_code,
        "errorMessage": error_message,
        "isGlobal": service in _GLOBAL_SERVICES if is_global is None else is_global,
        "recipientAccountId": account_id,
        "requestParameters": {"RegionId": region, **(request_parameters or {})},
        "responseElements": response_elements or {},
        "userIdentity": identity,
    }
    if resource_type:
        record["resourceType"] = resource_type
        record["resourceName"] = resource_name
    if additional_event_data is not None:
        record["additionalEventData"] = additional_event_data
    return record


def sls_row(record: dict[str, Any]) -> dict[str, str]:
    """Return a record the way SLS GetLogs returns it: ``event`` as JSON text."""
    moment = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    return {
        "__time__": str(int(moment.timestamp())),
        "__topic__": "actiontrail_audit_event",
        "__source__": "actiontrail",
        "event": json.dumps(record),
    }


# Bulk generation ---------------------------------------------------------------------

APPLICATION_KEYS: tuple[tuple[str, str, str, str, str], ...] = (
    # key, user, source IP, region, user agent
    (
        "LTAI5tAPPBACKEND00000001",
        "app-backend",
        "198.51.100.10",
        "cn-hangzhou",
        "aliyun-sdk-java/2.8.3",
    ),
    (
        "LTAI5tCIDEPLOY000000001A",
        "ci-deploy",
        "198.51.100.20",
        "cn-shanghai",
        "aliyun-cli/3.0.200",
    ),
    (
        "LTAI5tREPORTING00000001",
        "reporting",
        "198.51.100.30",
        "cn-hangzhou",
        "AlibabaCloud (Linux; x86_64) Python/3.11 Core/1.0 TeaDSL/1",
    ),
    (
        "LTAI5tMONITOR000000001",
        "monitor",
        "10.0.3.7",
        "cn-beijing",
        "aliyun-sdk-go/1.63.0",
    ),
)
_DAILY_ACTIONS = ("DescribeInstances", "DescribeDisks", "GetObject", "DescribeRegions")
ATTACKER_IP = "203.0.113.66"
ATTACKER_AGENT = "aliyun-cli/3.0.204"
BACKDOOR_USER = "svc-backup"
BACKDOOR_KEY = "LTAI5tBACKDOOR000000001"


def generate_events(
    count: int,
    *,
    seed: int = 7,
    end: datetime = datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
    days: int = 30,
) -> Iterator[dict[str, Any]]:
    """Yield about ``count`` records: application traffic plus one attack.

    Application events are spread evenly over ``days`` days before ``end``; the
    attack (a few hundred events) starts six hours before ``end``. Output is the same
    for the same arguments.
    """
    rng = random.Random(seed)
    attack = list(attack_events(end - timedelta(hours=6)))
    background = max(count - len(attack), 0)
    start = end - timedelta(days=days)
    step = (end - start) / max(background, 1)
    for index in range(background):
        key, user, ip, region, agent = APPLICATION_KEYS[index % len(APPLICATION_KEYS)]
        yield make_event(
            _DAILY_ACTIONS[rng.randrange(len(_DAILY_ACTIONS))],
            time=start + step * index,
            access_key_id=key,
            user_name=user,
            principal_id=str(200000000000000100 + index % len(APPLICATION_KEYS)),
            source_ip=ip,
            region=region,
            user_agent=agent,
            event_id=f"{index:08X}-0000-4000-8000-{rng.getrandbits(48):012X}",
        )
    yield from attack


def attack_events(start: datetime) -> Iterator[dict[str, Any]]:
    """Yield the attack on app-backend's key, starting at ``start``."""
    stolen = "LTAI5tAPPBACKEND00000001"
    base = {
        "access_key_id": stolen,
        "user_name": "app-backend",
        "source_ip": ATTACKER_IP,
        "user_agent": ATTACKER_AGENT,
    }
    moment = start

    def tick(seconds: float = 1.0) -> datetime:
        nonlocal moment
        moment = moment + timedelta(seconds=seconds)
        return moment

    yield make_event("GetCallerIdentity", time=tick(), **base)
    for action in (
        "ListUsers",
        "ListRoles",
        "ListAccessKeys",
        "ListPoliciesForUser",
        "DescribeInstances",
        "DescribeRegions",
        "DescribeSecurityGroups",
        "ListBuckets",
    ):
        yield make_event(action, time=tick(0.5), **base)
    for _ in range(8):
        yield make_event(
            "DescribeDBInstances",
            service="Rds",
            time=tick(20),
            error_code="NoPermission",
            error_message="You are not authorized to do this action.",
            **base,
        )
    yield make_event(
        "CreateUser",
        time=tick(60),
        request_parameters={"UserName": BACKDOOR_USER},
        response_elements={"User": {"UserName": BACKDOOR_USER}},
        resource_type="ACS::RAM::User",
        resource_name=BACKDOOR_USER,
        **base,
    )
    yield make_event(
        "CreateAccessKey",
        time=tick(5),
        request_parameters={"UserName": BACKDOOR_USER},
        response_elements={
            "AccessKey": {"AccessKeyId": BACKDOOR_KEY, "Status": "Active"}
        },
        **base,
    )
    yield make_event(
        "CreateLoginProfile",
        time=tick(5),
        request_parameters={
            "UserName": BACKDOOR_USER,
            "PasswordResetRequired": "false",
        },
        **base,
    )
    yield make_event(
        "AttachPolicyToUser",
        time=tick(5),
        request_parameters={
            "UserName": BACKDOOR_USER,
            "PolicyName": "AdministratorAccess",
            "PolicyType": "System",
        },
        **base,
    )
    backdoor = {
        "access_key_id": BACKDOOR_KEY,
        "user_name": BACKDOOR_USER,
        "principal_id": "200000000000000999",
        "source_ip": ATTACKER_IP,
        "user_agent": ATTACKER_AGENT,
    }
    instances = [f"i-attack{index:012d}" for index in range(3)]
    yield make_event(
        "RunInstances",
        time=tick(120),
        region="ap-southeast-1",
        request_parameters={"InstanceType": "ecs.gn6i-c4g1.xlarge", "Amount": "3"},
        response_elements={"InstanceIdSets": {"InstanceIdSet": instances}},
        **backdoor,
    )
    for index in range(25):
        yield make_event(
            "GetSecretValue",
            time=tick(4),
            request_parameters={"SecretName": f"prod/db-{index:02d}"},
            response_elements={"SecretName": f"prod/db-{index:02d}", "SecretData": "x"},
            **backdoor,
        )
    yield make_event(
        "ModifyImageSharePermission",
        time=tick(30),
        request_parameters={
            "ImageId": "m-prodimage01",
            "AddAccount.1": "9999888877776666",
        },
        **backdoor,
    )
    yield make_event(
        "StopLogging",
        time=tick(30),
        request_parameters={"Name": "main"},
        resource_type="ACS::ActionTrail::Trail",
        resource_name="main",
        **backdoor,
    )
    yield make_event(
        "ConsoleSignin",
        time=tick(60),
        access_key_id="",
        user_name=BACKDOOR_USER,
        principal_id="200000000000000999",
        source_ip=ATTACKER_IP,
        user_agent="Mozilla/5.0",
        event_type="ConsoleSignin",
        error_message="success",
        additional_event_data={"loginAccount": BACKDOOR_USER, "mfaChecked": "false"},
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
