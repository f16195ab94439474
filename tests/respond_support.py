"""Helpers for the response-flow tests: scenarios moved to the present, and runs.

The base scenario's clock starts at 2026-11-20T08:00:00Z while the flow reads the
host's clock, as it would against the cloud. ``present_scenario`` shifts every
timestamp of the scenario by the same amount so that the scenario's "now" is the
host's now and the events keep their age.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator, start_emulator

SCENARIO = Path(__file__).parent / "scenarios" / "basic.json"
SCENARIO_NOW = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)

RESPONDER_KEY = "LTAI5tRESPONDER000000001"
RESPONDER_SECRET = "rsSecretResponderKey000000000001"
APP_KEY = "LTAI5tAPPBACKEND00000001"
APP_SECRET = "abSecretAppBackendKey00000000001"
CI_KEY_A = "LTAI5tCIDEPLOY000000001A"
CI_KEY_B = "LTAI5tCIDEPLOY000000002B"
ROOT_KEY = "LTAI5tROOTACCOUNT0000001"
ROOT_SECRET = "rtSecretRootAccountKey0000000001"

_ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_SPACED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_CYCLE = re.compile(r"^\d{4}-\d\d$")


def _shift_month(text: str, months: int) -> str:
    year, month = (int(part) for part in text.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _shift(value: Any, delta: timedelta, months: int, key: str = "") -> Any:
    if isinstance(value, dict):
        return {name: _shift(item, delta, months, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_shift(item, delta, months, key) for item in value]
    if isinstance(value, str):
        if _ISO_Z.match(value):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if _SPACED.match(value):
            moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S") + delta
            return moment.strftime("%Y-%m-%d %H:%M:%S")
        if key == "BillingCycle" and _CYCLE.match(value):
            return _shift_month(value, months)
    return value


def present_scenario(extra_events: list[dict[str, Any]] | None = None) -> dict:
    """Return the base scenario moved so that its "now" is the host's now.

    ``extra_events`` are added before the shift, written in the scenario's own time
    (2026-11-20T08:00:00Z is "now").
    """
    data = json.loads(SCENARIO.read_text())
    data["events"] = data["events"] + copy.deepcopy(extra_events or [])
    now = datetime.now(UTC).replace(microsecond=0)
    delta = now - SCENARIO_NOW
    months = (now.year - SCENARIO_NOW.year) * 12 + now.month - SCENARIO_NOW.month
    shifted = _shift(data, delta, months)
    shifted["now"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return shifted


def event(
    number: int,
    name: str,
    *,
    key: str = APP_KEY,
    user: str = "app-backend",
    identity_type: str = "ram-user",
    ip: str = "203.0.113.77",
    when: str = "2026-11-19T12:00:00Z",
    rw: str = "Read",
    service: str = "Ecs",
    source: str = "ecs.aliyuncs.com",
    **fields: Any,
) -> dict[str, Any]:
    """Build an ActionTrail record in the scenario's time."""
    record = {
        "eventId": f"7E570000-0000-4000-8000-{number:012d}",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventCategory": "Management",
        "eventName": name,
        "eventRW": rw,
        "eventSource": source,
        "serviceName": service,
        "eventTime": when,
        "acsRegion": "cn-hangzhou",
        "apiVersion": "2014-05-26",
        "requestId": f"7E570000-0000-4000-8000-{number:012d}",
        "sourceIpAddress": ip,
        "userAgent": "aliyun-cli/3.0.200",
        "errorCode": "",
        "errorMessage": "",
        "isGlobal": False,
        "recipientAccountId": "1234567890123456",
        "requestParameters": {"RegionId": "cn-hangzhou"},
        "responseElements": {},
        "userIdentity": {
            "type": identity_type,
            "principalId": "200000000000000002",
            "accountId": "1234567890123456",
            "userName": user,
            "accessKeyId": key,
        },
    }
    record.update(fields)
    return record


@contextmanager
def responder_emulator(
    monkeypatch: pytest.MonkeyPatch,
    *,
    extra_events: list[dict[str, Any]] | None = None,
    key: str = RESPONDER_KEY,
    secret: str = RESPONDER_SECRET,
) -> Iterator[RunningEmulator]:
    """Serve the present scenario and point the credential chain at it."""
    with start_emulator(
        present_scenario(extra_events), config={"lookup_events_rate_limit": None}
    ) as running:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.setenv("AKRESPONDER_ENDPOINT", running.url)
        monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
        yield running


def requests_by(running: RunningEmulator, access_key_id: str) -> list[dict]:
    """Return the emulator's request log entries signed with ``access_key_id``."""
    entries = running.control("GET", "requests")
    if isinstance(entries, dict):
        entries = entries.get("requests", [])
    return [entry for entry in entries if entry.get("access_key_id") == access_key_id]


def write_calls(running: RunningEmulator, access_key_id: str) -> list[str]:
    """Return the actions of the write events ``access_key_id`` left in the trail."""
    return [
        str(record.get("eventName"))
        for record in running.cloud.events
        if (record.get("userIdentity") or {}).get("accessKeyId") == access_key_id
        and record.get("eventRW") == "Write"
    ]


def respond(tmp_path: Path, access_key_id: str, **overrides: Any) -> dict[str, Any]:
    """Run the response flow with files under ``tmp_path`` and return the report."""
    from flows.respond import ResponseRequest, respond_to_compromised_key

    values: dict[str, Any] = {
        "access_key_id": access_key_id,
        "state_dir": str(tmp_path / "state"),
        "secret_sink": f"file:{tmp_path / 'secrets'}",
        "report_path": str(tmp_path / "report.json"),
    }
    values.update(overrides)
    return respond_to_compromised_key(ResponseRequest(**values))


def actions_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["id"]: action for action in report["actions"]}


def ram_client(running: RunningEmulator, key: str, secret: str) -> Any:
    """Build the real RAM SDK client signed with ``key``."""
    from alibabacloud_ram20150501.client import Client

    from emulator.testing import pop_config

    return Client(pop_config(running.endpoint, key, secret))


def ecs_client(running: RunningEmulator, key: str, secret: str) -> Any:
    """Build the real ECS SDK client signed with ``key``."""
    from alibabacloud_ecs20140526.client import Client

    from emulator.testing import pop_config

    return Client(pop_config(running.endpoint, key, secret))
