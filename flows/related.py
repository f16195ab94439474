"""Child responses for the AccessKeys that the compromised credentials created.

The investigation's lineage walk finds every key the attacker minted, down to the
depth limit. Each needs approval by the mechanism of the destructive steps
(``auto_approve``, a person through a deployment, or no). An approved key gets a
response run of its own with the parent's settings: a subflow call of
``respond_to_compromised_key`` in this process, or, when the parent runs from a
deployment, a run of that deployment that the parent waits for. Either carries
the tags ``akresponder``, ``key:<id>``, ``incident:<child incident>`` and
``parent:<parent incident>``. A key the lineage says to disable
and delete gets mode ``delete``; any other gets ``auto``. Child runs carry
``parent_incident_id`` and start no children of their own, because the parent's
walk already covers the whole chain.

Each child is one journal step (``respond-related-<key>``), so a re-run of the
parent does not start a child again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import tags
from prefect.context import FlowRunContext

from akresponder import redact
from akresponder.approvals import ApprovalSettings, request_approval
from akresponder.errors import CloudError
from akresponder.investigation_records import MINTED_RELATIONS
from akresponder.journal import Journal
from akresponder.report import (
    ActionStatus,
    ChildResponse,
    RelatedCredential,
    UndoStep,
)
from akresponder.steps import StepRunner

# Seconds a served parent waits for a child run of its deployment to finish.
CHILD_RUN_TIMEOUT_SECONDS = 3600
_MODES = {"disable_and_delete_key": "delete"}


def child_mode(credential: RelatedCredential) -> str:
    """Return the response mode for a related key from its recommended response."""
    return _MODES.get(credential.recommended_response or "", "auto")


def minted_keys(related: list[RelatedCredential]) -> list[RelatedCredential]:
    """Return the related long-term keys that the compromised credentials created."""
    return [
        credential
        for credential in related
        if credential.relation in MINTED_RELATIONS
        and not credential.access_key_id.startswith("STS.")
    ]


class RelatedResponses:
    """Asks about, starts and records the child responses of one response run."""

    def __init__(
        self,
        *,
        params: Any,
        incident: str,
        journal: Journal,
        runner: StepRunner,
        approvals: ApprovalSettings,
        report_path: Path,
        log: logging.Logger | logging.LoggerAdapter,
        incident_start: datetime | None = None,
        connection: Any = None,
    ) -> None:
        self.params = params
        self.connection = connection
        self.incident_start = incident_start
        self.incident = incident
        self.journal = journal
        self.runner = runner
        self.approvals = approvals
        self.report_path = report_path
        self.log = log
        # Minted keys that RAM no longer has. They need no response, so the run
        # adds no next step for them.
        self.gone_keys: set[str] = set()

    def run(self, related: list[RelatedCredential], next_steps: list[str]) -> None:
        """Start a child response for each minted key, after approval."""
        for credential in related:
            if credential in minted_keys(related):
                continue
            if credential.access_key_id.startswith("STS."):
                continue
            next_steps.append(
                f"AccessKey {credential.access_key_id} ({credential.relation}): "
                f"{credential.detail} Recommended: {credential.recommended_response}."
            )
        minted = minted_keys(related)
        if not minted:
            return
        reason = self._not_started_reason()
        if reason:
            for credential in minted:
                credential.response = ChildResponse(
                    status="skipped", mode=child_mode(credential), detail=reason
                )
                next_steps.append(
                    f"The compromised credentials created AccessKey "
                    f"{credential.access_key_id} (user {credential.user_name}): "
                    "respond to it as compromised too."
                )
            return
        for number, credential in enumerate(minted, start=1):
            credential.response = self._respond(credential, number)
            if (
                credential.response.status != "done"
                and credential.access_key_id not in self.gone_keys
            ):
                next_steps.append(
                    f"Respond to AccessKey {credential.access_key_id} (created by the "
                    f"compromised credentials): {credential.response.detail}"
                )

    def _not_started_reason(self) -> str:
        """Say why no child response may start, or return "" when they may."""
        if self.params.parent_incident_id:
            return f"this run is the child of incident {self.params.parent_incident_id}"
        if str(getattr(self.params.mode, "value", self.params.mode)) == "audit-only":
            return "mode audit-only changes nothing"
        if not self.params.investigation.respond_to_related:
            return "respond_to_related is off"
        return ""

    def _respond(self, credential: RelatedCredential, number: int) -> ChildResponse:
        key = credential.access_key_id
        action_id = f"respond-related-{key.lower()}"
        mode = child_mode(credential)
        incident = f"{self.incident}-rel{number}"
        step = f"Start a response for AccessKey {key}, mode {mode}"
        common: dict[str, Any] = {
            "step": step,
            "target": f"access_key:{key}",
            "undo": UndoStep(
                reversible=False,
                note="the child response has its own report; undo it from there",
            ),
            "params": {"AccessKeyId": key, "Mode": mode, "IncidentId": incident},
        }
        previous = self.journal.action(action_id)
        if previous is not None and previous.status == ActionStatus.DONE:
            self.log.info("step=%s already done; not repeated", action_id)
            return ChildResponse(
                status="done",
                mode=mode,
                incident_id=incident,
                report_path=str(self._child_report_path(key)),
                detail=f"Started in an earlier run: {previous.detail}",
            )
        gone = self._gone(credential)
        if gone:
            self.gone_keys.add(key)
            self.runner.record(
                action_id, status=ActionStatus.SKIPPED, detail=gone, **common
            )
            return ChildResponse(status="skipped", mode=mode, detail=gone)
        if self.params.dry_run:
            self.runner.record(
                action_id,
                status=ActionStatus.PLANNED,
                detail="Dry run: not started. Needs approval.",
                **common,
            )
            return ChildResponse(
                status="planned", mode=mode, detail="Dry run: not started."
            )

        question = (
            f"The compromised credentials created AccessKey {key} "
            f"(user {credential.user_name}). Start a response for it with mode "
            f"{mode}? Its destructive steps follow the same approval settings."
        )
        self.runner.record(
            action_id, status=ActionStatus.AWAITING_APPROVAL, detail=question, **common
        )
        outcome = request_approval(question, key=action_id, settings=self.approvals)
        if not outcome.approved:
            self.runner.record(
                action_id, status=ActionStatus.SKIPPED, detail=outcome.reason, **common
            )
            return ChildResponse(status="skipped", mode=mode, detail=outcome.reason)

        child = self._child_params(key, mode, incident)
        self.log.info(
            "Starting the child response incident=%s child=%s access_key_id=%s mode=%s",
            self.incident,
            incident,
            key,
            mode,
        )
        try:
            response = self._start(child)
        except Exception as error:  # noqa: BLE001 - one child must not stop others
            detail = redact.scrub_text(f"{type(error).__name__}: {error}")
            self.log.error(
                "child response failed incident=%s access_key_id=%s: %s",
                self.incident,
                key,
                detail,
            )
            self.runner.record(
                action_id, status=ActionStatus.FAILED, detail=detail, **common
            )
            return ChildResponse(
                status="failed",
                mode=mode,
                incident_id=incident,
                report_path=child.report_path,
                detail=f"The child response failed: {detail}",
            )
        self.runner.record(
            action_id,
            status=ActionStatus.DONE,
            detail=f"{outcome.reason} {response.detail}".strip(),
            **common,
        )
        return response

    def _gone(self, credential: RelatedCredential) -> str:
        """Say why the key no longer exists, or return "" when it may exist.

        A key the attacker deleted again, or whose user was deleted, needs no
        response run: RAM has nothing left to disable.
        """
        if self.connection is None or not credential.user_name:
            return ""
        from tasks import ram as ram_tasks

        key = credential.access_key_id
        try:
            keys = ram_tasks.list_access_keys.fn(
                self.connection, credential.user_name, incident=self.incident
            )
        except CloudError as error:
            if error.code.startswith("EntityNotExist.User"):
                return (
                    f"Not started: AccessKey {key} no longer exists, because user "
                    f"{credential.user_name} was deleted."
                )
            self.log.warning(
                "could not list the keys of user=%s incident=%s: %s",
                credential.user_name,
                self.incident,
                error,
            )
            return ""
        except ValueError:
            return ""
        if any(item.get("AccessKeyId") == key for item in keys):
            return ""
        return (
            f"Not started: AccessKey {key} is no longer among the keys of user "
            f"{credential.user_name}."
        )

    def _child_params(self, key: str, mode: str, incident: str) -> Any:
        """Build the child's request: the parent's settings for another key.

        The child starts from the parent's incident window, because the key was
        made during it, and does not search the attacker IPs again, because the
        parent already did.
        """
        values = self.params.model_dump()
        values["investigation"]["search_attacker_ips"] = False
        values.update(
            access_key_id=key,
            mode=mode,
            rotatable_now="unknown",
            incident_id=incident,
            incident_start=self.incident_start,
            report_path=str(self._child_report_path(key)),
            parent_incident_id=self.incident,
        )
        return type(self.params)(**values)

    def _child_report_path(self, key: str) -> Path:
        name = self.report_path.name.removesuffix(".json")
        return self.report_path.with_name(f"{name}.related-{key}.json")

    def _start(self, child: Any) -> ChildResponse:
        run_tags = [
            "akresponder",
            f"key:{child.access_key_id}",
            f"incident:{child.incident_id}",
            f"parent:{self.incident}",
        ]
        deployment = _served_deployment()
        if deployment is not None:
            return self._start_deployment(deployment, child, run_tags)
        from flows.respond import respond_to_compromised_key

        with tags(*run_tags):
            state = respond_to_compromised_key(child, return_state=True)
        run_id = state.state_details.flow_run_id
        report = state.result(raise_on_failure=True)
        return _outcome(child, report, str(run_id) if run_id else None)

    def _start_deployment(
        self, deployment: str, child: Any, run_tags: list[str]
    ) -> ChildResponse:
        from prefect.deployments import run_deployment

        from deployments.inprocess import waiting_for_other_runs

        # run_deployment links the child to a task run of this run, so the UI shows
        # it under the parent. The in-process runner of deployments.serve does not
        # count a parent inside waiting_for_other_runs against its limit.
        # NOTE: a worker with --limit, or "serve --subprocess-runs", does count it.
        # When waiting parents take every slot, their children start only after
        # CHILD_RUN_TIMEOUT_SECONDS.
        with waiting_for_other_runs():
            flow_run = run_deployment(
                deployment,
                parameters={"params": child.model_dump(mode="json")},
                tags=run_tags,
                idempotency_key=f"respond-{child.access_key_id}-{child.incident_id}",
                timeout=CHILD_RUN_TIMEOUT_SECONDS,
            )
        state = flow_run.state
        report: dict[str, Any] = {}
        path = Path(child.report_path)
        if path.exists():
            report = json.loads(path.read_text(encoding="utf-8"))
        outcome = _outcome(child, report, str(flow_run.id))
        if state is None or not state.is_completed():
            name = state.name if state is not None else "unknown"
            outcome.status = "failed" if state and state.is_final() else "skipped"
            outcome.detail = (
                f"Child run {flow_run.id} of {deployment} is {name}; see its report "
                f"at {child.report_path} when it ends."
            )
        return outcome


def _outcome(child: Any, report: dict[str, Any], run_id: str | None) -> ChildResponse:
    decision = report.get("decision") or {}
    path = decision.get("path")
    complete = report.get("complete")
    return ChildResponse(
        status="done",
        mode=str(child.mode.value if hasattr(child.mode, "value") else child.mode),
        incident_id=child.incident_id,
        flow_run_id=run_id,
        path=path,
        complete=complete,
        report_path=report.get("report_path") or child.report_path,
        detail=f"Child response took path {path}, complete={complete}.",
    )


def _served_deployment() -> str | None:
    """Return ``<flow name>/<deployment name>`` when this run is served, else None."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    deployment_id = context.flow_run.deployment_id
    if deployment_id is None:
        return None
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    return f"{context.flow.name}/{deployment.name}"
