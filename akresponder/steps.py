"""One step of a response: skip if done, plan in a dry run, approve, act, record.

``StepRunner.perform`` is the only place where a response changes the cloud. It
applies the same rules to every step:

* a step the journal records ``done`` (in this run or an earlier one) is not run
  again, which makes re-runs and resumed runs duplicate nothing;
* a dry run records the step ``planned`` and calls nothing;
* a step that needs approval records ``awaiting-approval`` in the journal, asks,
  and is recorded ``skipped`` with the reason when the answer is no;
* a failure is recorded ``failed`` and re-raised, so the flow run fails and a
  re-run resumes at this step.

The journal is saved after every change of status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from akresponder import redact
from akresponder.approvals import ApprovalSettings, request_approval
from akresponder.journal import Journal
from akresponder.report import Action, ActionStatus, UndoStep

logger = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    """The outcome of ``perform`` for one step."""

    action: Action
    ran: bool  # the change was made in this call

    @property
    def done(self) -> bool:
        return self.action.status == ActionStatus.DONE


@dataclass
class StepRunner:
    """Runs the steps of one response against one journal."""

    journal: Journal
    dry_run: bool
    approvals: ApprovalSettings
    needs_approval: Callable[[str], bool]
    incident: str
    started: float = field(default_factory=time.monotonic)
    contained_after: float | None = None
    log: logging.Logger | logging.LoggerAdapter = logger

    def record(
        self,
        action_id: str,
        *,
        step: str,
        target: str,
        status: ActionStatus,
        api: str | None = None,
        detail: str = "",
        undo: UndoStep | None = None,
        before: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Action:
        """Store an action in the journal (and so in the report) and return it."""
        action = Action(
            id=action_id,
            step=step,
            api=api,
            target=target,
            status=status,
            at=datetime.now(UTC),
            undo=undo,
            before=before,
            detail=redact.scrub_text(detail),
            params=redact.scrub(params or {}),
        )
        self.journal.record(action)
        return action

    def mark_contained(self) -> None:
        """Note the first moment the attacker's use of the key was stopped."""
        if self.contained_after is None and not self.dry_run:
            self.contained_after = time.monotonic() - self.started

    def perform(
        self,
        action_id: str,
        *,
        step: str,
        api: str,
        target: str,
        change: Callable[[], str],
        task_name: str,
        undo: UndoStep | None = None,
        before: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        question: str | None = None,
        skip_reason: str | None = None,
    ) -> StepOutcome:
        """Run one changing step by the rules in the module docstring.

        ``change`` makes the call and returns the outcome in words. ``task_name``
        names the task (``update_access_key``) whose approval setting applies.
        ``skip_reason`` records the step ``skipped`` without asking or calling.
        """
        previous = self.journal.action(action_id)
        if previous is not None and previous.status == ActionStatus.DONE:
            self.log.info(
                "step=%s already done at %s incident=%s; not repeated",
                action_id,
                previous.at,
                self.incident,
            )
            return StepOutcome(previous, ran=False)

        common = {
            "step": step,
            "api": api,
            "target": target,
            "undo": undo,
            "before": before,
            "params": params,
        }
        if skip_reason is not None:
            self.log.info("step=%s skipped: %s", action_id, skip_reason)
            action = self.record(
                action_id, status=ActionStatus.SKIPPED, detail=skip_reason, **common
            )
            return StepOutcome(action, ran=False)

        approval_needed = self.needs_approval(task_name)
        if self.dry_run:
            detail = "Dry run: not changed."
            if approval_needed:
                detail += " Needs approval."
            self.log.info("step=%s planned (dry run) target=%s", action_id, target)
            action = self.record(
                action_id, status=ActionStatus.PLANNED, detail=detail, **common
            )
            return StepOutcome(action, ran=False)

        approval_note = ""
        if approval_needed:
            self.record(
                action_id,
                status=ActionStatus.AWAITING_APPROVAL,
                detail=question or step,
                **common,
            )
            outcome = request_approval(
                question or f"{step} ({target})?",
                key=action_id,
                settings=self.approvals,
            )
            if not outcome.approved:
                action = self.record(
                    action_id,
                    status=ActionStatus.SKIPPED,
                    detail=outcome.reason,
                    **common,
                )
                return StepOutcome(action, ran=False)
            approval_note = f" {outcome.reason}"

        self.log.info(
            "step=%s starting api=%s target=%s incident=%s",
            action_id,
            api,
            target,
            self.incident,
        )
        try:
            detail = change()
        except Exception as error:
            self.log.error(
                "step=%s failed api=%s target=%s incident=%s: %s",
                action_id,
                api,
                target,
                self.incident,
                error,
            )
            self.record(
                action_id,
                status=ActionStatus.FAILED,
                detail=f"{type(error).__name__}: {error}",
                **common,
            )
            raise
        action = self.record(
            action_id,
            status=ActionStatus.DONE,
            detail=(detail + approval_note).strip(),
            **common,
        )
        self.log.info("step=%s done target=%s", action_id, target)
        return StepOutcome(action, ran=True)
