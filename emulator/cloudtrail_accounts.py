"""The RAM users, keys and bills that a converted CloudTrail history implies.

``AccountBuilder.apply`` replays the successful identity calls in time order on the AWS
side. A user exists if it made a call or was created, unless it was deleted later. A
key exists if it signed a call or was created, unless it was deleted later. Users and
keys that existed before the first record get the account's start date as their
creation date.

A user is one IAM principal: records that show one ``principalId`` under two
``userName`` values (the user was renamed, as IAM UpdateUser allows) describe one
user, which keeps the name of its latest record. The scenario format has no field for
a former name, so ``renamed`` lists each rename for the conversion summary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emulator.cloudtrail_events import aws_event_name, aws_service, policy_from_arn
from emulator.cloudtrail_ids import IdMapper, generated_secret, map_access_key_id
from emulator.state import iso, parse_iso
from emulator.system_policies import SYSTEM_POLICIES

MAX_KEYS_PER_USER = 2

# Replay order for calls of the same second: a user is created or renamed before its
# key and login profile, and deleted after them.
CALL_ORDER = {
    "CreateUser": 0,
    "UpdateUser": 0,
    "CreateAccessKey": 1,
    "CreateLoginProfile": 1,
    "AttachUserPolicy": 1,
    "EnableMFADevice": 1,
    "DeleteAccessKey": 3,
    "DeleteLoginProfile": 3,
    "DetachUserPolicy": 3,
    "DeactivateMFADevice": 3,
    "DeleteUser": 4,
}

# Monthly baseline cost in CNY by product, for the bills before the import's events.
# NOTE: illustrative amounts in the range of list prices, not Alibaba's price list.
BASELINE_PRODUCTS: tuple[tuple[str, str, str, str, float], ...] = (
    ("Ecs", "ecs", "Elastic Compute Service", "ecs.g7.large", 702.0),
    ("Ecs", "ecs", "Elastic Compute Service", "ecs.t6-c1m1.large", 61.0),
    ("Vpc", "nat_gw", "NAT Gateway", "", 216.0),
    ("Oss", "oss", "Object Storage Service", "", 43.5),
    ("Kms", "kms", "Key Management Service", "", 28.0),
    ("Rds", "rds", "ApsaraDB RDS", "rds.mysql.s2.large", 880.0),
    ("Fc", "fc", "Function Compute", "", 9.5),
)


@dataclass
class UserRecord:
    name: str
    user_id: str
    create_date: str
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # by Alibaba id
    login_profile: dict[str, bool] | None = None
    mfa_serial: str | None = None
    policies: list[str] = field(default_factory=list)  # system policy names


class AccountBuilder:
    """Fold CloudTrail identity calls into the users and keys a scenario starts with."""

    def __init__(self, ids: IdMapper, account_start: str) -> None:
        self.ids = ids
        self.account_start = account_start
        self.users: dict[str, UserRecord] = {}
        # The current name of each RAM UserId, so that a renamed user stays one user.
        self.names_by_id: dict[str, str] = {}
        self.renamed: list[tuple[str, str]] = []  # (former name, latest name)
        self.root_keys: dict[str, dict[str, str]] = {}
        self.deleted_users: set[str] = set()
        self.dropped_keys: list[str] = []

    @staticmethod
    def replay_order(record: dict[str, Any]) -> tuple[str, int, str]:
        """Sort key for ``apply``: time, then the create-before-delete order."""
        return (
            str(record.get("eventTime", "")),
            CALL_ORDER.get(aws_event_name(record), 2),
            str(record.get("eventID", "")),
        )

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one record; failed calls only show who made them."""
        self._note_caller(record)
        if record.get("errorCode"):
            return

        name = aws_event_name(record)
        service = aws_service(record)
        if service == "signin" and name == "ConsoleLogin":
            self._console_login(record)
            return
        if service != "iam":
            return

        parameters = record.get("requestParameters") or {}
        response = record.get("responseElements") or {}
        time = str(record["eventTime"])
        user_name = str(parameters.get("userName") or self._caller_name(record) or "")
        handler = {
            "CreateUser": self._create_user,
            "UpdateUser": self._update_user,
            "DeleteUser": self._delete_user,
            "CreateAccessKey": self._create_key,
            "DeleteAccessKey": self._delete_key,
            "UpdateAccessKey": self._update_key,
            "CreateLoginProfile": self._create_login_profile,
            "DeleteLoginProfile": self._delete_login_profile,
            "AttachUserPolicy": self._attach_policy,
            "DetachUserPolicy": self._detach_policy,
            "EnableMFADevice": self._enable_mfa,
            "DeactivateMFADevice": self._deactivate_mfa,
        }.get(name)

        if handler is not None and user_name:
            handler(user_name, parameters, response, time)

    @staticmethod
    def _caller_name(record: dict[str, Any]) -> str | None:
        identity = record.get("userIdentity") or {}
        if identity.get("type") == "IAMUser":
            return identity.get("userName")
        return None

    def _note_caller(self, record: dict[str, Any]) -> None:
        identity = record.get("userIdentity") or {}
        key_id = str(identity.get("accessKeyId") or "")
        long_term = bool(key_id) and not key_id.startswith("ASIA")
        if identity.get("type") == "Root" and long_term:
            alibaba_id = map_access_key_id(key_id)
            self.root_keys.setdefault(alibaba_id, self._key(alibaba_id, None))
            return
        if identity.get("type") != "IAMUser":
            return
        name = str(identity.get("userName") or "")
        if not name or name in self.deleted_users:
            return
        principal = str(identity.get("principalId") or name)
        user = self._principal_user(name, principal)
        if long_term:
            alibaba_id = map_access_key_id(key_id)
            user.keys.setdefault(alibaba_id, self._key(alibaba_id, None))

    def _principal_user(self, name: str, principal: str) -> UserRecord:
        """Return the user of ``principal``, renamed to ``name`` if it had another."""
        user_id = self.ids.user_id(principal)
        known = self.names_by_id.get(user_id)
        if known is not None and known != name and known in self.users:
            return self._rename(known, name)
        user = self.users.get(name)
        if user is None:
            return self._add_user(name, user_id, None)
        self.names_by_id.setdefault(user_id, name)
        return user

    def _add_user(self, name: str, user_id: str, created: str | None) -> UserRecord:
        user = UserRecord(
            name=name,
            user_id=user_id,
            create_date=created or self.account_start,
        )
        self.users[name] = user
        self.names_by_id[user_id] = name
        self.deleted_users.discard(name)
        return user

    def _rename(self, old: str, new: str) -> UserRecord:
        """Move user ``old`` to the name ``new`` and return it.

        A record that already exists under ``new`` came from request parameters
        that named the user before its own calls did. It is the same user, so its
        keys, policies, login profile and MFA device are merged in.
        """
        user = self.users.pop(old)
        placeholder = self.users.pop(new, None)
        if placeholder is not None:
            for key_id, key in placeholder.keys.items():
                user.keys.setdefault(key_id, key)
            for policy in placeholder.policies:
                if policy not in user.policies:
                    user.policies.append(policy)
            user.login_profile = user.login_profile or placeholder.login_profile
            user.mfa_serial = user.mfa_serial or placeholder.mfa_serial
        user.name = new
        self.users[new] = user
        for user_id, name in self.names_by_id.items():
            if name in (old, new):
                self.names_by_id[user_id] = new
        self.deleted_users.discard(new)
        self.renamed.append((old, new))
        return user

    def _user(self, name: str) -> UserRecord:
        return self.users.get(name) or self._add_user(
            name, self.ids.user_id(name), None
        )

    def _key(self, key_id: str, created: str | None) -> dict[str, str]:
        return {
            "AccessKeyId": key_id,
            "AccessKeySecret": generated_secret(key_id),
            "Status": "Active",
            "CreateDate": created or self.account_start,
        }

    def _create_user(self, name: str, params: dict, response: dict, time: str) -> None:
        aws_user = response.get("user") or {}
        user_id = self.ids.user_id(str(aws_user.get("userId") or name))
        known = self.names_by_id.get(user_id)
        if known is not None and known != name and known in self.users:
            self._rename(known, name).create_date = time
            return
        self._add_user(name, user_id, time)

    def _update_user(self, name: str, params: dict, response: dict, time: str) -> None:
        new_name = str(params.get("newUserName") or "")
        if new_name and new_name != name and name in self.users:
            self._rename(name, new_name)

    def _delete_user(self, name: str, params: dict, response: dict, time: str) -> None:
        self.users.pop(name, None)
        self.deleted_users.add(name)

    def _create_key(self, name: str, params: dict, response: dict, time: str) -> None:
        aws_key = response.get("accessKey") or {}
        if aws_key.get("accessKeyId"):
            key_id = map_access_key_id(str(aws_key["accessKeyId"]))
            self._user(name).keys[key_id] = self._key(key_id, time)

    def _delete_key(self, name: str, params: dict, response: dict, time: str) -> None:
        if name in self.users and params.get("accessKeyId"):
            key_id = map_access_key_id(str(params["accessKeyId"]))
            self.users[name].keys.pop(key_id, None)

    def _update_key(self, name: str, params: dict, response: dict, time: str) -> None:
        if name in self.users and params.get("accessKeyId"):
            key_id = map_access_key_id(str(params["accessKeyId"]))
            key = self.users[name].keys.get(key_id)
            if key is not None and params.get("status") in ("Active", "Inactive"):
                key["Status"] = str(params["status"])

    def _create_login_profile(
        self, name: str, params: dict, response: dict, time: str
    ) -> None:
        self._user(name).login_profile = {
            "MFABindRequired": False,
            "PasswordResetRequired": bool(params.get("passwordResetRequired")),
        }

    def _delete_login_profile(
        self, name: str, params: dict, response: dict, time: str
    ) -> None:
        if name in self.users:
            self.users[name].login_profile = None

    def _attach_policy(
        self, name: str, params: dict, response: dict, time: str
    ) -> None:
        policy, policy_type = policy_from_arn(str(params.get("policyArn", "")))
        user = self._user(name)
        # Only system policies the emulator defines can be attached in a scenario.
        if policy_type == "System" and policy in SYSTEM_POLICIES:
            if policy not in user.policies:
                user.policies.append(policy)

    def _detach_policy(
        self, name: str, params: dict, response: dict, time: str
    ) -> None:
        policy, _ = policy_from_arn(str(params.get("policyArn", "")))
        if name in self.users and policy in self.users[name].policies:
            self.users[name].policies.remove(policy)

    def _enable_mfa(self, name: str, params: dict, response: dict, time: str) -> None:
        serial = str(params.get("serialNumber") or f"mfa/{name}")
        self._user(name).mfa_serial = self._mfa_serial(serial, name)

    def _deactivate_mfa(
        self, name: str, params: dict, response: dict, time: str
    ) -> None:
        if name in self.users:
            self.users[name].mfa_serial = None

    def _mfa_serial(self, aws_serial: str, name: str) -> str:
        device = aws_serial.rsplit("/", 1)[-1] or name
        return f"acs:ram::{self.ids.account(None)}:mfa/{device}"

    def _console_login(self, record: dict[str, Any]) -> None:
        identity = record.get("userIdentity") or {}
        response = record.get("responseElements") or {}
        name = str(identity.get("userName") or "")
        if identity.get("type") != "IAMUser" or name not in self.users:
            return
        if response.get("ConsoleLogin", "Success") != "Success":
            return
        user = self.users[name]
        if user.login_profile is None:
            user.login_profile = {
                "MFABindRequired": False,
                "PasswordResetRequired": False,
            }
        extra = record.get("additionalEventData") or {}
        if extra.get("MFAUsed") == "Yes" and user.mfa_serial is None:
            serial = str(extra.get("MFAIdentifier") or "")
            user.mfa_serial = self._mfa_serial(serial, name)

    def grant(self, user_name: str, policy_name: str) -> None:
        """Attach a system policy that the records cannot show (``--attach-policy``)."""
        if user_name not in self.users:
            known = ", ".join(sorted(self.users)) or "none"
            raise ValueError(
                f"--attach-policy names user {user_name!r}, which is not in the "
                f"converted scenario; users: {known}"
            )
        if policy_name not in SYSTEM_POLICIES:
            choices = ", ".join(sorted(SYSTEM_POLICIES))
            raise ValueError(
                f"--attach-policy names policy {policy_name!r}, which is not a system "
                f"policy of the emulator; use one of: {choices}"
            )
        user = self.users[user_name]
        if policy_name not in user.policies:
            user.policies.append(policy_name)

    def scenario_users(self, last_used: dict[str, str]) -> list[dict[str, Any]]:
        """Return the users in scenario form, sorted by name.

        A user keeps at most two keys, as RAM allows. When the records imply more, the
        two used or created last stay, and the others are listed in ``dropped_keys``.
        """
        users = []
        for name in sorted(self.users):
            user = self.users[name]
            keys = sorted(
                user.keys.values(),
                key=lambda key: (
                    max(last_used.get(key["AccessKeyId"], ""), key["CreateDate"]),
                    key["AccessKeyId"],
                ),
            )
            if len(keys) > MAX_KEYS_PER_USER:
                dropped = keys[:-MAX_KEYS_PER_USER]
                self.dropped_keys.extend(key["AccessKeyId"] for key in dropped)
                keys = keys[-MAX_KEYS_PER_USER:]
            keys.sort(key=lambda key: (key["CreateDate"], key["AccessKeyId"]))
            users.append(
                {
                    "UserName": name,
                    "UserId": user.user_id,
                    "DisplayName": name,
                    "CreateDate": user.create_date,
                    "Groups": [],
                    "Policies": [
                        {"PolicyName": policy, "PolicyType": "System"}
                        for policy in user.policies
                    ],
                    "LoginProfile": user.login_profile,
                    "MFADevice": (
                        {"SerialNumber": user.mfa_serial} if user.mfa_serial else None
                    ),
                    "AccessKeys": keys,
                }
            )
        return users

    def scenario_root_keys(self) -> list[dict[str, str]]:
        return [self.root_keys[key_id] for key_id in sorted(self.root_keys)]


