"""The flow ``sweep_all_keys``: assess every AccessKey of the account and rank the risk.

Steps:

1. Identify the responder (STS GetCallerIdentity) and list every RAM user, paging
   ListUsers to the last page.
2. Assess the users in batches: one Prefect task run per ``users_per_batch`` users,
   each calling RAM from ``workers_per_batch`` threads, at most ``batch_concurrency``
   batches at a time. A token bucket per RAM action keeps the calls under
   ``ram_calls_per_second``, and throttled calls are retried with backoff. Users
   whose calls still fail with a retryable error get a second pass at the end. The
   flow then checks that every listed user was assessed or is reported as failed
   with the reason.
3. Meanwhile one ActionTrail task at a time searches the account's recent
   CreateAccessKey calls and (when the responder is not the root) root activity,
   then compares the recent and earlier use of each key used in the last day.
4. Score every key (``akresponder.sweep``), write the JSON document, publish a table
   and a markdown artifact, and, with ``start_responses``, start the response
   deployment for each high-scoring key (never auto-approved).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from akresponder import redact
from akresponder.config import CloudConnection, resolve_connection
from akresponder.errors import CloudError
from akresponder.retry import default_policy
from akresponder.sweep import (
    KeyAssessment,
    KeyFacts,
    SweepSettings,
    UsageChange,
    assess_key,
    creations_by_key,
    iso,
    needs_usage_check,
    root_keys_from_events,
)
from akresponder.sweep_collect import (
    AccountEvents,
    BatchResult,
    CallStats,
    RamReader,
    UserFailure,
    UserRecord,
    key_facts,
    read_keys,
)
from akresponder.sweep_report import (
    SCHEMA,
    key_row,
    render_markdown,
    sort_rows,
    table_rows,
    totals,
    write_document,
)
from akresponder.triage import identify_responder
from flows.sweep_tasks import (
    assess_user_batch,
    check_key_usage,
    list_ram_users,
    search_account_events_task,
)

DEFAULT_REPORT_DIR = "~/.akresponder/sweeps"
# Batches in flight plus the one ActionTrail task. The scheduler never submits more.
MAX_TASK_WORKERS = 17
# Pause before the second pass, so that a throttled account's rate-limit window can
# refill. The pause is never longer than the retry policy's longest wait.
RETRY_PASS_PAUSE_SECONDS = 2.0


class SweepRequest(BaseModel):
    """The parameters of a sweep, shown as one form in the Prefect UI."""

    report_path: str | None = Field(
        default=None,
        description="Where to write the JSON document; default "
        "~/.akresponder/sweeps/sweep-<UTC time>.json.",
    )
    start_responses: bool = Field(
        default=False,
        description="Start the response deployment for every key scoring at least "
        "settings.high_score. The responses still wait for their approvals.",
    )
    settings: SweepSettings = Field(default_factory=SweepSettings)
    credentials_block: str | None = Field(
        default=None,
        description="Name of a saved alibaba-cloud-credentials block; default is "
        "Alibaba's credential chain (environment, profile files).",
    )


def default_report_path(now: datetime) -> Path:
    """Return ``~/.akresponder/sweeps/sweep-<UTC time>.json``."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return Path(DEFAULT_REPORT_DIR).expanduser() / f"sweep-{stamp}.json"


# --- the run -------------------------------------------------------------------------


