"""The control plane under ``/__emu/``: unsigned JSON endpoints for tests and demos.

``GET /__emu/health``, ``GET|POST /__emu/clock`` (``{"advance_seconds": N}``), ``GET
/__emu/state`` (the account without any secret), ``GET|DELETE /__emu/requests``
(``?since=N`` returns the entries after sequence number N), ``GET|POST|DELETE
/__emu/faults`` and ``GET|POST /__emu/config``. The control plane listens on the
emulator's own address, which is 127.0.0.1 unless ``serve --host`` sets another.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from emulator.auth import HttpRequest
from emulator.faults import FaultRuleError, parse_rules
from emulator.state import Cloud, PolicyAttachment, iso

if TYPE_CHECKING:
    from emulator.server import Emulator

# Settings that /__emu/config accepts, with the type each must have. Settings without a
# dedicated handler below are stored in ``Cloud.settings`` for the service that reads
# them.
CONFIG_KEYS: dict[str, str] = {
    "check_clock_skew": "bool",
    "check_nonce": "bool",
    "ram_rate_limit": "rate",
    "lookup_events_rate_limit": "rate",
    "sls_incomplete_polls": "int",
}


class ControlError(ValueError):
    """A bad control request; the message names the field and the fix."""


def handle(emulator: Emulator, request: HttpRequest) -> tuple[int, Any]:
    """Serve one control request and return ``(status, JSON body)``."""
    route = request.path.removeprefix("/__emu").strip("/")
    method = request.method
    try:
        body = _json_body(request)
        if route == "health" and method == "GET":
            return 200, {"status": "ok", "account_id": emulator.cloud.account_id}
        if route == "clock":
            return 200, _clock(emulator, method, body)
        if route == "state" and method == "GET":
            with emulator.cloud.lock:
                return 200, state_snapshot(emulator.cloud)
        if route == "requests":
            return 200, _requests(emulator, method, request)
        if route == "faults":
            return 200, _faults(emulator, method, body)
        if route == "config":
            return 200, _config(emulator, method, body)
    except (ControlError, FaultRuleError, ValueError) as error:
        return 400, {"error": str(error)}
    return 404, {
        "error": f"no control endpoint {method} /__emu/{route}; the endpoints are "
        "health, clock, state, requests, faults and config"
    }


def _json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except json.JSONDecodeError as error:
        raise ControlError(f"request body is not valid JSON: {error.msg}") from None


def _clock(emulator: Emulator, method: str, body: Any) -> dict[str, Any]:
    clock = emulator.cloud.clock
    if method == "POST":
        if not isinstance(body, dict) or set(body) - {"advance_seconds"}:
            raise ControlError('POST /__emu/clock takes {"advance_seconds": N}')
        seconds = body.get("advance_seconds")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or seconds < 0
        ):
            raise ControlError(
                f"advance_seconds must be a number >= 0, got {seconds!r}"
            )
        clock.advance(seconds)
    elif method != "GET":
        raise ControlError(f"/__emu/clock takes GET or POST, not {method}")
    return {"now": iso(clock.now()), "frozen": clock.frozen}


def _requests(emulator: Emulator, method: str, request: HttpRequest) -> dict[str, Any]:
    if method == "DELETE":
        emulator.clear_requests()
        return {"cleared": True}
    if method != "GET":
        raise ControlError(f"/__emu/requests takes GET or DELETE, not {method}")
    since_text = request.query_dict().get("since", "0")
    try:
        since = int(since_text)
    except ValueError:
        raise ControlError(
            f"since must be an integer sequence number, got {since_text!r}"
        ) from None
    return {"requests": emulator.requests_since(since)}


def _faults(emulator: Emulator, method: str, body: Any) -> dict[str, Any]:
    if method == "POST":
        if body is None:
            raise ControlError(
                "POST /__emu/faults needs a rule or a list of rules as JSON"
            )
        emulator.faults.add(parse_rules(body))
    elif method == "DELETE":
        emulator.faults.clear()
    elif method != "GET":
        raise ControlError(f"/__emu/faults takes GET, POST or DELETE, not {method}")
    return {"rules": emulator.faults.rules()}


def current_config(emulator: Emulator) -> dict[str, Any]:
    config = {
        "check_clock_skew": emulator.auth_options.check_clock_skew,
        "check_nonce": emulator.auth_options.check_nonce,
        "ram_rate_limit": emulator.limiter.ram_rate,
        "lookup_events_rate_limit": emulator.limiter.lookup_events_rate,
    }
    config["sls_incomplete_polls"] = emulator.cloud.settings.get(
        "sls_incomplete_polls", 0
    )
    return config


def apply_config(emulator: Emulator, changes: Any) -> dict[str, Any]:
    """Validate every setting before applying any, so a bad request changes nothing."""
    if not isinstance(changes, dict):
        raise ControlError("config must be a JSON object of settings")
    unknown = sorted(set(changes) - set(CONFIG_KEYS))
    if unknown:
        raise ControlError(
            f"unknown config setting {unknown[0]!r}; allowed settings are: "
            f"{', '.join(sorted(CONFIG_KEYS))}"
        )
    for name, value in changes.items():
        kind = CONFIG_KEYS[name]
        if kind == "bool" and not isinstance(value, bool):
            raise ControlError(f"{name} must be true or false, got {value!r}")
        if kind == "int" and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ControlError(f"{name} must be an integer >= 0, got {value!r}")
        if (
            kind == "rate"
            and value is not None
            and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < 0
            )
        ):
            raise ControlError(
                f"{name} must be a number of calls per second >= 0, or null for no "
                f"limit; got {value!r}"
            )
    for name, value in changes.items():
        if name == "check_clock_skew":
            emulator.auth_options.check_clock_skew = value
        elif name == "check_nonce":
            emulator.auth_options.check_nonce = value
        elif name == "ram_rate_limit":
            emulator.limiter.configure(ram_rate=value)
        elif name == "lookup_events_rate_limit":
            emulator.limiter.configure(lookup_events_rate=value)
        else:
            emulator.cloud.settings[name] = value
    return current_config(emulator)


def _config(emulator: Emulator, method: str, body: Any) -> dict[str, Any]:
    if method == "POST":
        return apply_config(emulator, body)
    if method != "GET":
        raise ControlError(f"/__emu/config takes GET or POST, not {method}")
    return current_config(emulator)


# --- state snapshot -------------------------------------------------------------------


def _attachments(items: list[PolicyAttachment]) -> list[dict[str, str]]:
    return [
        {
            "PolicyName": a.policy_name,
            "PolicyType": a.policy_type,
            "AttachDate": iso(a.attach_date),
        }
        for a in items
    ]


def _optional_iso(moment: Any) -> str | None:
    return iso(moment) if moment is not None else None


def state_snapshot(cloud: Cloud) -> dict[str, Any]:
    """Describe the account for inspection, without any secret, token or password."""
    keys = [
        {
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "CreateDate": iso(key.create_date),
            "OwnerType": key.owner_type,
            "UserName": key.user_name,
            "LastUsedDate": _optional_iso(key.last_used),
        }
        for key in cloud.access_keys.values()
    ]
    users = []
    for user in cloud.users.values():
        profile = user.login_profile
        users.append(
            {
                "UserName": user.user_name,
                "UserId": user.user_id,
                "DisplayName": user.display_name,
                "CreateDate": iso(user.create_date),
                "Groups": list(user.groups),
                "Policies": _attachments(user.policies),
                "AccessKeyIds": list(user.access_key_ids),
                "LoginProfile": None
                if profile is None
                else {
                    "CreateDate": iso(profile.create_date),
                    "PasswordResetRequired": profile.password_reset_required,
                    "MFABindRequired": profile.mfa_bind_required,
                },
                "MFADevice": {"SerialNumber": user.mfa_serial}
                if user.mfa_serial
                else None,
            }
        )
    policies = [
        {
            "PolicyName": p.policy_name,
            "PolicyType": p.policy_type,
            "Description": p.description,
            "DefaultVersion": p.default_version,
            "Versions": [
                {
                    "VersionId": v.version_id,
                    "PolicyDocument": v.document,
                    "CreateDate": iso(v.create_date),
                }
                for v in p.versions
            ],
        }
        for p in cloud.policies.values()
    ]
    return {
        "account_id": cloud.account_id,
        "region": cloud.region,
        "now": iso(cloud.now()),
        "users": users,
        "access_keys": keys,
        "groups": [
            {
                "GroupName": g.group_name,
                "GroupId": g.group_id,
                "Policies": _attachments(g.policies),
                "Members": [
                    u.user_name
                    for u in cloud.users.values()
                    if g.group_name in u.groups
                ],
            }
            for g in cloud.groups.values()
        ],
        "roles": [
            {
                "RoleName": r.role_name,
                "RoleId": r.role_id,
                "Arn": r.arn,
                "AssumeRolePolicyDocument": r.assume_role_policy_document,
                "Policies": _attachments(r.policies),
            }
            for r in cloud.roles.values()
        ],
        "policies": policies,
        "sts_sessions": [
            {
                "AccessKeyId": s.access_key_id,
                "RoleName": s.role_name,
                "SessionName": s.session_name,
                "Expiration": iso(s.expiration),
                "IssuedBy": s.issued_by,
            }
            for s in cloud.sts_sessions.values()
        ],
        "trails": [
            {
                "Name": t.name,
                "HomeRegion": t.home_region,
                "SlsProject": t.sls_project,
                "SlsProjectArn": t.sls_project_arn,
                "Status": t.status,
                "EventRW": t.event_rw,
            }
            for t in cloud.trails.values()
        ],
        "instances": [
            {
                "InstanceId": i.instance_id,
                "RegionId": i.region_id,
                "InstanceType": i.instance_type,
                "Status": i.status,
                "CreationTime": iso(i.creation_time),
                "CreatedByKey": i.created_by_key,
            }
            for i in cloud.instances.values()
        ],
        "event_count": len(cloud.events),
        "logstores": {name: len(rows) for name, rows in cloud.sls_logs.items()},
    }
