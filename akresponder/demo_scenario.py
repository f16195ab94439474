"""The demo's account: the shipped invictus-ir scenario moved to the present, plus a
responder.

``emulator/scenarios/invictus-attack.json`` is a real attack recording whose clock
stops at 2023-07-10T12:38:50Z, one minute after the last record. A response looks
back from the host's clock (30 days by default), so it would find none of those
events. ``build_demo_scenario`` writes an overlay of the shipped files instead of
editing them:

* Every ISO 8601 timestamp of the scenario and its events moves forward by the same
  amount, so that the scenario's "now" is the host's now and each event keeps its age.
* Bills move by whole months, because the emulator bills by calendar month. The
  current month's partial bill is scaled to the part of the new month that has
  passed, so the daily spend stays the same and no false spike appears.
* A RAM user ``ir-responder`` is added, holding only the minimal policy that
  ``akresponder policy`` prints, with a new AccessKey made from ``secrets``.

The overlay contains the AccessKeySecrets of the scenario and of the responder, so
it is written to a private folder (0700, files 0600) that the caller deletes once
the emulator has loaded it.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SHIPPED_SCENARIO = (
    Path(__file__).resolve().parent.parent
    / "emulator"
    / "scenarios"
    / "invictus-attack.json"
)
# The key of user bert-jan: every call of the recorded attack that was made with a
# long-term key used it (emulator/scenarios/SOURCE.md lists the evidence).
LEAKED_KEY_ID = "LTAI5tbuZIjVAVKRpqJhK7px"
LEAKED_USER = "bert-jan"
RESPONDER_USER = "ir-responder"
RESPONDER_POLICY = "akresponder-responder"

# ISO 8601 times as the scenario writes them: 2023-07-10T12:32:01Z,
# 2023-07-10T12:03:18.000Z or 2023-07-10T12:28:24.000+0000.
_ISO_TIME = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?(Z|[+-]\d\d:?\d\d)$"
)
_BILL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_SCENARIO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class DemoAccount:
    """The overlay's files and the responder's credentials.

    ``responder_secret`` is excluded from ``repr`` so that printing the object never
    shows it.
    """

    scenario_path: Path
    account_id: str
    region: str
    now: datetime
    shift: timedelta
    event_count: int
    last_event_at: datetime | None
    responder_key_id: str
    responder_secret: str = field(repr=False)


def shift_timestamps(value: Any, delta: timedelta) -> Any:
    """Return ``value`` with every ISO 8601 timestamp string moved by ``delta``.

    Dicts and lists are copied; each timestamp keeps its format (fraction and zone
    suffix). Other values are returned unchanged.
    """
    if isinstance(value, dict):
        return {key: shift_timestamps(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_timestamps(item, delta) for item in value]
    if isinstance(value, str):
        match = _ISO_TIME.match(value)
        if match is None:
            return value
        moved = datetime.fromisoformat(match.group(1)) + delta
        return (
            moved.strftime("%Y-%m-%dT%H:%M:%S")
            + (match.group(2) or "")
            + (match.group(3))
        )
    return value


def add_months(moment: datetime, months: int) -> datetime:
    """Move ``moment`` by whole calendar months, clamping the day to the month."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def shift_bills(
    bills: list[dict[str, Any]], old_now: datetime, new_now: datetime
) -> list[dict[str, Any]]:
    """Move bill items to the months before ``new_now``, keeping the daily spend.

    Items move by the number of calendar months between ``old_now`` and
    ``new_now``. An item of ``old_now``'s month whose usage ends at ``old_now`` (the
    bill so far) then ends at ``new_now``, and its ``...Amount`` fields are scaled
    by the ratio of the time passed in the two months.
    """
    months = (new_now.year - old_now.year) * 12 + new_now.month - old_now.month
    old_cycle = old_now.strftime("%Y-%m")
    old_elapsed = (old_now - _month_start(old_now)).total_seconds()
    new_elapsed = (new_now - _month_start(new_now)).total_seconds()
    scale = new_elapsed / old_elapsed if old_elapsed > 0 else 1.0
    naive_old_now = old_now.replace(tzinfo=None)

    moved = []
    for item in bills:
        copy = dict(item)
        cycle = str(item.get("BillingCycle", ""))
        if re.fullmatch(r"\d{4}-\d\d", cycle):
            first = datetime.strptime(cycle + "-01", "%Y-%m-%d")
            copy["BillingCycle"] = add_months(first, months).strftime("%Y-%m")
        for name in ("UsageStartTime", "UsageEndTime"):
            text = item.get(name)
            if not text:
                continue
            moment = datetime.strptime(str(text), _BILL_TIME_FORMAT)
            if name == "UsageEndTime" and moment == naive_old_now:
                moment = new_now.replace(tzinfo=None)
            else:
                moment = add_months(moment, months)
            copy[name] = moment.strftime(_BILL_TIME_FORMAT)
        if cycle == old_cycle:
            for name, amount in item.items():
                if name.endswith("Amount") and isinstance(amount, int | float):
                    copy[name] = round(amount * scale, 2)
        moved.append(copy)
    return moved