class SweepRun:
    """The state of one sweep; ``execute`` runs the steps of the module docstring."""

    def __init__(self, params: SweepRequest) -> None:
        self.params = params
        self.settings = params.settings
        self.log = get_run_logger()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.started = time.monotonic()
        self.connection = self._connection()
        policy = dataclasses.replace(
            default_policy(), max_attempts=self.settings.retry_max_attempts
        )
        self.reader = RamReader(
            self.connection,
            calls_per_second=self.settings.ram_calls_per_second,
            policy=policy,
        )
        self.stats = CallStats()
        self.records: dict[str, UserRecord] = {}
        self.failures: dict[str, UserFailure] = {}
        self.retried_users: list[str] = []
        self.usage: dict[str, UsageChange] = {}
        self.usage_errors: dict[str, str] = {}
        self.usage_requests = 0
        self.account_requests = 0
        self.account_events: AccountEvents | None = None
        self.root_records: list[UserRecord] = []
        self.notes: list[str] = []

    def _connection(self) -> CloudConnection:
        if self.params.credentials_block:
            from blocks.credentials import AlibabaCloudCredentials

            return resolve_connection(
                AlibabaCloudCredentials.load(self.params.credentials_block)
            )
        return resolve_connection()

    def execute(self) -> dict[str, Any]:
        """Run the sweep and return the JSON document."""
        settings = self.settings
        self.log.info(
            "Sweeping all AccessKeys ram_calls_per_second=%s users_per_batch=%d "
            "batch_concurrency=%d workers_per_batch=%d %s",
            settings.ram_calls_per_second,
            settings.users_per_batch,
            settings.batch_concurrency,
            settings.workers_per_batch,
            self.connection.describe(),
        )
        responder, self.responder_user = identify_responder(
            self.connection, incident="sweep"
        )
        self.responder = responder
        self.responder_is_root = responder.identity_type == "Account"

        listing = list_ram_users(self.reader)
        self.listing = listing
        names = [str(user["UserName"]) for user in listing.users]
        self.log.info("Listed users=%d pages=%d", len(names), listing.pages)
        mfa_users = self._virtual_mfa_users()
        if self.responder_is_root:
            self._read_root_keys()

        self._run_batches(names, mfa_users)
        self._retry_failed(mfa_users)
        self._check_completeness(names)
        return self._finish(names)

    def _virtual_mfa_users(self) -> set[str]:
        """Return the users with a virtual MFA device; empty if the call fails.

        Without the list every console user's MFA is read with GetUserMFAInfo, which
        costs one call per console user but loses nothing.
        """
        try:
            return self.reader.virtual_mfa_users()
        except CloudError as error:
            self.notes.append(
                f"ListVirtualMFADevices failed, so MFA was read user by user: {error}"
            )
            self.log.warning("ListVirtualMFADevices failed code=%s", error.code)
            return set()

    def _read_root_keys(self) -> None:
        """As the root, list the root's own keys and their last use."""
        try:
            keys = read_keys(self.reader, None, as_root=True)
        except CloudError as error:
            self.notes.append(f"Listing the root's AccessKeys failed: {error}")
            return
        self.root_records.append(UserRecord(user_name="root", keys=keys))

    # Scheduling.

    def _run_batches(self, names: list[str], mfa_users: set[str]) -> None:
        """Run the user batches and the ActionTrail tasks side by side."""
        settings = self.settings
        size = settings.users_per_batch
        chunks = deque(
            (number, names[start : start + size])
            for number, start in enumerate(range(0, len(names), size), start=1)
        )
        total = len(chunks)
        progress = create_progress_artifact(
            progress=0.0, key="sweep-progress", description="Users assessed, percent"
        )
        batches: dict[PrefectFuture, list[str]] = {}
        trail: PrefectFuture | None = search_account_events_task.submit(
            self.connection, self.now, settings, not self.responder_is_root
        )
        trail_kind = "account"
        waiting_usage: list[str] = []
        usage_chunk = 0
        finished = 0

        while chunks or batches or trail is not None or waiting_usage:
            while chunks and len(batches) < settings.batch_concurrency:
                number, chunk = chunks.popleft()
                future = assess_user_batch.submit(
                    self.reader, chunk, mfa_users, settings.workers_per_batch, number
                )
                batches[future] = chunk
            if trail is None and waiting_usage:
                usage_chunk += 1
                trail = check_key_usage.submit(
                    self.connection, waiting_usage, self.now, settings, usage_chunk
                )
                trail_kind = "usage"
                waiting_usage = []
            in_flight = list(batches) + ([trail] if trail is not None else [])
            done = next(as_completed(in_flight))
            if done is trail:
                trail = None
                self._take_trail_result(done, trail_kind)
                continue
            chunk = batches.pop(done)
            waiting_usage.extend(self._take_batch_result(done, chunk))
            finished += 1
            update_progress_artifact(progress, 100.0 * finished / total)
        if total == 0:
            update_progress_artifact(progress, 100.0)

    def _take_batch_result(self, future: PrefectFuture, chunk: list[str]) -> list[str]:
        """Store a batch's records and failures; return the keys to check for usage."""
        try:
            result: BatchResult = future.result()
        except Exception as error:  # noqa: BLE001 - the users must still be reported
            reason = f"batch task failed: {redact.scrub_text(str(error))}"
            self.log.error("Batch failed users=%d error=%s", len(chunk), reason)
            for name in chunk:
                self.failures[name] = UserFailure(name, "BatchFailed", True, reason)
            return []
        self.stats.merge(result.calls)
        candidates = []
        for record in result.records:
            self.records[record.user_name] = record
            self.failures.pop(record.user_name, None)
            candidates.extend(self._usage_candidates(record))
        for failure in result.failures:
            self.failures[failure.user_name] = failure
        return candidates

    def _usage_candidates(self, record: UserRecord) -> list[str]:
        facts = key_facts(record, responder_key=self.connection.access_key_id)
        return [
            str(fact.access_key_id)
            for fact in facts
            if needs_usage_check(fact, self.settings, self.now)
        ]

    def _take_trail_result(self, future: PrefectFuture, kind: str) -> None:
        try:
            result = future.result()
        except Exception as error:  # noqa: BLE001 - reported as missing coverage
            text = redact.scrub_text(str(error))
            if kind == "account":
                self.notes.append(
                    "The ActionTrail search for key creations and root activity "
                    f"failed, so created_by_key and root_key from ActionTrail were "
                    f"not checked: {text}"
                )
            else:
                self.notes.append(f"A usage-check task failed: {text}")
            self.log.error("ActionTrail task failed kind=%s error=%s", kind, text)
            return
        if kind == "account":
            self.account_events = result
            self.account_requests += result.requests
            return
        self.usage.update(result["changes"])
        self.usage_errors.update(result["errors"])
        self.usage_requests += result["requests"]

    def _retry_failed(self, mfa_users: set[str]) -> None:
        """Give users that failed with a retryable error one more, slower pass."""
        retry = sorted(
            name for name, failure in self.failures.items() if failure.retryable
        )
        if not retry:
            return
        self.retried_users = retry
        self.log.warning(
            "Retrying users=%d after retryable failures, first=%s",
            len(retry),
            retry[0],
        )
        time.sleep(min(RETRY_PASS_PAUSE_SECONDS, self.reader.policy.max_delay))
        workers = max(1, self.settings.workers_per_batch // 2)
        future = assess_user_batch.submit(self.reader, retry, mfa_users, workers, 0)
        candidates = self._take_batch_result(future, retry)
        if candidates:
            result = check_key_usage.submit(
                self.connection, candidates, self.now, self.settings, 0
            )
            self._take_trail_result(result, "usage")

    def _check_completeness(self, names: list[str]) -> None:
        """Fail loudly if a listed user is neither assessed nor reported as failed."""
        listed = set(names)
        assessed = set(self.records)
        failed = set(self.failures)
        missing = listed - assessed - failed
        both = assessed & failed
        extra = (assessed | failed) - listed
        if missing or both or extra:
            raise RuntimeError(
                f"sweep bookkeeping is inconsistent: {len(missing)} listed users have "
                f"no outcome (first {sorted(missing)[:3]}), {len(both)} are both "
                f"assessed and failed, {len(extra)} were never listed; this is a bug"
            )

    # Results.

    def _facts(self) -> list[KeyFacts]:
        responder_key = self.connection.access_key_id
        facts: list[KeyFacts] = []
        for record in self.records.values():
            facts.extend(key_facts(record, responder_key=responder_key))
        for record in self.root_records:
            facts.extend(
                key_facts(
                    record, responder_key=responder_key, owner_type="root-account"
                )
            )
        events = self.account_events
        if events is not None and events.root_events is not None:
            for key_id, seen in sorted(
                root_keys_from_events(events.root_events).items()
            ):
                facts.append(
                    KeyFacts(
                        access_key_id=key_id,
                        owner_type="root-account",
                        user_name=None,
                        status="Unknown",
                        last_used=seen,
                        source="actiontrail",
                        is_responder=key_id == responder_key,
                    )
                )
        creations = {}
        if events is not None:
            creations = creations_by_key(
                events.creations, self.settings.trusted_creator_key_ids
            )
        for fact in facts:
            key_id = fact.access_key_id
            if key_id is None:
                continue
            fact.creation = creations.get(key_id)
            fact.usage = self.usage.get(key_id)
            fact.usage_error = self.usage_errors.get(key_id)
        return facts

    def _coverage_notes(self, truncated_usage: list[str]) -> list[str]:
        """Return one sentence per limit of what the sweep could see."""
        settings = self.settings
        events = self.account_events
        notes = list(self.notes)
        if not self.responder_is_root:
            notes.append(
                "RAM lists the root's AccessKeys only to the root itself, so root "
                "keys are reported only if ActionTrail recorded their use in the "
                f"last {settings.root_lookback_days} days. Run the sweep as the root "
                "to list every root key."
            )
        if events is not None and events.creations_truncated:
            notes.append(
                "The CreateAccessKey search reached account_lookup_max_pages, so "
                "older creations in the window were not checked."
            )
        if truncated_usage:
            notes.append(
                f"{len(truncated_usage)} keys had more events than usage_max_pages "
                "allowed to read, so their usage check compared the newest events "
                "only."
            )
        if self.usage_errors:
            notes.append(
                f"The usage check failed for {len(self.usage_errors)} keys. See "
                "usage_error in their rows."
            )
        if self.listing.duplicates:
            notes.append(
                f"{len(self.listing.duplicates)} users appeared on two ListUsers "
                "pages (the user list changed while paging) and were assessed once."
            )

        notes.append(
            "The responder's own key is not usage-checked, because the sweep's own "
            "calls fill its recent history."
        )
        notes.append(
            "Inactive keys cannot sign requests, so their last use is not read and "
            "they carry no key reasons (root keys excepted)."
        )
        return notes

    def _coverage(self, names: list[str]) -> dict[str, Any]:
        """Return the document's ``coverage``: counts, methods and notes."""
        settings = self.settings
        events = self.account_events
        if self.responder_is_root:
            root = {
                "method": "ListAccessKeys as the root",
                "lookback_days": None,
                "truncated": False,
            }
        else:
            root = {
                "method": "ActionTrail events signed by the root",
                "lookback_days": settings.root_lookback_days,
                "truncated": bool(events and events.root_truncated),
            }
        truncated_usage = sorted(
            key for key, change in self.usage.items() if change.truncated
        )

        return {
            "users": {
                "listed": len(names),
                "assessed": len(self.records),
                "failed": len(self.failures),
                "retried": len(self.retried_users),
                "list_pages": self.listing.pages,
                "duplicates": len(self.listing.duplicates),
            },
            "root_keys": root,
            "created_by_key": {
                "lookback_days": settings.created_by_key_days,
                "events": len(events.creations) if events is not None else None,
                "truncated": bool(events and events.creations_truncated),
            },
            "usage_checks": {
                "keys_checked": len(self.usage),
                "keys_failed": len(self.usage_errors),
                "truncated": len(truncated_usage),
            },
            "lookup_events_pages": {
                "account_searches": self.account_requests,
                "usage_checks": self.usage_requests,
            },
            "api_calls": self.reader.stats.to_dict(),
            "notes": self._coverage_notes(truncated_usage),
        }

    def _finish(self, names: list[str]) -> dict[str, Any]:
        """Score every key, then write, publish and return the document."""
        settings = self.settings
        assessments: list[KeyAssessment] = [
            assess_key(fact, settings, self.now) for fact in self._facts()
        ]
        rows = sort_rows([key_row(item, settings) for item in assessments])
        failures = [self.failures[name].to_dict() for name in sorted(self.failures)]

        # The duration ends here, before the file and the artifacts are written.
        duration = time.monotonic() - self.started
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "account_id": self.responder.account_id,
            "started_at": iso(self.now),
            "finished_at": iso(datetime.now(UTC)),
            "duration_seconds": round(duration, 3),
            "complete": not self.failures,
            "responder": {
                "access_key_id": self.connection.access_key_id,
                "identity_type": self.responder.identity_type,
                "arn": self.responder.arn,
                "user_name": self.responder_user,
            },
            "settings": settings.model_dump(mode="json"),
            "totals": totals(rows, len(names), len(self.records), len(self.failures)),
            "coverage": self._coverage(names),
            "keys": rows,
            "failed_users": failures,
        }
        document["responses"] = self._responses(rows)

        path = Path(self.params.report_path or default_report_path(self.now))
        written = write_document(document, path)
        document["report_path"] = str(written)
        self._publish(document)

        self.log.info(
            "Swept users=%d failed=%d keys=%d flagged=%d high=%d seconds=%.1f "
            "report=%s",
            len(names),
            len(self.failures),
            document["totals"]["keys"],
            document["totals"]["rows_flagged"],
            document["totals"]["by_severity"]["high"],
            duration,
            written,
        )
        return document

    def _publish(self, document: dict[str, Any]) -> None:
        rows = table_rows(document["keys"], self.settings.artifact_max_rows)
        if rows:
            create_table_artifact(
                key="sweep-keys",
                table=rows,
                description=f"Flagged AccessKeys, highest score first (at most "
                f"{self.settings.artifact_max_rows}); all keys are in "
                f"{document['report_path']}",
            )
        create_markdown_artifact(
            key="sweep-summary",
            markdown=render_markdown(document),
            description="AccessKey sweep summary",
        )

    def _responses(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Start or list responses for high-scoring keys other than the responder's."""
        settings = self.settings
        candidates = [
            row["access_key_id"]
            for row in rows
            if row["score"] >= settings.high_score
            and row["access_key_id"]
            and not row["is_responder"]
        ]
        result: dict[str, Any] = {
            "requested": self.params.start_responses,
            "deployment": settings.response_deployment,
            "candidates": candidates,
            "started": [],
            "note": "",
        }
        if not candidates:
            result["note"] = "No key reached the response threshold."
            return result
        if not self.params.start_responses:
            result["note"] = (
                f"{len(candidates)} keys score at least {settings.high_score}; "
                "start_responses is off, so respond to each with the command below."
            )
            return result
        return start_responses(result, settings.response_deployment)


def start_responses(result: dict[str, Any], deployment: str) -> dict[str, Any]:
    """Run the response deployment once per candidate key, without waiting.

    Each run gets only the key id, so the response's own approval settings apply and
    nothing is auto-approved. The idempotency key makes a repeated sweep of the same
    flow run start each response once.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    log = get_run_logger()
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            result["note"] = (
                f"No deployment named {deployment!r} exists, so no response was "
                "started; serve the response flow under that name or respond to each "
                "key with the command below."
            )
            log.warning("Response deployment not found deployment=%s", deployment)
            return result
    run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    for key_id in result["candidates"]:
        flow_run = run_deployment(
            deployment,
            parameters={"params": {"access_key_id": key_id}},
            timeout=0,
            idempotency_key=f"sweep-{run_id}-{key_id}",
            tags=["akresponder-sweep"],
        )
        result["started"].append(
            {"access_key_id": key_id, "flow_run_id": str(flow_run.id)}
        )
        log.info(
            "Started response access_key_id=%s flow_run_id=%s", key_id, flow_run.id
        )
    result["note"] = (
        f"Started {len(result['started'])} response runs of {deployment}; each "
        "waits for its approvals."
    )
    return result


@flow(
    name="sweep-all-keys",
    persist_result=False,
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_WORKERS),
)
def sweep_all_keys(params: SweepRequest | None = None) -> dict[str, Any]:
    """Assess every AccessKey of the account and return the JSON document as a dict.

    The document is also written to ``params.report_path`` and published as the
    artifacts ``sweep-keys`` (table) and ``sweep-summary`` (markdown). Without
    ``params`` every setting takes its default, as a scheduled run does.
    """
    redact.install()
    return SweepRun(params or SweepRequest()).execute()


# --- command line --------------------------------------------------------------------


def sweep_request_from_args(args: argparse.Namespace) -> SweepRequest:
    """Build the request from ``akresponder sweep`` arguments."""
    overrides: dict[str, Any] = {}
    if args.users_per_batch is not None:
        overrides["users_per_batch"] = args.users_per_batch
    if args.ram_calls_per_second is not None:
        overrides["ram_calls_per_second"] = args.ram_calls_per_second
    settings: dict[str, Any] = {}
    if args.settings_file:
        path = Path(args.settings_file)
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(
                f"settings file {path} is not valid JSON: {error.msg} at line "
                f"{error.lineno}"
            ) from None
        if not isinstance(settings, dict):
            raise ValueError(
                f"settings file {path} must hold a JSON object of sweep settings, "
                'such as {"unused_days": 60}'
            )
    settings.update(overrides)
    return SweepRequest(
        report_path=args.report,
        start_responses=args.start_responses,
        settings=SweepSettings(**settings),
        credentials_block=args.credentials_block,
    )


def run_sweep_cli(args: argparse.Namespace) -> int:
    """Run ``akresponder sweep``; return 0 when complete, 1 when users failed.

    Raises ``ValueError`` (including pydantic's) for invalid arguments; the CLI turns
    it into exit status 2.
    """
    params = sweep_request_from_args(args)
    document = sweep_all_keys(params)
    total = document["totals"]
    severities = total["by_severity"]
    print(f"Report: {document['report_path']}")
    print(
        f"Users: {total['users_assessed']} of {total['users_listed']} assessed, "
        f"{total['users_failed']} failed"
    )
    print(
        f"Keys: {total['keys']} ({total['active_keys']} active); flagged "
        f"{total['rows_flagged']}: {severities['high']} high, "
        f"{severities['medium']} medium, {severities['low']} low"
    )
    for row in document["keys"][:10]:
        if row["score"] <= 0:
            break
        codes = ", ".join(reason["code"] for reason in row["reasons"])
        print(
            f"  {row['score']:>4} {row['access_key_id'] or '(no key)'} "
            f"{row['user_name'] or '(root)'}: {codes}"
        )
    print(document["responses"]["note"])
    return 0 if document["complete"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep from ``python -m flows.sweep`` with the CLI's arguments."""
    from akresponder.sweep import add_sweep_arguments

    parser = argparse.ArgumentParser(prog="python -m flows.sweep")
    add_sweep_arguments(parser)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return run_sweep_cli(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
