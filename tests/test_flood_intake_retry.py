"""The alert intake keeps trying to start a response while the Prefect API fails.

During a flood, a SQLite-backed Prefect server returns 503 whenever two writes
overlap. The intake talks over HTTP to a fault-injecting proxy
(``tests.prefect_proxy``) in front of the session's Prefect test server, which
creates the runs of a response deployment that no runner executes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.exceptions import PrefectHTTPStatusError

from flows import alert_intake
from tests.prefect_proxy import FaultProxy, fault_proxy

pytestmark = pytest.mark.usefixtures("prefect_harness")

KEY_ID = "LTAI5tINTAKERETRY0000001"
# A key with no response run yet, for the whole intake.
UNSTARTED_KEY_ID = "LTAI5tINTAKERETRY0000002"
RESPONSE_DEPLOYMENT = "respond-to-compromised-key/intake-retry-test"


@pytest.fixture(scope="module")
def deployment_id(prefect_harness: None) -> UUID:
    from flows.respond import respond_to_compromised_key

    return respond_to_compromised_key.to_deployment(name="intake-retry-test").apply()


@pytest.fixture
def proxy(deployment_id: UUID, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setattr(alert_intake, "START_BASE_DELAY", 0.01)
    monkeypatch.setattr(alert_intake, "START_MAX_DELAY", 0.05)
    with fault_proxy(str(PREFECT_API_URL.value()), "/create_flow_run") as running:
        yield running


def start_through(
    api_url: str, deployment_id: UUID, idempotency: str
) -> tuple[str, str | None]:
    """Create the response run through ``api_url``, as the intake does."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        return alert_intake._start_through_deployment(
            deployment_id,
            {"access_key_id": KEY_ID, "incident_id": idempotency},
            ["akresponder", f"key:{KEY_ID}", f"incident:{idempotency}"],
            idempotency,
            logging.getLogger("test-intake-retry"),
        )


def runs_with_key(idempotency: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"incident:{idempotency}"])
            )
        )
    return [run for run in runs if run.idempotency_key == idempotency]


def test_intake_start_retries_api_faults(
    proxy: FaultProxy, deployment_id: UUID
) -> None:
    proxy.faults = ["503", "500", "drop", "drop-after", "429"]

    run_id, incident = start_through(proxy.url + "/api", deployment_id, "inc-retry-1")

    assert incident == "inc-retry-1"
    assert [fault for _, fault in proxy.matched] == [
        "503",
        "500",
        "drop",
        "drop-after",
        "429",
        "",
    ]
    assert [str(run.id) for run in runs_with_key("inc-retry-1")] == [run_id]


def test_intake_start_gives_up_after_deadline(
    proxy: FaultProxy, deployment_id: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_intake, "START_SECONDS", 3.0)
    proxy.always = "503"

    with pytest.raises(PrefectHTTPStatusError):
        start_through(proxy.url + "/api", deployment_id, "inc-retry-2")

    assert len(proxy.matched) >= 2
    assert runs_with_key("inc-retry-2") == []


def test_intake_start_raises_client_error_at_once(
    proxy: FaultProxy, deployment_id: UUID
) -> None:
    proxy.faults = ["409"]

    with pytest.raises(PrefectHTTPStatusError):
        start_through(proxy.url + "/api", deployment_id, "inc-retry-3")

    assert len(proxy.matched) == 1


def test_intake_fails_unstarted_response(
    proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setattr(alert_intake, "START_SECONDS", 0.3)
    proxy.always = "503"

    # The whole flow talks to the proxy, which does not carry Prefect's events
    # websocket: the events worker logs an error about that, which is expected.
    with temporary_settings({PREFECT_API_URL: proxy.url + "/api"}):
        state = alert_intake.alert_intake(
            {"access_key_id": UNSTARTED_KEY_ID, "alert_id": "intake-not-started"},
            response_deployment=RESPONSE_DEPLOYMENT,
            state_dir=str(tmp_path),
            return_state=True,
        )
    error = state.result(raise_on_failure=False)

    assert state.is_failed()
    assert isinstance(error, alert_intake.IntakeFailed)
    assert f"the response failed to start for {UNSTARTED_KEY_ID}" in str(error)
    outcome = error.result["outcomes"][0]
    assert outcome["action"] == "failed"
    assert "503" in outcome["reason"]
