"""Generate large account scenarios with planted risky AccessKeys, for the sweep.

``python -m emulator generate-account --users N --keys-per-user K --plant SPEC --out
PATH`` writes three files:

* ``PATH``: the scenario (users, keys, the root key if planted) for ``serve``;
* ``<stem>.events.jsonl``: its ActionTrail history, referenced as ``events_file``;
* ``<stem>.planted.json``: the responder's key id, the totals, and every planted key
  with the exact reason codes the sweep must report for it with default settings.

The clean population carries no risk under the sweep's default settings. Each user's
first key is active, younger than 90 days and was last used 2 to 60 days ago. A
second key (``K=2``) is inactive. Every tenth user has a console login with a virtual
MFA device. ``SPEC`` plants risky keys among the users, as ``kind=count`` pairs
separated by commas, for example ``never-used=3,root=1,new-ip=2``. The kinds are the
keys of ``PLANTS``.

Times are relative to ``--now`` (default: the current time), so a scenario generated
just before a sweep matches the host clock the sweep reads. The same seed and now
give the same files.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT_ID = "1234567890123456"
RESPONDER_USER = "sweep-responder"
MAX_KEYS_PER_USER = 2
USUAL_AGENT = "aliyun-sdk-python/2.0.24 Python/3.11.7 Linux/5.15"
NEW_AGENT = "python-requests/2.31.0"
NEW_REGION = "ap-southeast-1"
HOME_REGION = "cn-hangzhou"

# Plant kind -> (expected reason codes of each planted key, keys planted per unit).
PLANTS: dict[str, tuple[tuple[str, ...], int]] = {
    "never-used": (("never_used",), 1),
    "unused": (("rotation_overdue", "unused"), 1),
    "rotation": (("rotation_overdue",), 1),
    "two-active": (("two_active_keys",), 2),
    "root": (("root_key",), 1),
    "created-by-key": (("created_by_key",), 1),
    "new-ip": (("new_source_ip",), 1),
    "new-region": (("new_region",), 1),
    "new-agent": (("new_user_agent",), 1),
    "console-no-mfa": (("console_without_mfa",), 1),
    # Used in the last day exactly as before: the usage check runs and finds nothing.
    "recent-known": ((), 1),
}


class GenerateError(ValueError):
    """Invalid generator arguments; the message names the value and the fix."""


def parse_plant_spec(text: str) -> dict[str, int]:
    """Parse ``kind=count,kind=count`` into a dict, checking kinds and counts."""
    plants: dict[str, int] = {}
    if not text.strip():
        return plants
    for part in text.split(","):
        kind, equals, count_text = part.strip().partition("=")
        if kind not in PLANTS:
            raise GenerateError(
                f"unknown plant kind {kind!r}; use one of {', '.join(PLANTS)}"
            )
        if not equals or not count_text.isdigit() or int(count_text) < 1:
            raise GenerateError(
                f"invalid plant {part.strip()!r}; write kind=count with a count of "
                "1 or more, such as never-used=3"
            )
        if kind in plants:
            raise GenerateError(f"plant kind {kind!r} is given twice; give it once")
        plants[kind] = int(count_text)
    return plants


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Account:
    """The generator's working state."""

    now: datetime
    rng: random.Random
    users: list[dict[str, Any]] = field(default_factory=list)
    root_keys: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    planted: list[dict[str, Any]] = field(default_factory=list)
    event_number: int = 0

    def secret(self) -> str:
        return "".join(
            self.rng.choice(string.ascii_letters + string.digits) for _ in range(30)
        )

    def key_id(self, index: int, slot: int) -> str:
        tail = "".join(
            self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(8)
        )
        return f"LTAI5t{index:08d}K{slot}{tail}"

    def key(self, index: int, slot: int, status: str, age_days: float) -> dict:
        return {
            "AccessKeyId": self.key_id(index, slot),
            "AccessKeySecret": self.secret(),
            "Status": status,
            "CreateDate": _iso(self.now - timedelta(days=age_days)),
        }

    def event(
        self,
        key_id: str,
        user_name: str,
        when: datetime,
        *,
        ip: str,
        region: str = HOME_REGION,
        agent: str = USUAL_AGENT,
        name: str = "DescribeInstances",
        identity_type: str = "ram-user",
        **fields: Any,
    ) -> dict[str, Any]:
        """Append an ActionTrail record of a call signed with ``key_id``."""
        self.event_number += 1
        event_id = f"9E000000-0000-4000-8000-{self.event_number:012d}"
        record = {
            "eventId": event_id,
            "eventVersion": "1",
            "eventType": "ApiCall",
            "eventCategory": "Management",
            "eventName": name,
            "eventRW": "Read",
            "eventSource": "ecs.aliyuncs.com",
            "serviceName": "Ecs",
            "eventTime": _iso(when),
            "acsRegion": region,
            "apiVersion": "2014-05-26",
            "requestId": event_id,
            "sourceIpAddress": ip,
            "userAgent": agent,
            "errorCode": "",
            "errorMessage": "",
            "isGlobal": False,
            "recipientAccountId": ACCOUNT_ID,
            "requestParameters": {"RegionId": region},
            "responseElements": {},
            "userIdentity": {
                "type": identity_type,
                "principalId": _principal_id(user_name, identity_type),
                "accountId": ACCOUNT_ID,
                "userName": user_name,
                "accessKeyId": key_id,
            },
        }
        record.update(fields)
        self.events.append(record)
        return record

    def plant(self, kind: str, user_name: str | None, key: dict[str, Any]) -> None:
        self.planted.append(
            {
                "kind": kind,
                "user_name": user_name,
                "access_key_id": key["AccessKeyId"],
                "reasons": sorted(PLANTS[kind][0]),
            }
        )


