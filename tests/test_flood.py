"""Floods of alerts through the receiver: every key is contained once, none is lost.

Fifty SLS alerts for fifty keys (one rule with group evaluation: one fire time,
one alert instance per key) and one other alert sent fifty times go to the
receiver at once. The receiver, the in-process runner that ``deployments.serve``
uses for the response and the alert intake, and the emulator run in this process;
the Prefect API is the session's test server. The checks are those of
``bench/alert_flood.py``, which runs the same floods against the production
processes. To keep the test short, ActionTrail's two LookupEvents calls per
second are lifted and the responses skip their investigation, which runs after
containment and makes about fifteen LookupEvents calls per key; the benchmark
keeps both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from akresponder import redact
from bench.alert_flood import FloodAccount, FloodResult, build_account, run_flood
from deployments.inprocess import InProcessRunner
from deployments.receiver import AlertReceiver, ReceiverConfig, prefect_api_settings
from deployments.serve import SDK_MODULES
from emulator.testing import RunningEmulator, start_emulator
from flows.respond import ResponseRequest, ResponseRun

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

TOKEN = "floodReceiverToken0000000000001"
# Deployment names of this test only, so that the runner never picks up runs that
# other tests left scheduled for the usual names.
NAME = "flood-test"
SETTINGS_BLOCK = "flood-test"
RESPONSE_DEPLOYMENT = f"respond-to-compromised-key/{NAME}"
KEYS = 50
REPEATS = 50


class ContainOnly(ResponseRun):
    """The response flow's run without the investigation that follows containment."""

    def _investigate(self) -> None:
        self.next_steps.append("The flood test skipped the investigation.")


@flow(name="respond-to-compromised-key", persist_result=False, log_prints=False)
def respond_without_investigation(params: ResponseRequest) -> dict[str, Any]:
    """Triage, contain and report like the response flow, without investigating."""
    redact.install()
    return ContainOnly(params).execute()


@dataclass
class FloodStack:
    account: FloodAccount
    emulator: RunningEmulator
    receiver_url: str
    api_url: str


@pytest.fixture
def flood_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FloodStack]:
    from blocks.settings import ResponderSettings
    from flows.alert_intake import alert_intake

    account = build_account(KEYS)
    ResponderSettings(approval_steps=[], secret_sink_kind="none").save(
        SETTINGS_BLOCK, overwrite=True
    )
    with start_emulator(
        account.scenario, config={"lookup_events_rate_limit": None}
    ) as running:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", account.responder_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", account.responder_secret)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.setenv("AKRESPONDER_ENDPOINT", running.url)
        monkeypatch.setenv("AKRESPONDER_STATE_DIR", str(tmp_path / "state"))
        runner = InProcessRunner(
            [
                respond_without_investigation.to_deployment(
                    name=NAME, tags=["akresponder"]
                ),
                alert_intake.to_deployment(
                    name=NAME,
                    tags=["akresponder"],
                    parameters={
                        "settings_block": SETTINGS_BLOCK,
                        "response_deployment": RESPONSE_DEPLOYMENT,
                    },
                ),
            ],
            {item.name: item for item in (respond_without_investigation, alert_intake)},
        )
        runner.start(preload=SDK_MODULES)
        api_url, headers = prefect_api_settings()
        assert api_url is not None
        receiver = AlertReceiver(
            ReceiverConfig(
                token=TOKEN,
                deployment=f"{alert_intake.name}/{NAME}",
                port=0,
                api_url=api_url,
                api_headers=headers,
            )
        )
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            yield FloodStack(account, running, receiver.url, api_url)
        finally:
            receiver.shutdown()
            receiver.server_close()
            runner.stop()


@pytest.fixture
def flood(flood_stack: FloodStack) -> FloodResult:
    result = run_flood(
        flood_stack.receiver_url,
        TOKEN,
        flood_stack.api_url,
        flood_stack.emulator,
        flood_stack.account,
        repeats=REPEATS,
        timeout=240,
    )
    print("\n".join(result.lines()))
    return result


def test_flood_loses_nothing_and_repeats_nothing(flood: FloodResult) -> None:
    assert flood.statuses[202] == KEYS + 1, flood.lines()
    assert flood.statuses[200] == REPEATS - 1, flood.lines()
    assert flood.statuses[503] == 0, flood.lines()
    assert flood.intake_runs == KEYS + 1
    assert flood.response_runs == KEYS
    assert flood.contained == KEYS
    assert flood.writes["CreatePolicy"] <= 1
    assert flood.problems == []
