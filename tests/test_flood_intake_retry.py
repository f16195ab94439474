"""The alert intake keeps trying to start a response while the Prefect API is busy.

During a flood, a SQLite-backed Prefect server can return 503 for longer than the
Prefect client retries. ``run_deployment`` is replaced here by a stand-in that
fails with the statuses a busy server returns, because a real server cannot be
made busy on cue.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prefect import flow
from prefect.exceptions import PrefectHTTPStatusError

from flows import alert_intake

pytestmark = pytest.mark.usefixtures("prefect_harness")


def http_error(status: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:4200/api/task_runs/")
    response = httpx.Response(status, request=request)
    return PrefectHTTPStatusError(f"HTTP {status}", request=request, response=response)


class FlakyRunDeployment:
    """Fails with the given statuses, then returns a run."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, name: str, **kwargs: Any) -> SimpleNamespace:
        self.calls.append({"name": name, **kwargs})
        if self.statuses:
            raise http_error(self.statuses.pop(0))
        return SimpleNamespace(id="run-1", tags=["incident:inc-1"])


@flow(name="intake-retry-test", persist_result=False)
def start_once() -> tuple[str, str | None]:
    return alert_intake._start_through_deployment(
        "respond-to-compromised-key/respond",
        {"access_key_id": "LTAI5tINTAKERETRY0000001"},
        ["akresponder"],
        "respond-LTAI5tINTAKERETRY0000001-inc-1",
    )


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch):
    def install(statuses: list[int]) -> FlakyRunDeployment:
        stand_in = FlakyRunDeployment(statuses)
        monkeypatch.setattr("prefect.deployments.run_deployment", stand_in)
        monkeypatch.setattr(alert_intake, "START_RETRY_SECONDS", 0.0)
        return stand_in

    return install


def test_intake_start_retries_busy_api(flaky) -> None:
    stand_in = flaky([503, 502])

    run_id, incident = start_once()

    assert run_id == "run-1"
    assert incident == "inc-1"
    assert len(stand_in.calls) == 3
    keys = {call["idempotency_key"] for call in stand_in.calls}
    assert keys == {"respond-LTAI5tINTAKERETRY0000001-inc-1"}


def test_intake_start_gives_up_after_attempts(flaky) -> None:
    stand_in = flaky([503] * alert_intake.START_ATTEMPTS)

    with pytest.raises(PrefectHTTPStatusError):
        start_once()

    assert len(stand_in.calls) == alert_intake.START_ATTEMPTS


def test_intake_start_raises_client_error_at_once(flaky) -> None:
    stand_in = flaky([409])

    with pytest.raises(PrefectHTTPStatusError):
        start_once()

    assert len(stand_in.calls) == 1
