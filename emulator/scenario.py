"""Scenario files: the JSON description of an account that the emulator starts from.

A scenario lists the account's users, groups, roles, custom policies, root keys, trail,
ActionTrail history and bills. ``load_scenario`` validates all of it before it builds a
``Cloud``. An unknown field is reported with its JSON path and the allowed names.
Contradictions are rejected with the path of the bad value: a key id used twice, a third
key on one user, a group or policy that is not defined, a bad date or a bad status.

Large histories go in ``events_file``, a JSON Lines file next to the scenario. The line
text itself becomes the SLS ``event`` column, so loading does not serialise events
again.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.clock import Clock
from emulator.state import (
    AccessKey,
    Cloud,
    Group,
    LoginProfile,
    Policy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    Trail,
    User,
    iso,
    parse_iso,
)
from emulator.system_policies import install_system_policies

MAX_KEYS_PER_USER = 2  # a RAM user has at most two AccessKeys
DEFAULT_REGION = "cn-hangzhou"

TOP_FIELDS = {
    "account_id",
    "now",
    "region",
    "users",
    "groups",
    "roles",
    "policies",
    "root_access_keys",
    "trail",
    "events",
    "events_file",
    "bills",
}
USER_FIELDS = {
    "UserName",
    "UserId",
    "DisplayName",
    "CreateDate",
    "Groups",
    "Policies",
    "LoginProfile",
    "MFADevice",
    "AccessKeys",
}
KEY_FIELDS = {"AccessKeyId", "AccessKeySecret", "Status", "CreateDate"}
ATTACHMENT_FIELDS = {"PolicyName", "PolicyType"}
LOGIN_FIELDS = {"MFABindRequired", "PasswordResetRequired"}
MFA_FIELDS = {"SerialNumber"}
GROUP_FIELDS = {"GroupName", "GroupId", "Comments", "CreateDate", "Policies"}
ROLE_FIELDS = {
    "RoleName",
    "RoleId",
    "Description",
    "CreateDate",
    "MaxSessionDuration",
    "AssumeRolePolicyDocument",
    "Policies",
}
POLICY_FIELDS = {"PolicyName", "Description", "PolicyDocument", "CreateDate"}
TRAIL_FIELDS = {"Name", "SlsProjectArn", "SlsProject", "Region"}

_ACCOUNT_ID = re.compile(r"^\d{16}$")
_BILLING_CYCLE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SLS_ARN = re.compile(
    r"^acs:log:(?P<region>[^:]*):(?P<account>\d*):project/(?P<project>[^/]+)$"
)


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the bad JSON path."""


def load_scenario(
    source: str | Path | dict[str, Any],
    *,
    freeze_clock: bool = False,
    base_dir: str | Path | None = None,
) -> Cloud:
    """Validate a scenario (a file path or a dict) and build the ``Cloud`` it describes.

    ``base_dir`` resolves a relative ``events_file`` for dict scenarios; for files it is
    the scenario's folder. Raises ``ScenarioError`` naming the bad JSON path.
    """
    if isinstance(source, dict):
        data = source
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
        origin = "<dict>"
    else:
        path = Path(source)
        origin = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScenarioError(
                f"scenario file {path} not found; check the path"
            ) from None
        except json.JSONDecodeError as error:
            raise ScenarioError(
                f"scenario file {path} is not valid JSON: {error.msg} at line "
                f"{error.lineno} column {error.colno}"
            ) from None
        except UnicodeDecodeError as error:
            raise ScenarioError(
                f"scenario file {path} is not UTF-8 text (byte {error.start}); "
                "save it as UTF-8 JSON"
            ) from None
        folder = Path(base_dir) if base_dir is not None else path.parent
    if not isinstance(data, dict):
        raise ScenarioError(
            f"scenario {origin} must be a JSON object, got {type(data).__name__}"
        )
    return _Builder(data, folder, freeze_clock).build()


def _check_fields(
    value: Any, allowed: set[str], path: str, required: Iterable[str] = ()
) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(f"{path} must be a JSON object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ScenarioError(
            f"unknown field {path}.{unknown[0]}; allowed fields are: "
            f"{', '.join(sorted(allowed))}"
        )
    for name in required:
        if value.get(name) in (None, ""):
            raise ScenarioError(f"missing field {path}.{name}")
    return value