def _principal_id(user_name: str, identity_type: str) -> str:
    if identity_type == "root-account":
        return ACCOUNT_ID
    return str(2 * 10**17 + zlib.crc32(user_name.encode()))


def _usual_ip(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"


def _user(name: str, keys: list[dict[str, Any]], created: datetime) -> dict:
    return {
        "UserName": name,
        "CreateDate": _iso(created),
        "AccessKeys": keys,
    }


def _clean_user(account: _Account, index: int, keys_per_user: int) -> dict:
    """A user that the sweep must not flag with default settings."""
    rng = account.rng
    name = f"user-{index:05d}"
    keys = []
    if keys_per_user >= 1:
        age = rng.uniform(10, 80)
        key = account.key(index, 1, "Active", age)
        keys.append(key)
        idle = rng.uniform(2, min(age - 1, 60))
        account.event(
            key["AccessKeyId"],
            name,
            account.now - timedelta(days=idle),
            ip=_usual_ip(index),
        )
    if keys_per_user >= 2:
        keys.append(account.key(index, 2, "Inactive", rng.uniform(100, 300)))
    user = _user(name, keys, account.now - timedelta(days=400))
    if index % 10 == 0:
        user["LoginProfile"] = {"MFABindRequired": False}
        user["MFADevice"] = {
            "SerialNumber": f"acs:ram::{ACCOUNT_ID}:mfa/{name}",
        }
    return user


def _history(account: _Account, key: dict, name: str, index: int) -> None:
    """Give a key a usual history: calls 3 to 20 days ago from its usual place."""
    for days in (20, 12, 6, 3):
        account.event(
            key["AccessKeyId"],
            name,
            account.now - timedelta(days=days, hours=index % 5),
            ip=_usual_ip(index),
        )


def _planted_user(
    account: _Account, kind: str, index: int, creator: tuple[str, str] | None
) -> dict:
    """Build a user with one planted risk of ``kind`` and record what to expect."""
    now = account.now
    name = f"user-{index:05d}"
    if kind == "never-used":
        key = account.key(index, 1, "Active", 30)
        account.plant(kind, name, key)
        return _user(name, [key], now - timedelta(days=40))
    if kind == "unused":
        key = account.key(index, 1, "Active", 200)
        account.event(
            key["AccessKeyId"], name, now - timedelta(days=120), ip=_usual_ip(index)
        )
        account.plant(kind, name, key)
        return _user(name, [key], now - timedelta(days=300))
    if kind == "rotation":
        key = account.key(index, 1, "Active", 200)
        account.event(
            key["AccessKeyId"], name, now - timedelta(days=3), ip=_usual_ip(index)
        )
        account.plant(kind, name, key)
        return _user(name, [key], now - timedelta(days=300))
    if kind == "two-active":
        first = account.key(index, 1, "Active", 40)
        second = account.key(index, 2, "Active", 20)
        for key in (first, second):
            account.event(
                key["AccessKeyId"], name, now - timedelta(days=4), ip=_usual_ip(index)
            )
            account.plant(kind, name, key)
        return _user(name, [first, second], now - timedelta(days=100))
    if kind == "created-by-key":
        assert creator is not None
        creator_key, creator_name = creator
        created = now - timedelta(days=2)
        key = account.key(index, 1, "Active", 2)
        account.event(
            creator_key,
            creator_name,
            created,
            ip="198.51.100.23",
            name="CreateAccessKey",
            eventRW="Write",
            eventSource="ims.aliyuncs.com",
            serviceName="Ims",
            apiVersion="2019-08-15",
            isGlobal=True,
            requestParameters={"UserName": name},
            responseElements={
                "AccessKey": {
                    "AccessKeyId": key["AccessKeyId"],
                    "Status": "Active",
                    "CreateDate": _iso(created),
                }
            },
        )
        account.event(
            key["AccessKeyId"], name, now - timedelta(days=1, hours=12), ip="10.9.9.9"
        )
        account.plant(kind, name, key)
        return _user(name, [key], now - timedelta(days=100))
    if kind in ("new-ip", "new-region", "new-agent", "recent-known"):
        key = account.key(index, 1, "Active", 60)
        _history(account, key, name, index)
        changes: dict[str, Any] = {"ip": _usual_ip(index)}
        if kind == "new-ip":
            changes["ip"] = f"203.0.113.{index % 250 + 1}"
        elif kind == "new-region":
            changes["region"] = NEW_REGION
        elif kind == "new-agent":
            changes["agent"] = NEW_AGENT
        for hours in (10, 6, 2):
            account.event(
                key["AccessKeyId"], name, now - timedelta(hours=hours), **changes
            )
        account.plant(kind, name, key)
        return _user(name, [key], now - timedelta(days=100))
    if kind == "console-no-mfa":
        key = account.key(index, 1, "Active", 30)
        account.event(
            key["AccessKeyId"], name, now - timedelta(days=5), ip=_usual_ip(index)
        )
        account.plant(kind, name, key)
        user = _user(name, [key], now - timedelta(days=100))
        user["LoginProfile"] = {"MFABindRequired": False}
        return user
    raise GenerateError(f"plant kind {kind!r} has no builder")


def _plant_root(account: _Account, number: int) -> None:
    key = account.key(99_000_000 + number, 1, "Active", 500)
    account.root_keys.append(key)
    account.event(
        key["AccessKeyId"],
        "root",
        account.now - timedelta(days=2, hours=number),
        ip="198.51.100.200",
        identity_type="root-account",
    )
    account.plant("root", None, key)


def generate_account(
    users: int,
    keys_per_user: int,
    plants: dict[str, int],
    *,
    seed: int = 1,
    now: datetime | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Build ``(scenario, events, planted manifest)``; nothing is written.

    ``users`` counts the RAM users besides the responder's own user.
    """
    if users < 1:
        raise GenerateError(f"--users must be at least 1, got {users}")
    if not 0 <= keys_per_user <= MAX_KEYS_PER_USER:
        raise GenerateError(
            f"--keys-per-user must be 0, 1 or 2 (RAM allows two keys per user), got "
            f"{keys_per_user}"
        )
    planted_users = sum(count for kind, count in plants.items() if kind != "root")
    if planted_users >= users:
        raise GenerateError(
            f"the plants need {planted_users} users but --users is {users}; give "
            "more users than planted keys so clean users remain"
        )
    if plants.get("created-by-key") and keys_per_user < 1:
        raise GenerateError(
            "created-by-key needs clean users with keys to create the planted key; "
            "use --keys-per-user 1 or 2"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    account = _Account(now=moment, rng=random.Random(seed))

    indices = list(range(1, users + 1))
    chosen = account.rng.sample(indices, planted_users)
    kinds = [
        kind for kind, count in plants.items() if kind != "root" for _ in range(count)
    ]
    plan = dict(zip(chosen, kinds, strict=True))

    responder_key = account.key(0, 1, "Active", 30)
    account.users.append(
        {
            **_user(RESPONDER_USER, [responder_key], moment - timedelta(days=60)),
            "Policies": [{"PolicyName": "ReadOnlyAccess", "PolicyType": "System"}],
        }
    )
    account.event(
        responder_key["AccessKeyId"],
        RESPONDER_USER,
        moment - timedelta(days=3),
        ip="10.255.0.1",
    )

    clean_keys: list[tuple[str, str]] = []
    deferred: list[int] = []
    by_index: dict[int, dict[str, Any]] = {}
    for index in indices:
        kind = plan.get(index)
        if kind is None:
            user = _clean_user(account, index, keys_per_user)
            active = [k for k in user["AccessKeys"] if k["Status"] == "Active"]
            if active:
                clean_keys.append((active[0]["AccessKeyId"], user["UserName"]))
            by_index[index] = user
        elif kind == "created-by-key":
            deferred.append(index)
        else:
            by_index[index] = _planted_user(account, kind, index, None)
    for number, index in enumerate(deferred):
        creator = clean_keys[number % len(clean_keys)]
        by_index[index] = _planted_user(account, "created-by-key", index, creator)
    account.users.extend(by_index[index] for index in indices)
    for number in range(plants.get("root", 0)):
        _plant_root(account, number)

    account.events.sort(key=lambda record: record["eventTime"])
    scenario: dict[str, Any] = {
        "account_id": ACCOUNT_ID,
        "now": _iso(moment),
        "region": HOME_REGION,
        "users": account.users,
    }
    if account.root_keys:
        scenario["root_access_keys"] = account.root_keys
    key_count = sum(len(user["AccessKeys"]) for user in account.users) + len(
        account.root_keys
    )
    manifest = {
        "now": _iso(moment),
        "seed": seed,
        "users": len(account.users),
        "keys": key_count,
        "events": len(account.events),
        "responder": {
            "user_name": RESPONDER_USER,
            "access_key_id": responder_key["AccessKeyId"],
        },
        "planted": account.planted,
    }
    return scenario, account.events, manifest


def sidecar_paths(out: Path) -> tuple[Path, Path]:
    """Return the events file and the planted manifest that go with scenario ``out``."""
    stem = out.name.removesuffix(".json")
    return out.with_name(f"{stem}.events.jsonl"), out.with_name(f"{stem}.planted.json")


def write_account(
    out: str | Path,
    users: int,
    keys_per_user: int,
    plants: dict[str, int],
    *,
    seed: int = 1,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Generate an account and write the scenario, events and manifest next to
    ``out``; return the manifest."""
    path = Path(out)
    scenario, events, manifest = generate_account(
        users, keys_per_user, plants, seed=seed, now=now
    )
    events_path, manifest_path = sidecar_paths(path)
    scenario["events_file"] = events_path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    with events_path.open("w", encoding="utf-8") as stream:
        for record in events:
            stream.write(json.dumps(record, separators=(",", ":")))
            stream.write("\n")
    path.write_text(json.dumps(scenario, separators=(",", ":")), encoding="utf-8")
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GenerateError(
            f"invalid --now {text!r}; use UTC ISO 8601 such as 2026-11-20T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise GenerateError(f"--now {text!r} has no time zone; end it with Z")
    return moment


def run_generate(args: argparse.Namespace) -> int:
    """Run ``generate-account``; print the paths and totals, return the exit status."""
    try:
        plants = parse_plant_spec(args.plant)
        manifest = write_account(
            args.out,
            args.users,
            args.keys_per_user,
            plants,
            seed=args.seed,
            now=_parse_now(args.now),
        )
    except (GenerateError, OSError) as error:
        print(f"error: {error}", flush=True)
        return 2
    events_path, manifest_path = sidecar_paths(Path(args.out))
    print(
        f"wrote {args.out}: {manifest['users']} users, {manifest['keys']} keys, "
        f"{len(manifest['planted'])} planted keys; events in {events_path}, "
        f"expected findings in {manifest_path}"
    )
    return 0


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate-account`` subcommand to the emulator's command line."""
    parser = subparsers.add_parser(
        "generate-account",
        help="write a large account scenario with planted risky keys",
        description="Write a scenario of many RAM users for the sweep, its "
        "ActionTrail history (<stem>.events.jsonl) and the planted keys with their "
        "expected reasons (<stem>.planted.json). Plant kinds: "
        + ", ".join(PLANTS)
        + ".",
    )
    parser.add_argument(
        "--users", type=int, required=True, help="RAM users besides the responder"
    )
    parser.add_argument(
        "--keys-per-user",
        type=int,
        default=1,
        help="keys of each clean user: 0, 1 (active) or 2 (active and inactive); "
        "default 1",
    )
    parser.add_argument(
        "--plant",
        default="",
        metavar="SPEC",
        help="risky keys to plant as kind=count pairs separated by commas, such as "
        "never-used=3,root=1",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="path of the scenario JSON to write"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--now",
        help="the scenario's current time, UTC ISO 8601 (default: the current time)",
    )
    parser.set_defaults(func=run_generate)
