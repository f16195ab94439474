"""The flow ``alert_intake``: turn an alert into responses, one per AccessKey.

``alert_intake(payload, source_hint)`` parses the payload with
``akresponder.alerts.parse_alert_with_rejected`` and, for each AccessKey ID it
names:

* skips a temporary STS key, which expires by itself and which RAM cannot disable;
* attaches the alert to an existing incident when a response for the key is
  active (scheduled, running or paused) or completed within the dedupe window
  (``dedupe_window_hours``, else ``$AKRESPONDER_ALERT_DEDUPE_HOURS``, else 24 h).
  Responses are found by the flow-run tag ``key:<id>``. When the key has no
  tagged response run at all (a response started from the command line), an
  incident journal under the state directory updated within the window counts;
* otherwise starts ``respond_to_compromised_key``: through ``run_deployment`` of
  ``response_deployment`` when the Prefect API has that deployment, else as a
  subflow in this process. The run gets the tags ``akresponder``, ``key:<id>``
  and ``incident:<id>`` and, through a deployment, the idempotency key
  ``respond-<key>-<incident>``.

A lock file per key under the state directory serializes concurrent intakes for
the same key on one machine, so two alerts that arrive together start one
response. The flow publishes what it did per key as the markdown artifact
``alert-intake`` and returns it. When a response failed to start, the run fails
after the artifact with ``IntakeFailed`` and a notification is sent, so that the
alert is not lost without a trace.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from prefect import Flow, get_run_logger, tags
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel

from akresponder import notify, redact
from akresponder.alerts import (
    AlertedKey,
    AlertFormatError,
    AlertIgnored,
    alert_id_of,
    describe_sources,
    mask_payload,
    parse_alert,
    parse_alert_with_rejected,
)
from akresponder.approvals import ApprovalSettings
from akresponder.journal import default_state_dir

DEFAULT_RESPONSE_DEPLOYMENT = "respond-to-compromised-key/respond"
RESPONSE_FLOW_NAME = "respond-to-compromised-key"
ENV_DEDUPE_HOURS = "AKRESPONDER_ALERT_DEDUPE_HOURS"
DEFAULT_DEDUPE_HOURS = 24.0
RUN_TAG = "akresponder"
# Seconds to keep trying to create a response run while the Prefect API is busy
# or drops the connection. The wait between tries starts at the base delay and
# doubles up to the maximum, jittered by 0.5 to 1.5 times. One log line is written
# per START_LOG_EVERY failed tries.
START_SECONDS = 120.0
START_BASE_DELAY = 0.1
START_MAX_DELAY = 2.0
START_LOG_EVERY = 10
# Prefect state types of a response that is still under way.
ACTIVE_STATES = frozenset({"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"})
_LOCK_NAME = re.compile(r"[^A-Za-z0-9._-]")
# Exit statuses of ``akresponder alert``, the same as ``akresponder respond``'s.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEEDS_PERSON = 3


class IntakeFailed(RuntimeError):
    """A response failed to start for at least one key of the alert.

    ``result`` is what the flow would have returned, with the failed outcomes.
    """

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def busy_status(status: int) -> bool:
    """Return True for the statuses of a busy Prefect API: 429 and 5xx.

    A SQLite-backed server returns 503 while its database is locked, and 500 for
    other database errors.
    """
    return status == 429 or status >= 500


class IntakeOutcome(BaseModel):
    """The action the intake took for one AccessKey of the alert, and why.

    A ``rejected`` outcome is an entry of the alert that is no valid AccessKey ID.
    Its ``access_key_id`` is empty, ``location`` is the entry's place in the
    payload and ``reason`` states what is wrong with it. For a started or
    attached response, ``response_state`` is its Prefect state type
    (``COMPLETED``, ``PAUSED``...), and ``response_path`` and
    ``response_complete`` are the report's path and complete flag once it has
    finished. They are None while they are unknown.
    """

    access_key_id: str
    alert_id: str
    source_kind: str
    action: Literal["started", "attached", "skipped", "failed", "rejected"]
    location: str = ""
    response_state: str | None = None
    response_path: str | None = None
    response_complete: bool | None = None
    incident_id: str | None = None
    flow_run_id: str | None = None
    reason: str = ""
    summary: str = ""


def key_tags(access_key_id: str, incident_id: str) -> list[str]:
    """Return the tags of every run of one incident."""
    return [RUN_TAG, f"key:{access_key_id}", f"incident:{incident_id}"]


def dedupe_window(hours: float | None) -> timedelta:
    """Return the dedupe window from the argument, the environment or 24 h."""
    if hours is None:
        text = os.environ.get(ENV_DEDUPE_HOURS, "").strip()
        try:
            hours = float(text) if text else DEFAULT_DEDUPE_HOURS
        except ValueError:
            raise ValueError(
                f"{ENV_DEDUPE_HOURS}={text!r} is not a number of hours; set it to "
                "a number such as 24, or unset it"
            ) from None
    if hours < 0:
        raise ValueError(f"dedupe window of {hours} h is negative; use 0 or more")
    return timedelta(hours=hours)


@contextmanager
def key_lock(state_dir: Path, access_key_id: str) -> Iterator[None]:
    """Hold an exclusive lock for ``access_key_id`` across processes of this host."""
    folder = state_dir / ".locks"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{_LOCK_NAME.sub('_', access_key_id)}.lock"
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _incident_from_tags(run_tags: list[str]) -> str | None:
    for tag in run_tags:
        if tag.startswith("incident:"):
            return tag.removeprefix("incident:")
    return None


def find_response_run(
    access_key_id: str, window: timedelta, now: datetime
) -> tuple[tuple[Any, str] | None, bool]:
    """Look up the response runs tagged ``key:<id>``.

    Returns the active or recently completed run with the reason (or None), and
    whether any tagged response run exists at all.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[RESPONSE_FLOW_NAME])),
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"key:{access_key_id}"])
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=20,
        )
    for run in runs:
        state = run.state.type.value if run.state else "UNKNOWN"
        if state in ACTIVE_STATES:
            return (run, f"response run {run.name} is {state.lower()}"), True
        ended = run.end_time or run.expected_start_time
        if state == "COMPLETED" and ended is not None and now - ended <= window:
            reason = f"response run {run.name} completed at {ended:%Y-%m-%d %H:%M}Z"
            return (run, reason), True
    return None, bool(runs)