def new_access_key() -> tuple[str, str]:
    """Return a random AccessKey ID (``LTAI5t`` + 18) and a 30-character secret."""
    key_id = "LTAI5t" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    secret = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(30))
    return key_id, secret


def responder_policy_document() -> dict[str, Any]:
    """Return the minimal RAM policy of the responder, as ``akresponder policy``."""
    from akresponder.permissions import minimal_policy

    return minimal_policy()


def _latest(times: list[str]) -> datetime | None:
    """Return the latest of ISO 8601 ``times``, ignoring values that are not one."""
    latest = None
    for text in times:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if latest is None or moment > latest:
            latest = moment
    return latest


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def build_demo_scenario(
    folder: Path,
    *,
    source: Path = SHIPPED_SCENARIO,
    now: datetime | None = None,
) -> DemoAccount:
    """Write the overlay of ``source`` to ``folder`` and return where and who.

    ``folder`` must exist, be empty and be private (the caller creates it with
    ``tempfile.mkdtemp``). ``now`` defaults to the host's time, in whole seconds.
    Raises ``FileNotFoundError`` or ``ValueError`` naming the file when ``source``
    or its events file cannot be read.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"scenario {source} is not valid JSON: {error}") from None
    old_now = datetime.strptime(data["now"], _SCENARIO_TIME_FORMAT).replace(tzinfo=UTC)
    delta = now - old_now

    bills = shift_bills(data.pop("bills", []), old_now, now)
    events_name = data.pop("events_file", None)
    data = shift_timestamps(data, delta)
    data["now"] = now.strftime(_SCENARIO_TIME_FORMAT)
    data["bills"] = bills

    event_times = [str(item.get("eventTime")) for item in data.get("events", [])]
    if events_name:
        events_path = source.parent / events_name
        lines = []
        with events_path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(
                        f"{events_path} line {number} is not valid JSON: {error.msg}"
                    ) from None
                moved = shift_timestamps(record, delta)
                event_times.append(str(moved.get("eventTime")))
                lines.append(
                    json.dumps(moved, separators=(",", ":"), ensure_ascii=False)
                )
        _write_private(folder / "events.jsonl", "\n".join(lines) + "\n")
        data["events_file"] = "events.jsonl"

    key_id, secret = new_access_key()
    data.setdefault("policies", []).append(
        {
            "PolicyName": RESPONDER_POLICY,
            "Description": "akresponder demo: the minimal policy of the responder",
            "PolicyDocument": json.dumps(responder_policy_document()),
        }
    )
    data.setdefault("users", []).append(
        {
            "UserName": RESPONDER_USER,
            "UserId": "".join(secrets.choice(string.digits) for _ in range(18)),
            "DisplayName": "Incident responder (akresponder demo)",
            "CreateDate": now.strftime(_SCENARIO_TIME_FORMAT),
            "Groups": [],
            "Policies": [{"PolicyName": RESPONDER_POLICY, "PolicyType": "Custom"}],
            "LoginProfile": None,
            "MFADevice": None,
            "AccessKeys": [
                {
                    "AccessKeyId": key_id,
                    "AccessKeySecret": secret,
                    "Status": "Active",
                    "CreateDate": now.strftime(_SCENARIO_TIME_FORMAT),
                }
            ],
        }
    )
    scenario_path = folder / "scenario.json"
    _write_private(scenario_path, json.dumps(data, indent=1))
    return DemoAccount(
        scenario_path=scenario_path,
        account_id=str(data.get("account_id", "")),
        region=str(data.get("region") or "cn-hangzhou"),
        now=now,
        shift=delta,
        event_count=len(event_times),
        last_event_at=_latest(event_times),
        responder_key_id=key_id,
        responder_secret=secret,
    )