def _list(value: Any, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScenarioError(f"{path} must be a JSON array, got {type(value).__name__}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{path} must be a non-empty string, got {value!r}")
    return value


def _date(value: Any, path: str, default: datetime) -> datetime:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ScenarioError(
            f"{path} must be a date string such as 2026-11-20T08:00:00Z"
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(
            f"invalid date {value!r} at {path}; use UTC ISO 8601 such as "
            "2026-11-20T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ScenarioError(
            f"date {value!r} at {path} has no time zone; end it with Z for UTC"
        )
    return moment.astimezone(UTC)


def _bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ScenarioError(f"{path} must be true or false, got {value!r}")
    return value


def _policy_document(value: Any, path: str) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    text = _string(value, path)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{path} is not valid JSON: {error.msg}") from None
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise ScenarioError(f"{path} must be a policy document with a Statement list")
    return text


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, which would otherwise scan the growing event
    list many times while 100k records load (about a fifth of the load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    """Validate scenario data and fill a new ``Cloud`` from it, section by section."""

    def __init__(self, data: dict[str, Any], folder: Path, freeze_clock: bool) -> None:
        self.data = data
        self.folder = folder
        self.freeze_clock = freeze_clock
        self.key_owner: dict[str, str] = {}  # AccessKeyId -> JSON path, for duplicates
        self.cloud: Cloud | None = None

    def build(self) -> Cloud:
        data = _check_fields(self.data, TOP_FIELDS, "$", required=("account_id",))
        account_id = str(data["account_id"])
        if not _ACCOUNT_ID.match(account_id):
            raise ScenarioError(
                f"invalid $.account_id {account_id!r}; an Alibaba Cloud account id has "
                "16 digits"
            )
        now = _date(data.get("now"), "$.now", datetime.now(UTC).replace(microsecond=0))
        region = data.get("region") or DEFAULT_REGION
        _string(region, "$.region")
        cloud = Cloud(
            account_id=account_id,
            region=region,
            clock=Clock(now, frozen=self.freeze_clock),
        )
        self.cloud = cloud
        install_system_policies(cloud)

        self._add_policies(_list(data.get("policies"), "policies"))
        self._add_groups(_list(data.get("groups"), "groups"))
        self._add_users(_list(data.get("users"), "users"))
        self._add_roles(_list(data.get("roles"), "roles"))
        self._add_root_keys(_list(data.get("root_access_keys"), "root_access_keys"))
        if data.get("trail") is not None:
            self._add_trail(data["trail"])
        self._add_events(_list(data.get("events"), "events"), data.get("events_file"))
        self._add_bills(_list(data.get("bills"), "bills"))
        return cloud

    # --- identities -------------------------------------------------------------------

    def _add_policies(self, items: list) -> None:
        cloud = self._cloud()
        for index, item in enumerate(items):
            path = f"policies[{index}]"
            _check_fields(
                item, POLICY_FIELDS, path, required=("PolicyName", "PolicyDocument")
            )
            name = _string(item["PolicyName"], f"{path}.PolicyName")
            if ("Custom", name) in cloud.policies:
                raise ScenarioError(
                    f"duplicate custom policy {name!r} at {path}.PolicyName"
                )
            created = _date(item.get("CreateDate"), f"{path}.CreateDate", cloud.now())
            document = _policy_document(
                item["PolicyDocument"], f"{path}.PolicyDocument"
            )
            cloud.policies[("Custom", name)] = Policy(
                policy_name=name,
                policy_type="Custom",
                description=item.get("Description") or "",
                create_date=created,
                update_date=created,
                versions=[PolicyVersion("v1", document, created)],
            )

    def _attachments(
        self, items: Any, path: str, default_date: datetime
    ) -> list[PolicyAttachment]:
        cloud = self._cloud()
        attachments = []
        seen: set[tuple[str, str]] = set()
        for index, item in enumerate(_list(items, path)):
            item_path = f"{path}[{index}]"
            _check_fields(item, ATTACHMENT_FIELDS, item_path, required=("PolicyName",))
            name = _string(item["PolicyName"], f"{item_path}.PolicyName")
            policy_type = item.get("PolicyType") or (
                "System" if ("System", name) in cloud.policies else "Custom"
            )
            if policy_type not in ("System", "Custom"):
                raise ScenarioError(
                    f"invalid {item_path}.PolicyType {policy_type!r}; use System or "
                    "Custom"
                )
            if (policy_type, name) not in cloud.policies:
                raise ScenarioError(
                    f"{item_path} names the {policy_type} policy {name!r}, which is "
                    "not defined; add it to policies or fix the name"
                )
            if (policy_type, name) in seen:
                raise ScenarioError(f"{item_path} attaches policy {name!r} twice")
            seen.add((policy_type, name))
            attachments.append(PolicyAttachment(name, policy_type, default_date))
        return attachments

    def _add_groups(self, items: list) -> None:
        cloud = self._cloud()
        for index, item in enumerate(items):
            path = f"groups[{index}]"
            _check_fields(item, GROUP_FIELDS, path, required=("GroupName",))
            name = _string(item["GroupName"], f"{path}.GroupName")
            if name in cloud.groups:
                raise ScenarioError(f"duplicate group {name!r} at {path}.GroupName")
            created = _date(item.get("CreateDate"), f"{path}.CreateDate", cloud.now())
            cloud.groups[name] = Group(
                group_name=name,
                group_id=str(item.get("GroupId") or f"{4 * 10**17 + index + 1}"),
                create_date=created,
                comments=item.get("Comments") or "",
                policies=self._attachments(
                    item.get("Policies"), f"{path}.Policies", created
                ),
            )

    def _add_users(self, items: list) -> None:
        cloud = self._cloud()
        used_ids: set[str] = set()
        for index, item in enumerate(items):
            path = f"users[{index}]"
            _check_fields(item, USER_FIELDS, path, required=("UserName",))
            name = _string(item["UserName"], f"{path}.UserName")
            if name in cloud.users:
                raise ScenarioError(f"duplicate user {name!r} at {path}.UserName")
            user_id = str(item.get("UserId") or f"{2 * 10**17 + 1000 + index}")
            if user_id in used_ids:
                raise ScenarioError(f"duplicate UserId {user_id!r} at {path}.UserId")
            used_ids.add(user_id)
            created = _date(item.get("CreateDate"), f"{path}.CreateDate", cloud.now())
            user = User(
                user_name=name,
                user_id=user_id,
                create_date=created,
                update_date=created,
                display_name=item.get("DisplayName") or name,
                policies=self._attachments(
                    item.get("Policies"), f"{path}.Policies", created
                ),
            )
            for group_index, group_name in enumerate(
                _list(item.get("Groups"), f"{path}.Groups")
            ):
                group_path = f"{path}.Groups[{group_index}]"
                group_name = _string(group_name, group_path)
                if group_name not in cloud.groups:
                    raise ScenarioError(
                        f"{group_path} names the group {group_name!r}, which is not "
                        "defined; add it to groups or fix the name"
                    )
                if group_name in user.groups:
                    raise ScenarioError(
                        f"{group_path} repeats the group {group_name!r}"
                    )
                user.groups.append(group_name)
                user.group_join_dates[group_name] = created
            user.login_profile = self._login_profile(
                item.get("LoginProfile"), path, created
            )
            user.mfa_serial = self._mfa_serial(item.get("MFADevice"), path)

            keys = _list(item.get("AccessKeys"), f"{path}.AccessKeys")
            if len(keys) > MAX_KEYS_PER_USER:
                raise ScenarioError(
                    f"{path}.AccessKeys has {len(keys)} keys; a RAM user has at most "
                    f"{MAX_KEYS_PER_USER}"
                )
            for key_index, key_item in enumerate(keys):
                key = self._access_key(
                    key_item, f"{path}.AccessKeys[{key_index}]", "ram-user", created
                )
                key.user_name = name
                user.access_key_ids.append(key.access_key_id)
            cloud.users[name] = user

    def _login_profile(
        self, value: Any, path: str, created: datetime
    ) -> LoginProfile | None:
        if value is None:
            return None
        _check_fields(value, LOGIN_FIELDS, f"{path}.LoginProfile")
        return LoginProfile(
            create_date=created,
            password_reset_required=_bool(
                value.get("PasswordResetRequired"),
                f"{path}.LoginProfile.PasswordResetRequired",
            ),
            mfa_bind_required=_bool(
                value.get("MFABindRequired"), f"{path}.LoginProfile.MFABindRequired"
            ),
        )

    def _mfa_serial(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        _check_fields(
            value, MFA_FIELDS, f"{path}.MFADevice", required=("SerialNumber",)
        )
        return _string(value["SerialNumber"], f"{path}.MFADevice.SerialNumber")

    def _access_key(
        self, item: Any, path: str, owner_type: str, default: datetime
    ) -> AccessKey:
        cloud = self._cloud()
        _check_fields(
            item, KEY_FIELDS, path, required=("AccessKeyId", "AccessKeySecret")
        )
        key_id = _string(item["AccessKeyId"], f"{path}.AccessKeyId")
        if key_id in self.key_owner:
            raise ScenarioError(
                f"duplicate AccessKeyId {key_id!r} at {path}.AccessKeyId; "
                f"it is already defined at {self.key_owner[key_id]}"
            )
        self.key_owner[key_id] = path
        status = item.get("Status") or "Active"
        if status not in ("Active", "Inactive"):
            raise ScenarioError(
                f"invalid {path}.Status {status!r}; use Active or Inactive"
            )
        key = AccessKey(
            access_key_id=key_id,
            secret=_string(item["AccessKeySecret"], f"{path}.AccessKeySecret"),
            status=status,
            create_date=_date(item.get("CreateDate"), f"{path}.CreateDate", default),
            owner_type=owner_type,
        )
        cloud.access_keys[key_id] = key
        return key

    def _add_roles(self, items: list) -> None:
        cloud = self._cloud()
        for index, item in enumerate(items):
            path = f"roles[{index}]"
            _check_fields(item, ROLE_FIELDS, path, required=("RoleName",))
            name = _string(item["RoleName"], f"{path}.RoleName")
            if name in cloud.roles:
                raise ScenarioError(f"duplicate role {name!r} at {path}.RoleName")
            created = _date(item.get("CreateDate"), f"{path}.CreateDate", cloud.now())
            trust = item.get("AssumeRolePolicyDocument") or {
                "Version": "1",
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"RAM": [f"acs:ram::{cloud.account_id}:root"]},
                    }
                ],
            }
            max_duration = item.get("MaxSessionDuration", 3600)
            if not isinstance(max_duration, int) or not 3600 <= max_duration <= 43200:
                raise ScenarioError(
                    f"invalid {path}.MaxSessionDuration {max_duration!r}; use 3600 to "
                    "43200"
                )
            cloud.roles[name] = Role(
                role_name=name,
                role_id=str(item.get("RoleId") or f"{3 * 10**17 + index + 1}"),
                arn=f"acs:ram::{cloud.account_id}:role/{name.lower()}",
                assume_role_policy_document=_policy_document(
                    trust, f"{path}.AssumeRolePolicyDocument"
                ),
                create_date=created,
                description=item.get("Description") or "",
                max_session_duration=max_duration,
                policies=self._attachments(
                    item.get("Policies"), f"{path}.Policies", created
                ),
            )

    def _add_root_keys(self, items: list) -> None:
        cloud = self._cloud()
        for index, item in enumerate(items):
            self._access_key(
                item, f"root_access_keys[{index}]", "root-account", cloud.now()
            )

    # --- trail, events, bills ---------------------------------------------------------

    def _add_trail(self, item: Any) -> None:
        cloud = self._cloud()
        _check_fields(item, TRAIL_FIELDS, "trail", required=("Name",))
        name = _string(item["Name"], "trail.Name")
        region = item.get("Region") or cloud.region
        arn = item.get("SlsProjectArn")
        project = item.get("SlsProject")
        if arn:
            match = _SLS_ARN.match(arn)
            if match is None:
                raise ScenarioError(
                    f"invalid trail.SlsProjectArn {arn!r}; expected "
                    "acs:log:<region>:<account id>:project/<project>"
                )
            if project and project != match["project"]:
                raise ScenarioError(
                    f"trail.SlsProject {project!r} contradicts trail.SlsProjectArn "
                    f"{arn!r}"
                )
            project = match["project"]
        elif project:
            arn = f"acs:log:{region}:{cloud.account_id}:project/{project}"
        cloud.trails[name] = Trail(
            name=name,
            home_region=region,
            sls_project=project,
            sls_project_arn=arn,
            create_time=cloud.now(),
            start_logging_time=cloud.now(),
        )

    def _add_events(self, items: list, events_file: Any) -> None:
        with _gc_paused():
            self._load_events(items, events_file)

    def _load_events(self, items: list, events_file: Any) -> None:
        cloud = self._cloud()
        loaded: list[tuple[datetime, dict[str, Any], str | None]] = []
        for index, record in enumerate(items):
            loaded.append((self._event_time(record, f"events[{index}]"), record, None))
        if events_file is not None:
            loaded.extend(self._read_events_file(_string(events_file, "$.events_file")))
        loaded.sort(key=lambda entry: entry[0])

        trail = next(iter(cloud.trails.values()), None)
        rows: list[dict[str, str]] | None = None
        if trail is not None and trail.sls_project:
            rows = cloud.sls_logs.setdefault(
                f"{trail.sls_project}/{trail.logstore}", []
            )
            # The trail existed for as long as its history, so logging starts with it.
            if loaded:
                trail.create_time = min(trail.create_time, loaded[0][0])
                trail.start_logging_time = trail.create_time

        last_used: dict[str, datetime] = {}
        for moment, record, text in loaded:
            cloud.events.append(record)
            identity = record.get("userIdentity")
            key_id = identity.get("accessKeyId") if isinstance(identity, dict) else None
            # A record whose accessKeyId is not text is kept but names no key.
            if isinstance(key_id, str) and (
                key_id not in last_used or last_used[key_id] < moment
            ):
                last_used[key_id] = moment
            if rows is not None:
                rows.append(
                    {
                        "__time__": str(int(moment.timestamp())),
                        "__topic__": "actiontrail_audit_event",
                        "__source__": "actiontrail",
                        "event": text if text is not None else json.dumps(record),
                    }
                )
        for key_id, moment in last_used.items():
            key = cloud.access_keys.get(key_id)
            if key is not None:
                key.last_used = moment

    def _event_time(self, record: Any, path: str) -> datetime:
        if not isinstance(record, dict):
            raise ScenarioError(f"{path} must be a JSON object (an ActionTrail record)")
        value = record.get("eventTime")
        if not isinstance(value, str):
            raise ScenarioError(
                f"missing or invalid {path}.eventTime; use 2026-11-20T08:00:00Z"
            )
        try:
            return parse_iso(value)
        except ValueError:
            raise ScenarioError(
                f"invalid date {value!r} at {path}.eventTime; use 2026-11-20T08:00:00Z"
            ) from None

    def _read_events_file(
        self, name: str
    ) -> Iterator[tuple[datetime, dict[str, Any], str]]:
        path = self.folder / name
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise ScenarioError(
                f"$.events_file {name!r} not found at {path}; the path is relative to "
                "the scenario file"
            ) from None
        with handle:
            for line_number, line in enumerate(handle, start=1):
                where = f"events_file {name} line {line_number}"
                try:
                    text = line.decode("utf-8").strip()
                except UnicodeDecodeError:
                    raise ScenarioError(
                        f"{where} is not UTF-8 text; save the file as UTF-8"
                    ) from None
                if not text:
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as error:
                    raise ScenarioError(
                        f"{where} is not valid JSON: {error.msg}"
                    ) from None
                yield self._event_time(record, where), record, text

    def _add_bills(self, items: list) -> None:
        cloud = self._cloud()
        for index, item in enumerate(items):
            path = f"bills[{index}]"
            if not isinstance(item, dict):
                raise ScenarioError(f"{path} must be a JSON object (a bill item)")
            cycle = item.get("BillingCycle")
            if not isinstance(cycle, str) or not _BILLING_CYCLE.match(cycle):
                raise ScenarioError(
                    f"invalid {path}.BillingCycle {cycle!r}; use YYYY-MM such as "
                    "2026-11"
                )
            cloud.bills.append(dict(item))

    def _cloud(self) -> Cloud:
        assert self.cloud is not None
        return self.cloud


def describe(cloud: Cloud) -> str:
    """Summarise a loaded scenario in one line, for the server's start-up log."""
    return (
        f"account {cloud.account_id}, clock {iso(cloud.now())}, {len(cloud.users)} "
        f"users, {len(cloud.access_keys)} keys, {len(cloud.events)} events, "
        f"{len(cloud.bills)} bills"
    )
