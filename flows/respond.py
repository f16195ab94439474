"""The flow ``respond_to_compromised_key``: triage, decide, act, investigate, report.

It automates Alibaba Cloud's procedure for a compromised AccessKey pair. The parent
flow triages the key and lets the pure ``decide`` choose a path. It then runs the
path's steps (``akresponder.paths``), which stop the attacker before the long
audit starts. Last, it runs the investigation (``akresponder.investigation``),
starts a response for each AccessKey the attacker created (``flows.related``),
and writes the report as JSON with its pictures beside it, as a markdown artifact
and as a table artifact of the findings.

Paths:

* ``delete``: disable the key (UpdateAccessKey Inactive), then delete it after
  approval.
* ``rotate``: create a new key for the owner and deliver its secret to the sink.
  When both key slots are taken, the owner's other key is removed only after
  approval. Then wait for confirmation that the applications use the new key,
  check that the old key's traffic stopped, disable the old key, and delete it
  after approval.
* ``contain``: attach an explicit-deny policy to the owner, propose unneeded
  permissions for removal (detached only after approval), require MFA on the
  owner's console login.
* ``manual``: the account root's key, an unknown owner, or the responder's own key.
  Nothing is changed. The report lists the manual steps, and a root key escalates.
* ``audit-only``: nothing is changed.

A run after the delete or rotate path deleted the key finds no key to triage. When
the journal shows that the earlier run got as far as deleting it, the run reports
the journal's finished steps under the recorded decision, repeats nothing and
completes. A key that does not exist and has no journal still takes the manual
path: nobody can tell whose it is.

A run stopped between CreateAccessKey and the journal's record of the new key
leaves a key whose secret may or may not be whole in the sink. The next run
deletes that key (after approval), removes its secret from the sink and creates a
fresh pair, as ``PathSteps._remove_orphan_key`` explains.

Every step goes through ``StepRunner.perform`` (journal, dry run, approval) and
every cloud call through a task of ``tasks/``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from akresponder import notify, redact
from akresponder.approvals import ApprovalSettings, set_incident
from akresponder.config import (
    CloudConnection,
    resolve_connection,
    validate_access_key_id,
)
from akresponder.decision import Decision, Mode, Rotatable, decide
from akresponder.decision import Path as ResponsePath
from akresponder.investigation import (
    Investigation,
    InvestigationOptions,
    run_investigation,
)
from akresponder.journal import Journal, default_state_dir
from akresponder.paths import PathSteps
from akresponder.report import (
    ActionStatus,
    Coverage,
    DecisionRecord,
    Finding,
    Owner,
    RelatedCredential,
    Report,
    Timings,
    UndoStep,
    findings_table,
    render_markdown,
    report_dict,
    write_pictures,
    write_report,
)
from akresponder.retry import set_default_policy
from akresponder.steps import StepRunner
from akresponder.triage import TriageResult, identify_responder, triage_key
from blocks.settings import ResponderSettings
from flows.related import RelatedResponses

_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ResponseRequest(BaseModel):
    """The parameters of a response, shown as one form in the Prefect UI."""

    access_key_id: str = Field(
        description="The compromised AccessKey ID, such as LTAI5tEXAMPLE00000000001."
    )
    mode: Mode = Field(
        default=Mode.AUTO,
        description="auto lets the triage facts choose; delete, rotate, contain or "
        "audit-only force a path.",
    )
    rotatable_now: Rotatable = Field(
        default=Rotatable.UNKNOWN,
        description="Can the applications that use the key switch to a new one now?",
    )
    lookback_days: int = Field(
        default=30, ge=1, le=90, description="Days of history to audit (at most 90)."
    )
    dry_run: bool = Field(
        default=False, description="Plan every step and change nothing."
    )
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    report_path: str | None = Field(
        default=None,
        description="Where to write the JSON report; default "
        "<state dir>/<key>.<incident>.report.json.",
    )
    incident_id: str | None = Field(
        default=None, description="Incident id; generated when empty."
    )
    state_dir: str | None = Field(
        default=None,
        description="Folder of the incident journals; default "
        "~/.akresponder/incidents or $AKRESPONDER_STATE_DIR.",
    )
    secret_sink: str | None = Field(
        default=None,
        description="Where a new key's secret goes: block (a Prefect Secret block), "
        "file:DIR, or none; default from the settings block.",
    )
    settings_block: str | None = Field(
        default=None, description="Name of a saved akresponder-settings block."
    )
    credentials_block: str | None = Field(
        default=None,
        description="Name of a saved alibaba-cloud-credentials block; default is "
        "Alibaba's credential chain (environment, profile files).",
    )
    check_billing: bool = Field(
        default=True, description="Check BSS spend for the incident window."
    )
    incident_start: datetime | None = Field(
        default=None,
        description="When the compromise began, if known (for example the alert's "
        "time); events before it are the baseline. Default: estimated from the "
        "key's history.",
    )
    investigation: InvestigationOptions = Field(
        default_factory=InvestigationOptions,
        description="Analysis thresholds, searches and responses to related keys.",
    )
    parent_incident_id: str | None = Field(
        default=None,
        description="Set on the response runs that a parent response starts for "
        "keys the attacker created; such runs start no further children.",
    )

    @field_validator("access_key_id")
    @classmethod
    def _check_key(cls, value: str) -> str:
        value = validate_access_key_id(value)
        if value.startswith("STS."):
            raise ValueError(
                f"{value} is a temporary STS key: it expires on its own and RAM "
                "cannot disable it; respond for the AccessKey that assumed the role, "
                "or limit the role's sessions"
            )
        return value

    @field_validator("incident_start")
    @classmethod
    def _check_incident_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(
                f"incident_start {value.isoformat()} has no time zone; give a UTC "
                "time such as 2026-11-20T08:00:00Z"
            )
        return value

    @field_validator("incident_id", "parent_incident_id")
    @classmethod
    def _check_incident(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _INCIDENT_ID.match(value):
            raise ValueError(
                f"invalid {info.field_name} {value!r}; use 1 to 64 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("secret_sink")
    @classmethod
    def _check_sink(cls, value: str | None) -> str | None:
        if value is None or value in ("block", "none") or value.startswith("file:"):
            if value == "file:":
                raise ValueError("secret_sink file: needs a folder, as in file:DIR")
            return value
        raise ValueError(f"invalid secret_sink {value!r}; use block, file:DIR or none")


def make_incident_id(access_key_id: str, now: datetime | None = None) -> str:
    """Return ``inc-<UTC time>-<last 6 characters of the key>``."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"inc-{moment}-{access_key_id[-6:].lower()}"


