"""Shared fixtures: a running emulator per test and the base scenario.

Proxy variables are cleared at import because the Tea SDK ignores NO_PROXY and would
send requests for 127.0.0.1 to a proxy.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import RunningEmulator, clear_proxy_environment, start_emulator

clear_proxy_environment()
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# Prefect reads PREFECT_HOME when it is first imported, which happens after this file
# runs; a private home keeps tests away from ~/.prefect and its database.
_PREFECT_HOME = tempfile.mkdtemp(prefix="akresponder-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
# The credential chain must never reach the ECS metadata address from a test.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
# Cloud calls retry after 10 ms instead of 0.5 s, so fault tests stay fast.
os.environ.setdefault("AKRESPONDER_RETRY_BASE_DELAY", "0.01")
os.environ.setdefault("AKRESPONDER_RETRY_MAX_DELAY", "0.05")

SCENARIOS = Path(__file__).parent / "scenarios"

# After the session, search every log and file the tests wrote for secrets.
pytest_plugins = ("tests.secret_scan",)


@pytest.fixture(scope="session")
def basic_scenario() -> Path:
    """The path of the base test scenario, tests/scenarios/basic.json."""
    return SCENARIOS / "basic.json"


@pytest.fixture
def emulator(basic_scenario: Path) -> Iterator[RunningEmulator]:
    """A fresh emulator serving the base scenario, stopped after the test."""
    with start_emulator(basic_scenario) as running:
        yield running


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test API server for the session, started on first use.

    Starting it runs the database migrations (about 20 s on 2 cores). Flow heartbeats
    are off, which saves about 1 s per flow run.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
