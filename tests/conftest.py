"""Shared fixtures: a running emulator per test and the base scenario.

Proxy variables are cleared at import because the Tea SDK ignores NO_PROXY and would
send requests for 127.0.0.1 to a proxy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import RunningEmulator, clear_proxy_environment, start_emulator

clear_proxy_environment()
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture(scope="session")
def basic_scenario() -> Path:
    """The path of the base test scenario, tests/scenarios/basic.json."""
    return SCENARIOS / "basic.json"


@pytest.fixture
def emulator(basic_scenario: Path) -> Iterator[RunningEmulator]:
    """A fresh emulator serving the base scenario, stopped after the test."""
    with start_emulator(basic_scenario) as running:
        yield running