def month_start(moment: datetime, months_back: int) -> datetime:
    """Return 00:00 on the first day of the month ``months_back`` before moment."""
    index = moment.year * 12 + moment.month - 1 - months_back
    return moment.replace(
        year=index // 12,
        month=index % 12 + 1,
        day=1,
        hour=0,
        minute=0,
        second=0,
        microsecond=0,
    )


def baseline_bills(
    account_id: str,
    region: str,
    services: set[str],
    now: datetime,
    months: int,
) -> list[dict[str, Any]]:
    """Build a steady pay-as-you-go bill for each of the ``months`` before now.

    The month of ``now`` is billed up to ``now``. Products follow the services the
    events use (ECS always). Each month varies by up to 4% so that the baseline has
    some spread, and the variation derives from a hash, so output is repeatable.
    """
    bills: list[dict[str, Any]] = []
    for months_back in range(months, -1, -1):
        start = month_start(now, months_back)
        end = month_start(now, months_back - 1) if months_back else now
        fraction = (end - start) / (month_start(start, -1) - start)
        cycle = start.strftime("%Y-%m")
        for service, code, product_name, spec, monthly in BASELINE_PRODUCTS:
            if service != "Ecs" and service not in services:
                continue
            instance = _baseline_instance_id(account_id, code, spec)
            variation = _variation(f"{account_id}/{cycle}/{instance}")
            amount = round(monthly * fraction * variation, 2)
            bills.append(
                {
                    "BillingCycle": cycle,
                    "ProductCode": code,
                    "ProductName": product_name,
                    "SubscriptionType": "PayAsYouGo",
                    "PretaxAmount": amount,
                    "PretaxGrossAmount": amount,
                    "PaymentAmount": amount,
                    "Currency": "CNY",
                    "Region": region,
                    "InstanceID": instance,
                    "InstanceSpec": spec,
                    "UsageStartTime": start.strftime("%Y-%m-%d %H:%M:%S"),
                    "UsageEndTime": end.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
    return bills


def _variation(text: str) -> float:
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
    return 0.96 + (number % 8001) / 100000  # 0.96 .. 1.04


def _baseline_instance_id(account_id: str, code: str, spec: str) -> str:
    digest = hashlib.sha256(f"{account_id}/{code}/{spec}".encode()).hexdigest()
    prefix = {"ecs": "i-", "nat_gw": "ngw-", "rds": "rm-", "kms": "key-"}.get(code)
    if prefix:
        return prefix + digest[:20]
    return f"{code}-baseline-{digest[:8]}"


def account_start(first_event: datetime, bill_months: int) -> str:
    """Return the creation date given to users and keys older than the records."""
    return iso(month_start(first_event, max(bill_months, 1)))


def default_now(last_event_time: str) -> datetime:
    """Return the scenario clock start: one minute after the last record."""
    return parse_iso(last_event_time) + timedelta(minutes=1)