def find_recent_journal(
    access_key_id: str, state_dir: Path, window: timedelta, now: datetime
) -> tuple[str, str] | None:
    """Return (incident id, reason) when the key's journal changed within ``window``.

    Reads the journal without opening it through ``Journal.open``, which would
    count a new run.
    """
    path = state_dir / f"{access_key_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return None
    updated = data.get("updated_at") if isinstance(data, dict) else None
    incident = data.get("incident_id") if isinstance(data, dict) else None
    if not isinstance(updated, str) or not incident:
        return None
    try:
        moment = datetime.fromisoformat(updated.replace("Z", "+00:00"))
    except ValueError:
        return None
    if now - moment > window:
        return None
    return str(incident), f"incident journal {path.name} was updated at {updated}"


_REPORT_PATH_LINE = re.compile(r"^- Path: \*\*(\w+)\*\*", re.MULTILINE)
_REPORT_COMPLETE_LINE = re.compile(r"^- Complete: (yes|no)\b", re.MULTILINE)


def response_from_artifact(
    flow_run_id: UUID, access_key_id: str
) -> tuple[str | None, bool | None]:
    """Return the path and complete flag of a finished response run, or Nones.

    They are read from the run's markdown artifact ``incident-<key>``, whose
    ``- Path: **<path>**`` and ``- Complete: yes|no`` lines
    ``akresponder.report.render_markdown`` writes. The artifact is in Prefect, so
    this works for a run that a worker on another machine ran.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=[f"incident-{access_key_id.lower()}"]),
            ),
            limit=1,
        )
    if not artifacts or not isinstance(artifacts[0].data, str):
        return None, None
    path = _REPORT_PATH_LINE.search(artifacts[0].data)
    complete = _REPORT_COMPLETE_LINE.search(artifacts[0].data)
    return (
        path.group(1) if path else None,
        complete.group(1) == "yes" if complete else None,
    )


def response_from_report(
    state_dir: Path, access_key_id: str, incident_id: str
) -> tuple[str | None, bool | None]:
    """Return the path and complete flag of an incident's report file, or Nones.

    The response writes ``<key>.<incident>.report.json`` (``.dry-run.report.json``
    for a dry run) under its state directory unless it was given another report
    path. The newer of the two is read.
    """
    candidates = [
        state_dir / f"{access_key_id}.{incident_id}{suffix}.report.json"
        for suffix in ("", ".dry-run")
    ]
    existing = [path for path in candidates if path.is_file()]
    if not existing:
        return None, None
    newest = max(existing, key=lambda path: path.stat().st_mtime)
    try:
        report = json.loads(newest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, None
    if not isinstance(report, dict):
        return None, None
    decision = report.get("decision")
    path = decision.get("path") if isinstance(decision, dict) else None
    complete = report.get("complete")
    return (
        path if isinstance(path, str) else None,
        complete if isinstance(complete, bool) else None,
    )


def _deployment_id(name: str) -> UUID | None:
    """Return the id of the deployment ``flow/name``, or None when it does not exist."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name).id
        except ObjectNotFound:
            return None


