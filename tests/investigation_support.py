"""Helpers for the investigation tests: scenarios moved to the present, and emulators.

The response flow reads the host's clock, so every scenario here is shifted until
its "now" is the host's now (``present``): event times, bill periods and billing
cycles keep their distance from "now".
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import RunningEmulator, start_emulator
from tests.respond_support import RESPONDER_KEY, RESPONDER_SECRET, present_scenario

SCENARIOS = Path(__file__).parent / "scenarios"
EMULATOR_SCENARIOS = Path(__file__).resolve().parent.parent / "emulator" / "scenarios"

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_SPACED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
_CYCLE = re.compile(r"^\d{4}-\d\d$")


def _shift_cycle(text: str, months: int) -> str:
    year, month = (int(part) for part in text.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def shift(value: Any, delta: timedelta, months: int, key: str = "") -> Any:
    """Return ``value`` with every timestamp moved by ``delta``.

    ISO times (``...Z``), spaced times and ``BillingDate`` days move by ``delta``;
    ``BillingCycle`` months move by ``months``.
    """
    if isinstance(value, dict):
        return {name: shift(item, delta, months, name) for name, item in value.items()}
    if isinstance(value, list):
        return [shift(item, delta, months, key) for item in value]
    if not isinstance(value, str):
        return value
    if _ISO.match(value):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if _SPACED.match(value):
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S") + delta
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if key == "BillingDate" and _DAY.match(value):
        return (date.fromisoformat(value) + timedelta(days=delta.days)).isoformat()
    if key == "BillingCycle" and _CYCLE.match(value):
        return _shift_cycle(value, months)
    return value


def present(scenario: dict[str, Any]) -> dict[str, Any]:
    """Return ``scenario`` moved so that its ``now`` is the host's now."""
    then = datetime.fromisoformat(scenario["now"].replace("Z", "+00:00"))
    now = datetime.now(UTC).replace(microsecond=0)
    delta = now - then
    months = (now.year - then.year) * 12 + now.month - then.month
    moved = shift(scenario, delta, months)
    moved["now"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moved


def invictus_scenario() -> dict[str, Any]:
    """Return the invictus-ir attack scenario, events inline, moved to now.

    A responder user with AdministratorAccess is added, because the recording has
    none.
    """
    data = json.loads((EMULATOR_SCENARIOS / "invictus-attack.json").read_text())
    events_file = EMULATOR_SCENARIOS / data.pop("events_file")
    data["events"] = [
        json.loads(line) for line in events_file.read_text().splitlines() if line
    ]
    data["users"].append(
        {
            "UserName": "ir-responder",
            "Policies": [{"PolicyName": "AdministratorAccess", "PolicyType": "System"}],
            "AccessKeys": [
                {
                    "AccessKeyId": RESPONDER_KEY,
                    "AccessKeySecret": RESPONDER_SECRET,
                    "Status": "Active",
                    "CreateDate": "2023-01-01T00:00:00Z",
                }
            ],
        }
    )
    return present(data)


def basic_with_admin(user_name: str = "app-backend") -> dict[str, Any]:
    """Return the present base scenario with ``user_name`` given AdministratorAccess.

    With only its ECS permissions, app-backend's key would be denied every RAM step
    of an attack.
    """
    scenario = copy.deepcopy(present_scenario())
    for user in scenario["users"]:
        if user["UserName"] == user_name:
            user["Policies"].append(
                {"PolicyName": "AdministratorAccess", "PolicyType": "System"}
            )
    return scenario


@contextmanager
def serve(
    monkeypatch: pytest.MonkeyPatch, scenario: dict[str, Any]
) -> Iterator[RunningEmulator]:
    """Serve ``scenario`` and point the responder's credential chain at it."""
    with start_emulator(scenario, config={"lookup_events_rate_limit": None}) as running:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", RESPONDER_KEY)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", RESPONDER_SECRET)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.setenv("AKRESPONDER_ENDPOINT", running.url)
        monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
        yield running
