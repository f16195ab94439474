"""Run the flow runs of chosen deployments in threads of the serving process.

Prefect's ``serve`` starts a new Python process for every flow run. That process
imports Prefect, the flow's modules and the Alibaba Cloud SDKs again, which took 5
to 10 s per run on a loaded 2-core machine (``bench/time_to_containment.py``).
A runner also looks for new runs only every ``PREFECT_RUNNER_POLL_FREQUENCY``
seconds (10 by default). An alert goes through the alert intake and then the
response, so it pays both costs twice while the attacker keeps working.

``InProcessRunner`` registers its deployments like ``serve`` does (no work pool),
asks the Prefect API for their scheduled runs every ``poll_seconds``, claims each
run by moving it to Pending (the server rejects a second claim), and runs it with
Prefect's flow engine in a thread of this process, where every module is already
imported. The run's states, logs, artifacts, pauses for approval and its
``deployment_id`` are the same as in a subprocess. A run paused for approval, or
one inside ``waiting_for_other_runs`` (a response waiting for its child responses),
does not count against the limit, so it cannot hold back the runs it waits for.

What a thread cannot give, compared with Prefect's subprocess per run:

* Cancelling a run from the UI or the API does not stop its thread: the run goes
  on until its flow returns (see ``NOTE`` in ``_poll_once``).
* Runs share this process's environment and module state, and a crash of the
  process ends all of them. ``stop`` marks the runs still in flight as Crashed;
  after a hard kill they stay Running in the API.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

# A child of Prefect's logger, so its lines reach the console that serve prints to.
# Prefect itself is imported late: serve.py sets its environment first.
logger = logging.getLogger("prefect.akresponder.inprocess")

DEFAULT_POLL_SECONDS = 0.5
# Runs executing at once. The runs share one Python process, so more of them
# mostly add concurrent writes to the Prefect server: a SQLite-backed server then
# rejects the create of a run (503) whenever another write commits during it. In
# tests/test_flood.py (50 alerts for 50 keys and one alert sent 50 times, 2 cores,
# load average 5 to 9), all 101 runs ended after 145 s with 4 at once. There were
# 112 rejected creates, and one intake waited 85 s to create its response. With 2
# at once the runs ended after 96 s, with 40 rejected creates.
DEFAULT_LIMIT = 2
# Seconds between polls that mark the deployments ready (a write to the Prefect
# database); the polls in between only read. Prefect marks a deployment not ready
# when no poll marked it for 60 s.
MARK_READY_SECONDS = 15.0
# Threads at most, runs paused for approval included.
MAX_THREADS = 64
# Seconds ``stop`` waits for runs in flight before it marks them Crashed.
STOP_GRACE_SECONDS = 10.0
# Seconds between retries after a poll of the Prefect API failed.
API_RETRY_SECONDS = 2.0

# Flow runs of this process inside ``waiting_for_other_runs``, with the nesting
# depth of each.
_waiting: Counter[UUID] = Counter()
_waiting_lock = threading.Lock()


@contextmanager
def _mark_current_run(marks: Counter[UUID]) -> Iterator[None]:
    """Count the current flow run in ``marks`` while the block runs.

    The count is a nesting depth, so nested marks of one run end together with the
    outermost. Outside a flow run nothing is counted.
    """
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run_id = context.flow_run.id if context and context.flow_run else None
    if run_id is None:
        yield
        return
    with _waiting_lock:
        marks[run_id] += 1
    try:
        yield
    finally:
        with _waiting_lock:
            marks[run_id] -= 1
            if marks[run_id] <= 0:
                del marks[run_id]


@contextmanager
def waiting_for_other_runs() -> Iterator[None]:
    """Mark the current flow run as blocked until other flow runs end.

    An ``InProcessRunner`` of this process does not count a marked run against
    its ``limit``. Without the mark, a response that waits for the child runs of
    its own deployment would hold the slot those runs need: with every slot taken
    by such parents, no child would start until the parents time out. Outside a
    flow run the mark does nothing.
    """
    with _mark_current_run(_waiting):
        yield


def waiting_run_ids() -> set[UUID]:
    """Return the ids of the flow runs inside ``waiting_for_other_runs``."""
    with _waiting_lock:
        return set(_waiting)


# Flow runs of this process inside ``after_containment``, with the nesting depth
# of each.
_contained: Counter[UUID] = Counter()


@contextmanager
def after_containment() -> Iterator[None]:
    """Mark the current flow run as past containment, with only work that can wait.

    An ``InProcessRunner`` of this process does not count a marked run against
    its ``limit``, so the next alert's response starts while this one
    investigates. The investigation of a response makes about 15 LookupEvents
    calls, which ActionTrail limits to 2 per second for the account: in
    bench/alert_flood.py, with every response counted until its end, the last
    of 50 keys was contained after 274 s. Outside a flow run the mark does
    nothing.
    """
    with _mark_current_run(_contained):
        yield


def contained_run_ids() -> set[UUID]:
    """Return the ids of the flow runs inside ``after_containment``."""
    with _waiting_lock:
        return set(_contained)


# Creates of flow runs in this process that the Prefect API rejected and that are
# being retried.
_retrying_creates = 0
_retrying_lock = threading.Lock()


@contextmanager
def retrying_create() -> Iterator[None]:
    """Mark that this process retries a create of a flow run that was rejected.

    While a create is marked, an ``InProcessRunner`` of this process starts no
    new runs, so that the writes of this process drop while the create retries.
    A SQLite-backed Prefect server rejects a create (503) whenever another write
    commits during it: in tests/test_flood.py on 2 cores at load average 12, one
    intake's create was rejected for 88 s while new runs kept starting.
    """
    global _retrying_creates
    with _retrying_lock:
        _retrying_creates += 1
    try:
        yield
    finally:
        with _retrying_lock:
            _retrying_creates -= 1


def creates_retrying() -> bool:
    """Return True while a create of this process is inside ``retrying_create``."""
    with _retrying_lock:
        return _retrying_creates > 0


class InProcessRunner:
    """Polls for the runs of some deployments and runs each in a thread.

    ``flows`` maps a flow's name to the flow object that runs the deployments of
    that flow. ``limit`` is the maximum number of runs executing at once. A run
    paused for approval keeps its thread while it waits for a person. It does not
    count against ``limit``, so waiting incidents cannot hold back the containment
    of a new one. Nor does a run inside ``waiting_for_other_runs``.
    ``MAX_THREADS`` bounds the threads.
    """

    def __init__(
        self,
        deployments: Sequence[Any],
        flows: dict[str, Any],
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError(
                f"poll interval {poll_seconds} s is not positive; use a value such "
                f"as {DEFAULT_POLL_SECONDS}"
            )
        if limit < 1:
            raise ValueError(f"run limit {limit} is below 1; use 1 or more")
        missing = sorted({d.flow_name for d in deployments} - set(flows))
        if missing:
            raise ValueError(f"no flow object given for deployments of {missing}")
        self.deployments = list(deployments)
        self.flows = flows
        self.poll_seconds = poll_seconds
        self.limit = limit
        self._flow_by_deployment: dict[UUID, Any] = {}
        self._in_flight: dict[UUID, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # Set when a run ends or the runner stops, so that a free slot is filled
        # at once instead of at the next poll.
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self._marked_ready = float("-inf")

    @property
    def deployment_ids(self) -> list[UUID]:
        return list(self._flow_by_deployment)

    def start(self, preload: Iterable[str] = ()) -> None:
        """Register the deployments, import ``preload`` modules and start polling.

        Importing the modules a run needs (such as the SDK clients) now keeps that
        time out of the first run.
        """
        for name in preload:
            importlib.import_module(name)
        for deployment in self.deployments:
            deployment_id = deployment.apply()
            self._flow_by_deployment[deployment_id] = self.flows[deployment.flow_name]
            logger.info(
                "serving %s/%s in this process (deployment %s)",
                deployment.flow_name,
                deployment.name,
                deployment_id,
            )
        # Prefect keeps temporary settings (such as a test's API URL) in context
        # variables, which a new thread would not see.
        context = contextvars.copy_context()
        self._poller = threading.Thread(
            target=context.run,
            args=(self._poll_loop,),
            name="inprocess-poller",
            daemon=True,
        )
        self._poller.start()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop polling, wait ``grace`` seconds for runs, mark the rest Crashed."""
        self._stopping.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(timeout=self.poll_seconds + 30)
        deadline = time.monotonic() + grace
        for thread in self._threads():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = [run_id for run_id, t in self._in_flight.items() if t.is_alive()]
        if left:
            self._crash(left)

    def _threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._in_flight.values())

    def _poll_loop(self) -> None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            while not self._stopping.is_set():
                try:
                    self._poll_once(client)
                except Exception as error:  # noqa: BLE001 - logged, then retried
                    logger.warning(
                        "polling the Prefect API failed (%s: %s); retrying in %.0f s",
                        type(error).__name__,
                        error,
                        API_RETRY_SECONDS,
                    )
                    self._stopping.wait(API_RETRY_SECONDS)
                    continue
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _poll_once(self, client: Any) -> None:
        """Claim and start the scheduled runs that are due, up to the free slots.

        NOTE: runs in Cancelling state are not looked for, because a thread cannot
        be stopped from outside; such a run ends when its flow returns.
        """
        free = self._free_slots(client)
        runs = self._scheduled_runs(client, max(free, 1))
        if free <= 0:
            return
        for run in sorted(runs, key=lambda r: r.expected_start_time or r.created):
            if run.id in self._in_flight or not self._claim(client, run.id):
                continue
            thread = threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._execute, run.id),
                name=f"flow-run-{run.id}",
                daemon=True,
            )
            with self._lock:
                self._in_flight[run.id] = thread
            thread.start()

    def _scheduled_runs(self, client: Any, limit: int) -> list[Any]:
        """Return up to ``limit`` scheduled runs of the deployments that are due.

        Every MARK_READY_SECONDS this asks the endpoint that also marks the
        deployments ready, even when no slot is free; the other polls read only.
        """
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterDeploymentId,
            FlowRunFilterNextScheduledStartTime,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.sorting import FlowRunSort

        due = datetime.now(UTC) + timedelta(seconds=1)
        if time.monotonic() - self._marked_ready >= MARK_READY_SECONDS:
            runs = client.get_scheduled_flow_runs_for_deployments(
                deployment_ids=self.deployment_ids, scheduled_before=due, limit=limit
            )
            self._marked_ready = time.monotonic()
            return list(runs)
        return list(
            client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=self.deployment_ids),
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    ),
                    next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(
                        before_=due
                    ),
                ),
                sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
                limit=limit,
            )
        )

    def _free_slots(self, client: Any) -> int:
        """Return how many more runs may start.

        Runs paused for approval, runs waiting for other runs and runs past
        containment do not count. None may start while a create of this process is
        retried.
        """
        with self._lock:
            for run_id in [r for r, t in self._in_flight.items() if not t.is_alive()]:
                del self._in_flight[run_id]
            in_flight = list(self._in_flight)
        if creates_retrying():
            return 0
        waiting = waiting_run_ids() | contained_run_ids()
        busy = [run_id for run_id in in_flight if run_id not in waiting]
        free = self.limit - len(busy)
        if free <= 0 and busy:
            free += self._count_paused(client, busy)
        return min(free, MAX_THREADS - len(in_flight))

    @staticmethod
    def _count_paused(client: Any, run_ids: list[UUID]) -> int:
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterId,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=run_ids),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                ),
            )
        )
        return len(runs)

    def _claim(self, client: Any, run_id: UUID) -> bool:
        """Move the run to Pending; return False when another runner has it."""
        from prefect.exceptions import Abort
        from prefect.states import Pending
        from prefect.utilities.engine import propose_state_sync

        try:
            state = propose_state_sync(client, Pending(), flow_run_id=run_id)
        except Abort as error:
            logger.info("flow run %s was not claimed: %s", run_id, error)
            return False
        return state.is_pending()

    def _execute(self, run_id: UUID) -> None:
        from prefect.client.orchestration import get_client
        from prefect.flow_engine import run_flow

        started = time.monotonic()
        try:
            with get_client(sync_client=True) as client:
                flow_run = client.read_flow_run(run_id)
            flow = self._flow_by_deployment[flow_run.deployment_id]
            logger.info("flow run %s (%s) starting", run_id, flow_run.name)
            state = run_flow(flow, flow_run=flow_run, return_type="state")
        except BaseException as error:  # noqa: BLE001 - the run is marked, then logged
            logger.exception("flow run %s failed outside its flow", run_id)
            self._crash([run_id], f"{type(error).__name__}: {error}")
            return
        finally:
            with self._lock:
                self._in_flight.pop(run_id, None)
            self._wake.set()
        logger.info(
            "flow run %s ended %s after %.1f s",
            run_id,
            getattr(state, "type", "UNKNOWN"),
            time.monotonic() - started,
        )

    def _crash(self, run_ids: list[UUID], reason: str | None = None) -> None:
        from prefect.client.orchestration import get_client
        from prefect.states import Crashed

        message = reason or (
            "The serving process stopped during this run. Start the response "
            "again: steps it finished are not repeated."
        )
        with get_client(sync_client=True) as client:
            for run_id in run_ids:
                try:
                    client.set_flow_run_state(run_id, Crashed(message=message))
                except Exception as error:  # noqa: BLE001 - best effort at shutdown
                    logger.warning(
                        "could not mark flow run %s crashed: %s", run_id, error
                    )
                else:
                    logger.warning("flow run %s marked crashed: %s", run_id, message)
