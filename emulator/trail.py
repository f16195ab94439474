"""ActionTrail recording: every POP call the emulator serves becomes an event record.

A record has the shape that LookupEvents returns and that ActionTrail delivers to SLS.
Calls are recorded when their AccessKey resolved to an identity and the signature
matched, whether they then succeeded or failed (a disabled key that an attacker keeps
trying shows up with ``errorCode`` ``InvalidAccessKeyId.Inactive``). Requests with an
unknown key or a wrong signature are not recorded, because their identity is not proven.
SLS data calls are never recorded, because ActionTrail does not log SLS data access as
management events.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from emulator.auth import RPC_SIGNATURE_PARAMS
from emulator.registry import ActionSpec
from emulator.state import Caller, Cloud, iso, parse_iso

# Fields never copied into a record, in responses or request parameters.
SECRET_FIELDS = frozenset(
    {"AccessKeySecret", "SecurityToken", "Password", "OldPassword", "NewPassword"}
)
SLS_TOPIC = "actiontrail_audit_event"
SLS_SOURCE = "actiontrail"
# Product names that appear as requestParameters.AcsProduct, by emulator service folder.
ACS_PRODUCTS = {
    "ram": "Ram",
    "sts": "Sts",
    "actiontrail": "Actiontrail",
    "bss": "BssOpenApi",
    "ecs": "Ecs",
}


def new_request_id() -> str:
    """Return a request id in Alibaba's format: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def strip_secrets(value: Any) -> Any:
    """Return a copy of a response body without secret fields, at any depth."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [strip_secrets(item) for item in value]
    return value


def request_parameters(
    params: dict[str, str], spec: ActionSpec, host: str, request_id: str, region: str
) -> dict[str, str]:
    """Build ``requestParameters``: the API parameters plus the gateway's extras."""
    result = {
        key: value
        for key, value in params.items()
        if key not in RPC_SIGNATURE_PARAMS
        and key not in ("Action", "Version")
        and key not in SECRET_FIELDS
    }
    result["AcsHost"] = host
    result["AcsProduct"] = ACS_PRODUCTS.get(spec.product, spec.product.capitalize())
    result["RequestId"] = request_id
    result.setdefault("RegionId", region)
    return result


def user_identity(cloud: Cloud, caller: Caller) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "type": caller.type,
        "principalId": caller.principal_id,
        "accountId": cloud.account_id,
        "userName": caller.user_name,
        "accessKeyId": caller.access_key_id,
    }
    if caller.type == "assumed-role":
        # AssumeRole stores the STS key with its issue time as the creation date.
        key = cloud.access_keys.get(caller.access_key_id)
        created = iso(key.create_date) if key else ""
        identity["sessionContext"] = {
            "attributes": {"mfaAuthenticated": "false", "creationDate": created}
        }
    return identity


def build_event(
    cloud: Cloud,
    *,
    spec: ActionSpec,
    caller: Caller,
    params: dict[str, str],
    request_id: str,
    source_ip: str,
    user_agent: str,
    response: dict[str, Any] | None,
    error_code: str = "",
    error_message: str = "",
    resources: dict[str, list[str]] | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """Build one ActionTrail record for a served POP call."""
    region = params.get("RegionId") or cloud.region
    moment = event_time or cloud.now()
    record: dict[str, Any] = {
        "eventId": new_request_id(),
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventCategory": "Management",
        "eventName": spec.action,
        "eventRW": spec.event_rw,
        "eventSource": spec.event_source,
        "serviceName": spec.service_name,
        "eventTime": iso(moment),
        "acsRegion": region,
        "apiVersion": spec.version,
        "requestId": request_id,
        "sourceIpAddress": source_ip,
        "userAgent": user_agent,
        "errorCode": error_code,
        "errorMessage": error_message,
        "isGlobal": spec.is_global,
        "recipientAccountId": cloud.account_id,
        "userIdentity": user_identity(cloud, caller),
        "requestParameters": request_parameters(
            params, spec, spec.event_source, request_id, region
        ),
        "responseElements": strip_secrets(response) if response is not None else {},
    }
    if resources:
        resource_types = list(resources)
        names = [name for values in resources.values() for name in values]
        record["resourceType"] = resource_types[0]
        record["resourceName"] = ";".join(names)
        record["referencedResources"] = {k: list(v) for k, v in resources.items()}
    return record


def append_event(cloud: Cloud, record: dict[str, Any]) -> None:
    """Add a record to the account's history and to every logging trail's logstore."""
    cloud.events.append(record)
    moment = parse_iso(record["eventTime"])
    for trail in cloud.trails.values():
        if trail.status != "Enable" or not trail.sls_project:
            continue
        rows = cloud.sls_logs.setdefault(f"{trail.sls_project}/{trail.logstore}", [])
        rows.append(sls_row(record, moment))


def sls_row(record: dict[str, Any], event_time: datetime) -> dict[str, str]:
    """Shape a record as the row ActionTrail delivers to its SLS logstore."""
    return {
        "__time__": str(int(event_time.timestamp())),
        "__topic__": SLS_TOPIC,
        "__source__": SLS_SOURCE,
        "event": json.dumps(record),
    }