def _start_through_deployment(
    deployment_id: UUID,
    parameters: dict[str, Any],
    run_tags: list[str],
    idempotency: str,
    log: logging.Logger | logging.LoggerAdapter,
) -> tuple[str, str | None]:
    """Create the response run and return its id and the incident of its tags.

    A busy SQLite-backed Prefect server returns 503 at once when two writes
    overlap, and the Prefect 3.9 client waits 2, 4, 8, 16 and 32 s between its own
    retries, so one intake could wait a minute while the attacker goes on. The
    client's retries are therefore off here, and a busy status (429, 5xx) or a dropped
    connection is retried after 0.1 to 2 s, for up to START_SECONDS. Meanwhile the
    in-process runner of ``deployments.serve`` starts no new runs, whose writes
    would make the retries fail too. The idempotency key makes a repeated create
    return the same run. The run is not linked as a subflow of the intake, because
    that link costs a task-run write before the run exists. The intake's artifact
    and the run's tags link them.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from deployments.inprocess import retrying_create

    deadline = time.monotonic() + START_SECONDS
    failures = 0
    with (
        ExitStack() as retrying,
        temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True) as client,
    ):
        while True:
            try:
                flow_run = client.create_flow_run_from_deployment(
                    deployment_id,
                    parameters={"params": parameters},
                    tags=run_tags,
                    idempotency_key=idempotency,
                )
            except (PrefectHTTPStatusError, httpx.TransportError) as error:
                if isinstance(error, PrefectHTTPStatusError):
                    if not busy_status(error.response.status_code):
                        raise
                    reason = f"HTTP {error.response.status_code}"
                else:
                    reason = type(error).__name__
                failures += 1
                if failures == 1:
                    retrying.enter_context(retrying_create())
                delay = min(START_MAX_DELAY, START_BASE_DELAY * 2 ** (failures - 1))
                delay *= 0.5 + random.random()
                if time.monotonic() + delay > deadline:
                    raise
                if failures % START_LOG_EVERY == 1:
                    log.warning(
                        "Prefect API busy or unreachable (%s) creating %s; try %d "
                        "failed, retrying for up to %.0f s more",
                        reason,
                        idempotency,
                        failures,
                        deadline - time.monotonic(),
                    )
                time.sleep(delay)
                continue
            return str(flow_run.id), _incident_from_tags(list(flow_run.tags or []))


def _start_as_subflow(
    parameters: dict[str, Any], run_tags: list[str]
) -> tuple[str | None, dict[str, Any]]:
    """Run the response in this process; return its run id and report."""
    from flows.respond import ResponseRequest, respond_to_compromised_key

    with tags(*run_tags):
        state = respond_to_compromised_key(
            ResponseRequest(**parameters), return_state=True
        )
    run_id = state.state_details.flow_run_id
    report = state.result(raise_on_failure=True)
    return (str(run_id) if run_id else None), report


class Intake:
    """The state of one run of ``alert_intake``."""

    def __init__(
        self,
        *,
        response_deployment: str,
        window: timedelta,
        state_dir: Path,
        response_parameters: dict[str, Any],
    ) -> None:
        self.log = get_run_logger()
        self.response_deployment = response_deployment
        self.window = window
        self.state_dir = state_dir
        self.response_parameters = response_parameters
        self.deployment_id = _deployment_id(response_deployment)

    def handle(self, key: AlertedKey) -> IntakeOutcome:
        """Start, attach or skip the response for one alerted key."""
        outcome = IntakeOutcome(
            access_key_id=key.access_key_id,
            alert_id=key.alert_id,
            source_kind=key.source_kind,
            action="skipped",
            summary=key.summary,
        )
        if key.access_key_id.startswith("STS."):
            outcome.reason = (
                "temporary STS key: it expires by itself and RAM cannot disable it; "
                "respond to the AccessKey that assumed the role"
            )
            return outcome
        with key_lock(self.state_dir, key.access_key_id):
            if self._attach(key, outcome):
                return outcome
            return self._start(key, outcome)

    def _attach(self, key: AlertedKey, outcome: IntakeOutcome) -> bool:
        now = datetime.now(UTC)
        found, tagged_runs = find_response_run(key.access_key_id, self.window, now)
        if found is not None:
            run, reason = found
            outcome.action = "attached"
            outcome.flow_run_id = str(run.id)
            outcome.incident_id = _incident_from_tags(list(run.tags or []))
            outcome.reason = reason
            outcome.response_state = run.state.type.value if run.state else None
            if outcome.response_state == "COMPLETED":
                outcome.response_path, outcome.response_complete = (
                    response_from_artifact(run.id, key.access_key_id)
                )
        elif tagged_runs:
            # The tagged runs failed, crashed, were cancelled or are old: start a
            # new response, which resumes from the journal.
            return False
        else:
            # Responses started without tags (the CLI) leave only their journal.
            journal = find_recent_journal(
                key.access_key_id, self.state_dir, self.window, now
            )
            if journal is None:
                return False
            outcome.action = "attached"
            outcome.incident_id, outcome.reason = journal
        if outcome.response_path is None and outcome.incident_id:
            outcome.response_path, outcome.response_complete = response_from_report(
                self.state_dir, key.access_key_id, outcome.incident_id
            )
        self.log.info(
            "Alert attached alert_id=%s access_key_id=%s incident=%s: %s",
            key.alert_id,
            key.access_key_id,
            outcome.incident_id,
            outcome.reason,
        )
        notify.send(
            f"{notify.SUBJECT_PREFIX}: new alert for {key.access_key_id} "
            f"({outcome.incident_id or 'open incident'})",
            f"Alert {key.alert_id}: {key.summary}\n"
            f"Attached to the open incident because {outcome.reason}.",
        )
        return True

    def _start(self, key: AlertedKey, outcome: IntakeOutcome) -> IntakeOutcome:
        from flows.respond import make_incident_id

        incident = make_incident_id(key.access_key_id)
        parameters = {
            **self.response_parameters,
            "access_key_id": key.access_key_id,
            "incident_id": incident,
        }
        run_tags = [*key_tags(key.access_key_id, incident), f"alert:{key.source_kind}"]
        outcome.incident_id = incident
        try:
            if self.deployment_id is not None:
                run_id, tagged = _start_through_deployment(
                    self.deployment_id,
                    parameters,
                    run_tags,
                    f"respond-{key.access_key_id}-{incident}",
                    self.log,
                )
                outcome.incident_id = tagged or incident
                outcome.reason = f"started deployment {self.response_deployment}"
                outcome.response_state = "SCHEDULED"
            else:
                run_id, report = _start_as_subflow(parameters, run_tags)
                decision = report.get("decision") or {}
                reasons = decision.get("reasons") or [""]
                outcome.response_state = "COMPLETED"
                outcome.response_path = decision.get("path")
                outcome.response_complete = bool(report.get("complete"))
                outcome.reason = (
                    f"ran as a subflow (no deployment {self.response_deployment}): "
                    f"path {decision.get('path')}, "
                    f"complete {'yes' if report.get('complete') else 'no'}. "
                    f"{reasons[0]}"
                ).strip()
        except Exception as error:  # noqa: BLE001 - one key's failure is reported
            outcome.action = "failed"
            outcome.reason = redact.scrub_text(f"{type(error).__name__}: {error}")
            self.log.error(
                "Response failed to start alert_id=%s access_key_id=%s incident=%s: %s",
                key.alert_id,
                key.access_key_id,
                incident,
                outcome.reason,
            )
            return outcome
        outcome.action = "started"
        outcome.flow_run_id = run_id
        self.log.info(
            "Response started alert_id=%s access_key_id=%s incident=%s flow_run=%s",
            key.alert_id,
            key.access_key_id,
            outcome.incident_id,
            run_id,
        )
        return outcome


def render_outcomes(alert_id: str, outcomes: list[IntakeOutcome]) -> str:
    """Return the markdown of the intake artifact."""
    lines = [
        f"# Alert {alert_id}",
        "",
        "| AccessKey ID | action | incident | flow run | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in outcomes:
        reason = item.reason.replace("|", "/")
        lines.append(
            f"| {item.access_key_id or item.location} | {item.action} | "
            f"{item.incident_id or '-'} | "
            f"{item.flow_run_id or '-'} | {reason} |"
        )
    summaries = [item.summary for item in outcomes if item.summary]
    if summaries:
        lines += ["", "## Alert", ""] + [f"- {text}" for text in summaries]
    return "\n".join(lines)


class PayloadMaskingFlow(Flow):
    """A flow whose stored ``payload`` parameter has its secrets masked.

    Prefect stores the parameters of a flow called in this process as
    ``serialize_parameters`` returns them, before the flow's code runs, and passes
    the unmasked values to the flow. Callers mask the payload with
    ``mask_payload`` before the call; this catches a caller that did not. A run
    created through the API (``run_deployment``, the receiver) stores what its
    creator sent, which this class cannot change. ``with_options`` returns a plain
    ``Flow`` without this masking.
    """

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        serialized = super().serialize_parameters(parameters)
        if "payload" in serialized:
            try:
                serialized["payload"] = mask_payload(serialized["payload"])
            except AlertFormatError:
                # Undecodable text: the flow fails on it, and nothing of it is kept.
                serialized["payload"] = "<payload not stored: not valid JSON>"
        return serialized


def alert_intake(
    payload: dict[str, Any] | list[Any] | str,
    source_hint: str | None = None,
    response_deployment: str = DEFAULT_RESPONSE_DEPLOYMENT,
    dedupe_window_hours: float | None = None,
    dry_run: bool = False,
    state_dir: str | None = None,
    settings_block: str | None = None,
    credentials_block: str | None = None,
    approval: ApprovalSettings | None = None,
) -> dict[str, Any]:
    """Start or attach a response for every AccessKey the alert names.

    ``response_deployment`` (``flow/deployment``) runs each response when it
    exists; ``dedupe_window_hours`` is how long after a response a new alert for
    the same key attaches to it. ``dry_run``, ``state_dir``, ``settings_block``,
    ``credentials_block`` and ``approval`` are passed on to each response. Only
    the ``approval`` fields that were given are passed, so the timeout and its
    ``on_timeout`` decision still come from the settings block unless set here.

    Returns ``{"alert_id", "ignored", "outcomes": [IntakeOutcome as dict]}``.
    Raises ``AlertFormatError`` when the payload names no valid key, and
    ``IntakeFailed`` after the artifact when a response failed to start.
    """
    redact.install()
    log = get_run_logger()
    try:
        parsed = parse_alert_with_rejected(payload, source_hint)
    except AlertIgnored as ignored:
        log.info("Alert ignored: %s", ignored)
        return {"alert_id": None, "ignored": str(ignored), "outcomes": []}

    folder = Path(state_dir).expanduser() if state_dir else default_state_dir()
    response_parameters: dict[str, Any] = {"dry_run": dry_run}
    for name, value in (
        ("state_dir", state_dir),
        ("settings_block", settings_block),
        ("credentials_block", credentials_block),
    ):
        if value:
            response_parameters[name] = value
    if approval is not None:
        response_parameters["approval"] = approval.model_dump(
            mode="json", exclude_unset=True
        )
    keys = parsed.keys
    alert_id = alert_id_of(keys)
    intake = Intake(
        response_deployment=response_deployment,
        window=dedupe_window(dedupe_window_hours),
        state_dir=folder,
        response_parameters=response_parameters,
    )
    log.info(
        "Alert received alert_id=%s source=%s keys=%s deployment=%s",
        alert_id,
        keys[0].source_kind,
        ",".join(key.access_key_id for key in keys),
        response_deployment if intake.deployment_id else "(subflow)",
    )
    outcomes = [intake.handle(key) for key in keys]
    for entry in parsed.rejected:
        log.warning(
            "Alert entry rejected alert_id=%s location=%s: %s",
            alert_id,
            entry.location,
            entry.problem,
        )
        outcomes.append(
            IntakeOutcome(
                access_key_id="",
                alert_id=alert_id,
                source_kind=entry.source_kind,
                action="rejected",
                location=entry.location,
                reason=entry.problem,
            )
        )
    create_markdown_artifact(
        key="alert-intake",
        markdown=render_outcomes(alert_id, outcomes),
        description=f"akresponder alert {alert_id}",
    )
    result = {
        "alert_id": alert_id,
        "ignored": None,
        "outcomes": [item.model_dump(mode="json") for item in outcomes],
    }
    failed = [item.access_key_id for item in outcomes if item.action == "failed"]
    if failed:
        message = (
            f"the response failed to start for {', '.join(failed)} (alert "
            f"{alert_id}); see the alert-intake artifact for the errors, "
            "then start each response (akresponder respond KEY) or deliver the "
            "alert again"
        )
        notify.send(f"{notify.SUBJECT_PREFIX}: response not started", message)
        raise IntakeFailed(message, result)
    return result


alert_intake = PayloadMaskingFlow(  # type: ignore[assignment]
    alert_intake, name="alert-intake", persist_result=False, log_prints=False
)


# Command line: ``akresponder alert FILE``.


def add_alert_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``akresponder alert`` to ``parser``."""
    parser.add_argument(
        "payload",
        metavar="FILE",
        help="file with the alert payload as the sender posts it, or - for stdin",
    )
    parser.add_argument(
        "--source",
        metavar="KIND",
        help=f"sender of the payload: {describe_sources()} (default: detected "
        "from the shape)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="plan each response, change nothing"
    )
    parser.add_argument(
        "--response-deployment",
        default=DEFAULT_RESPONSE_DEPLOYMENT,
        metavar="FLOW/NAME",
        help="deployment that runs each response when the Prefect API has it; "
        "otherwise the response runs in this process (default: %(default)s)",
    )
    parser.add_argument(
        "--dedupe-hours",
        type=float,
        metavar="HOURS",
        help=f"hours after a response during which a new alert attaches to it "
        f"(default: ${ENV_DEDUPE_HOURS} or {DEFAULT_DEDUPE_HOURS:g})",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="folder of the incident journals"
    )
    parser.add_argument(
        "--settings-block", metavar="NAME", help="saved akresponder-settings block"
    )
    parser.add_argument(
        "--credentials-block", metavar="NAME", help="saved credentials block"
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve every approval request of each response (delete keys, "
        "detach policies) without asking",
    )
    parser.add_argument(
        "--approval-timeout",
        type=int,
        metavar="SECONDS",
        help="seconds a served response waits for an approval before its "
        "on_timeout decision applies (default: the settings block's, else 3600)",
    )


def _approval_from_args(args: argparse.Namespace) -> ApprovalSettings | None:
    """Build the responses' approval settings from the options that were given.

    Raises ``ValueError`` naming the option and the accepted range.
    """
    from pydantic import ValidationError

    values: dict[str, Any] = {}
    if getattr(args, "auto_approve", False):
        values["auto_approve"] = True
    timeout = getattr(args, "approval_timeout", None)
    if timeout is not None:
        values["timeout_seconds"] = timeout
    if not values:
        return None
    try:
        return ApprovalSettings(**values)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        raise ValueError(
            f"invalid --approval-timeout {timeout}: {reason} (whole seconds)"
        ) from None


def run_alert_cli(args: argparse.Namespace) -> int:
    """Run ``alert_intake`` on a payload file and print one line per key.

    Returns 2 for an unreadable or unrecognised payload, and otherwise the
    status ``exit_status`` derives from the outcomes.
    """
    try:
        if args.payload == "-":
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(args.payload).expanduser().read_bytes()
    except OSError as error:
        print(
            f"akresponder: cannot read {args.payload}: {error.strerror}",
            file=sys.stderr,
        )
        return 2
    try:
        # Prefect stores the payload with the run, so its secrets are masked first.
        payload = mask_payload(raw)
        parse_alert(payload, args.source)  # reject a bad payload before Prefect starts
    except AlertFormatError as error:
        print(f"akresponder: {error}", file=sys.stderr)
        return 2
    except AlertIgnored as ignored:
        print(f"Alert ignored: {ignored}")
        return 0
    try:
        approval = _approval_from_args(args)
    except ValueError as error:
        print(f"akresponder: {error}", file=sys.stderr)
        return 2

    state = alert_intake(
        payload,
        source_hint=args.source,
        response_deployment=args.response_deployment,
        dedupe_window_hours=args.dedupe_hours,
        dry_run=args.dry_run,
        state_dir=args.state_dir,
        settings_block=args.settings_block,
        credentials_block=args.credentials_block,
        approval=approval,
        return_state=True,
    )
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, IntakeFailed):
        result = outcome.result
    elif isinstance(outcome, BaseException):
        raise outcome
    else:
        result = outcome
    print(f"Alert {result['alert_id']}")
    for item in result["outcomes"]:
        print(f"  {outcome_line(item)}")
        if item["reason"]:
            print(f"    {item['reason']}")
    return exit_status(result["outcomes"])