def _load_settings(name: str | None) -> ResponderSettings:
    if not name:
        return ResponderSettings()
    return ResponderSettings.load(name)


def _connection(params: ResponseRequest) -> CloudConnection:
    if params.credentials_block:
        from blocks.credentials import AlibabaCloudCredentials

        return resolve_connection(
            AlibabaCloudCredentials.load(params.credentials_block)
        )
    return resolve_connection()


def _approval_settings(
    params: ResponseRequest, settings: ResponderSettings
) -> ApprovalSettings:
    """Take approval values from the flow parameters, else from the settings block."""
    explicit = params.approval.model_fields_set
    values = params.approval.model_dump()
    if "timeout_seconds" not in explicit:
        values["timeout_seconds"] = settings.approval_timeout_seconds
    if "on_timeout" not in explicit:
        values["on_timeout"] = settings.approval_on_timeout
    return ApprovalSettings(**values)


class ResponseRun(PathSteps):
    """The state of one run of the flow; its methods are the paths."""

    def __init__(self, params: ResponseRequest) -> None:
        self.params = params
        self.log = get_run_logger()
        self.started_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.settings = _load_settings(params.settings_block)
        if params.settings_block:
            set_default_policy(self.settings.retry_policy())
        self.connection = _connection(params)

        self.key_id = params.access_key_id
        self.journal = Journal.open(
            self.key_id,
            state_dir=params.state_dir,
            incident_id=params.incident_id,
            writable=not params.dry_run,
        )
        self.incident = (
            self.journal.incident_id
            or params.incident_id
            or make_incident_id(self.key_id)
        )
        self.journal.incident_id = self.incident

        self.approvals = _approval_settings(params, self.settings)
        self.runner = StepRunner(
            journal=self.journal,
            dry_run=params.dry_run,
            approvals=self.approvals,
            needs_approval=self.settings.needs_approval,
            incident=self.incident,
            started=self.started,
            log=self.log,
        )

        self.triage: TriageResult | None = None
        self.decision: Decision | None = None
        self.decision_reasons: list[str] = []
        self.path: ResponsePath | None = None
        self.findings: list[Finding] = []
        self.related: list[RelatedCredential] = []
        self.next_steps: list[str] = []
        self.investigation = Investigation()
        self.complete = True
        # True when the journal shows the key deleted by an earlier run.
        self.finished_earlier = False

    # Orchestration.

    def execute(self) -> dict[str, Any]:
        """Run the response and return the report as a dict."""
        self.log.info(
            "Responding incident=%s access_key_id=%s mode=%s dry_run=%s resumed=%s",
            self.incident,
            self.key_id,
            self.params.mode.value,
            self.params.dry_run,
            self.journal.resumed,
        )
        self.journal.save()
        self._announce_start()
        try:
            self._triage_and_decide()
            self._run_path()
            # The investigation can wait: a served response past this point
            # leaves its runner slot to the next alert's containment.
            from deployments.inprocess import after_containment

            with after_containment():
                self._investigate()
        except BaseException as error:
            self.complete = False
            self.next_steps.insert(
                0,
                f"The response stopped with an error: {redact.scrub_text(str(error))} "
                "Fix the cause and run it again: finished steps are not repeated.",
            )
            self._finish()
            raise
        return self._finish()

    def _triage_and_decide(self) -> None:
        responder, responder_user = identify_responder(
            self.connection, incident=self.incident
        )
        self.triage = triage_key(
            self.connection,
            self.key_id,
            lookback_days=self.params.lookback_days,
            responder=responder,
            responder_user=responder_user,
            incident=self.incident,
        )
        if self._resume_finished():
            return
        self.decision = decide(
            self.triage.facts, self.params.mode, self.params.rotatable_now
        )
        self.path = self.decision.path
        self.decision_reasons = list(self.decision.reasons)
        self.journal.set_fact(
            "owner", self.triage.owner.model_dump(mode="json"), persist=False
        )
        self.journal.set_decision(self.decision.to_dict())
        self.log.info(
            "Decided incident=%s access_key_id=%s owner=%s:%s path=%s",
            self.incident,
            self.key_id,
            self.triage.owner.type,
            self.triage.owner.user_name or "-",
            self.path.value,
        )

    def _resume_finished(self) -> bool:
        """Take the journal's decision when an earlier run deleted the key.

        The key is gone, and the journal records a delete or rotate decision with
        the key disabled or its deletion under way: the run that recorded them
        deleted it (or a person did, after it stopped). A ``delete-key`` step that
        the stopped run did not record as done is recorded done now, saying so.
        Returns False, changing nothing, in every other case.
        """
        assert self.triage is not None
        recorded = self.journal.data.get("decision") or {}
        if self.triage.key.status is not None:
            return False
        if recorded.get("path") not in (ResponsePath.DELETE, ResponsePath.ROTATE):
            return False
        deleting = self.journal.action("delete-key")
        disabled = self.journal.action("disable-key")
        reached = deleting is not None or (
            disabled is not None
            and disabled.status in (ActionStatus.DONE, ActionStatus.SKIPPED)
        )
        if not reached:
            return False

        owner = self.journal.fact("owner")
        if owner and self.triage.owner.type == "unknown":
            self.triage.owner = Owner.model_validate(owner)
        user = self.triage.owner.user_name or (owner or {}).get("user_name")
        if deleting is None or deleting.status != ActionStatus.DONE:
            self.runner.record(
                "delete-key",
                step=f"Delete AccessKey {self.key_id}",
                api="ram:DeleteAccessKey",
                target=f"user/{user}/accesskey/{self.key_id}",
                status=ActionStatus.DONE,
                detail=f"{self.key_id} no longer exists on any RAM user. The "
                "earlier run stopped before it recorded the deletion, so that run "
                "or a person deleted it.",
                undo=UndoStep(
                    reversible=False,
                    note="A deleted AccessKey cannot be restored; create a new one.",
                ),
                before=deleting.before if deleting else None,
                params={"UserName": user, "UserAccessKeyId": self.key_id},
            )

        self.finished_earlier = True
        self.path = ResponsePath(recorded["path"])
        self.decision = Decision(
            self.path,
            list(recorded.get("reasons") or []),
            forced=bool(recorded.get("forced")),
        )
        self.decision_reasons = [
            *self.decision.reasons,
            f"Run again after the response deleted {self.key_id}: the journal's "
            "finished steps are reported and none is repeated.",
        ]
        new_key = self.journal.fact("new_access_key_id")
        if new_key:
            self.related.append(
                RelatedCredential(
                    access_key_id=new_key,
                    user_name=user,
                    relation="replacement-key",
                    detail="Created by an earlier run of this incident.",
                )
            )
        self.log.info(
            "Resumed a finished response incident=%s access_key_id=%s path=%s",
            self.incident,
            self.key_id,
            self.path.value,
        )
        return True

    def _run_path(self) -> None:
        assert self.path is not None and self.triage is not None
        if self.finished_earlier:
            return
        if self.path is ResponsePath.DELETE:
            self._delete_path()
        elif self.path is ResponsePath.ROTATE:
            self._rotate_path()
        elif self.path is ResponsePath.CONTAIN:
            self._contain_path()
        elif self.path is ResponsePath.MANUAL:
            self._manual_path()
        else:
            self.next_steps.append(
                "Review the audit and billing findings; run again with mode auto to "
                "act on the key."
            )

    def _investigate(self) -> None:
        assert self.triage is not None
        self.investigation = run_investigation(
            self.connection,
            self.key_id,
            window_start=self.triage.window_start,
            window_end=self.triage.now,
            incident=self.incident,
            check_billing=self.params.check_billing,
            incident_start=self.params.incident_start,
            options=self.params.investigation,
            evidence_root=self._evidence_root(),
            state_dir=self._state_dir(),
        )
        self.findings.extend(self.investigation.findings)
        self.related.extend(self.investigation.related_credentials)
        RelatedResponses(
            params=self.params,
            incident=self.incident,
            journal=self.journal,
            runner=self.runner,
            approvals=self.approvals,
            report_path=self._report_path(),
            log=self.log,
            incident_start=(
                self.investigation.record.incident_start
                if self.investigation.record is not None
                else None
            ),
            connection=self.connection,
        ).run(self.investigation.related_credentials, self.next_steps)

    def _evidence_root(self) -> Path:
        """Return the evidence folder: the request's, the settings', or the default.

        A relative location is taken under the state directory, so by default the
        bundle of an incident lands in ``<state dir>/evidence/<incident>``.
        """
        location = Path(
            self.params.investigation.evidence_dir or self.settings.evidence_location
        ).expanduser()
        if location.is_absolute():
            return location
        return self._state_dir() / location

    def _state_dir(self) -> Path:
        if self.params.state_dir:
            return Path(self.params.state_dir).expanduser()
        return default_state_dir()

    # Report.

    def _finish(self) -> dict[str, Any]:
        finished_at = datetime.now(UTC)
        triage = self.triage
        investigation = self.investigation
        path = self._report_path()
        if investigation.record is not None:
            investigation.record.pictures = write_pictures(investigation.pictures, path)

        report = Report(
            incident_id=self.incident,
            access_key_id=self.key_id,
            dry_run=self.params.dry_run,
            mode=self.params.mode.value,
            owner=triage.owner if triage else {"type": "unknown"},
            key=triage.key if triage else {},
            permissions=triage.permissions if triage else [],
            decision=DecisionRecord(
                path=(self.path or ResponsePath.MANUAL).value,
                reasons=self.decision_reasons
                or ["The response stopped before a decision was made."],
                forced=bool(self.decision and self.decision.forced),
            ),
            actions=self.journal.actions(),
            findings=self.findings,
            related_credentials=self.related,
            audit=self.investigation.audit,
            billing=investigation.billing,
            investigation=investigation.record,
            coverage=self._coverage(),
            timings=Timings(
                started_at=self.started_at,
                finished_at=finished_at,
                to_containment_seconds=self.runner.contained_after,
                total_seconds=round(time.monotonic() - self.started, 3),
            ),
            responder=triage.responder if triage else {},
            next_steps=self.next_steps,
            complete=self.complete
            and not any(
                action.status == ActionStatus.FAILED
                for action in self.journal.actions()
            ),
        )

        written = write_report(report, path)
        self.log.info(
            "Report written incident=%s path=%s path_taken=%s complete=%s",
            self.incident,
            written,
            report.decision.path,
            report.complete,
        )
        self._publish(report)
        data = report_dict(report)
        data["report_path"] = str(written)
        notify.notify_finished(
            data,
            flow_run_id=self._flow_run_id(),
            blocks=notify.configured_blocks(self.settings),
        )
        return data

    def _flow_run_id(self) -> Any:
        context = FlowRunContext.get()
        return context.flow_run.id if context and context.flow_run else None

    def _announce_start(self) -> None:
        """Tag this flow run with the key and incident, then notify the start.

        Runs started from the UI or the API carry no tags, and responders find an
        incident's runs by ``key:<id>`` and ``incident:<id>``. Neither step may fail
        the response: a failure is logged and the response goes on.
        """
        from flows.alert_intake import key_tags

        set_incident(self.key_id, self.incident)
        flow_run_id = self._flow_run_id()
        if flow_run_id is not None:
            try:
                with get_client(sync_client=True) as client:
                    run = client.read_flow_run(flow_run_id)
                    tags = sorted(
                        set(run.tags) | set(key_tags(self.key_id, self.incident))
                    )
                    client.update_flow_run(flow_run_id, tags=tags)
            except Exception as error:  # noqa: BLE001 - tags are a convenience
                self.log.warning(
                    "Could not tag flow run incident=%s error=%s",
                    self.incident,
                    redact.scrub_text(str(error)),
                )
        notify.notify_started(
            self.key_id,
            self.incident,
            mode=self.params.mode.value,
            dry_run=self.params.dry_run,
            flow_run_id=flow_run_id,
            blocks=notify.configured_blocks(self.settings),
        )

    def _coverage(self) -> Coverage:
        triage = self.triage
        investigation = self.investigation
        return Coverage(
            window_start=triage.window_start if triage else None,
            window_end=triage.now if triage else None,
            sources=(triage.coverage if triage else []) + investigation.coverage,
            gaps=investigation.gaps,
            not_visible=investigation.not_visible,
            notes=investigation.notes,
        )

    def _publish(self, report: Report) -> None:
        """Publish the report as a markdown artifact, and the findings as a table."""
        create_markdown_artifact(
            key=f"incident-{self.key_id.lower()}",
            markdown=render_markdown(report, images=self.investigation.pictures),
            description=f"akresponder incident {self.incident}",
        )
        if report.findings:
            create_table_artifact(
                key=f"incident-{self.key_id.lower()}-findings",
                table=findings_table(report),
                description=f"Findings of akresponder incident {self.incident}",
            )

    def _report_path(self) -> Path:
        if self.params.report_path:
            return Path(self.params.report_path).expanduser()
        folder = self._state_dir()
        suffix = ".dry-run" if self.params.dry_run else ""
        return folder / f"{self.key_id}.{self.incident}{suffix}.report.json"


@flow(name="respond-to-compromised-key", persist_result=False, log_prints=False)
def respond_to_compromised_key(params: ResponseRequest) -> dict[str, Any]:
    """Respond to a compromised AccessKey and return the report as a dict.

    The report is also written to ``params.report_path`` and published as the
    markdown artifact ``incident-<access key id>``.
    """
    redact.install()
    return ResponseRun(params).execute()