def outcome_line(item: dict[str, Any]) -> str:
    """Return the one-line summary of an outcome that ``akresponder alert`` prints."""
    if item["action"] == "rejected":
        return f"{item['location']}: rejected"
    line = (
        f"{item['access_key_id']}: {item['action']}"
        f" incident={item['incident_id'] or '-'}"
        f" flow_run={item['flow_run_id'] or '-'}"
    )
    if item["action"] in ("started", "attached"):
        state = item.get("response_state") or "unknown"
        complete = {None: "-", True: "yes", False: "no"}[item.get("response_complete")]
        line += (
            f" state={state.lower()}"
            f" path={item.get('response_path') or '-'}"
            f" complete={complete}"
        )
    return line


def exit_status(outcomes: list[dict[str, Any]]) -> int:
    """Return the exit status of ``akresponder alert`` for the intake's outcomes.

    The statuses are those of ``akresponder respond``, checked in this order: 1
    when a response failed to start, and 3 when a started or attached response
    needs a person. It needs one when it finished incomplete or waits paused for
    an approval. Then 2 when an entry was rejected, else 0. A response still
    scheduled or running counts as 0.
    """
    actions = {item["action"] for item in outcomes}
    if "failed" in actions:
        return EXIT_FAILED
    for item in outcomes:
        if item["action"] not in ("started", "attached"):
            continue
        if item.get("response_complete") is False:
            return EXIT_NEEDS_PERSON
        if item.get("response_state") == "PAUSED":
            return EXIT_NEEDS_PERSON
    if "rejected" in actions:
        return EXIT_USAGE
    return 0
