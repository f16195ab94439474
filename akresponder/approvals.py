"""Human approval for destructive steps, through Prefect's pause with typed input.

A destructive step (delete a key, detach a policy, remove the owner's other key)
asks ``request_approval``. The answer comes from, in this order:

1. ``auto_approve``: yes, without asking.
2. A run that no deployment serves (the CLI, ephemeral mode) cannot be resumed by
   anyone, so the answer is no, and the log says how to approve: re-run with
   ``--auto-approve`` or run the flow through a deployment. Tests and tools that
   resume the run themselves set ``pause_without_deployment``.
3. Otherwise the flow run pauses with ``pause_flow_run(wait_for_input=...)``; the
   Prefect UI shows the question as a form, and
   ``POST /api/flow_runs/{id}/resume`` with ``{"run_input": {...}}`` answers it.

Prefect 3.9 fails a flow run whose pause times out, even when the flow catches
``FlowPauseTimeout``. So a timer resumes the run itself with the default answer
(``on_timeout``, deny unless configured) just before Prefect's own deadline, and
the step is recorded ``skipped`` with the reason.
"""

from __future__ import annotations

import hashlib
import re
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from akresponder import notify

# Seconds the pause outlives the timer, so that the timer's resume reaches the
# server before the pause expires there.
PAUSE_GRACE_SECONDS = 30


class ApprovalSettings(BaseModel):
    """Settings for asking a person before destructive steps."""

    auto_approve: bool = Field(
        default=False, description="Answer yes to every approval without asking."
    )
    timeout_seconds: int = Field(
        default=3600,
        ge=1,
        le=7 * 24 * 3600,
        description="Seconds to wait for an answer before on_timeout applies.",
    )
    on_timeout: Literal["deny", "approve"] = Field(
        default="deny", description="The answer when nobody answers in time."
    )
    poll_interval_seconds: int = Field(
        default=10, ge=1, le=300, description="Seconds between checks for an answer."
    )
    pause_without_deployment: bool = Field(
        default=False,
        description="Pause for approval even when no deployment serves the run, for "
        "callers that resume it from another thread or process.",
    )


class Approval(RunInput):
    """The answer to "may the responder make this destructive change?"."""

    approved: bool = False
    approver: str = ""
    comment: str = ""


class RotationConfirmation(RunInput):
    """The answer to "do the applications use the new key now?"."""

    applications_updated: bool = False
    confirmed_by: str = ""
    comment: str = ""


@dataclass(frozen=True)
class ApprovalOutcome:
    """An approval's answer and who or what gave it."""

    approved: bool
    answered_by: str  # a person's name, "auto-approve", "timeout" or "not-served"
    reason: str
    comment: str = ""

    @property
    def by_person(self) -> bool:
        return self.answered_by not in ("auto-approve", "timeout", "not-served")


# The AccessKey ID and incident of the response in this context, so that a pause
# can tell people which incident is waiting. Set by the response flow.
_INCIDENT: ContextVar[tuple[str, str] | None] = ContextVar("incident", default=None)


def set_incident(access_key_id: str, incident_id: str) -> None:
    """Name the incident that later approval requests in this context belong to."""
    _INCIDENT.set((access_key_id, incident_id))


def pause_key(key: str) -> str:
    """Turn an approval key into a name Prefect accepts for a pause.

    Prefect 3.9 validates run-input keys as lower-case letters, digits and dashes,
    while approval keys carry RAM names such as ``detach-AdministratorAccess``. When
    the key has to change, a short hash of the original keeps two keys that differ
    only in case or punctuation apart.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "approval"
    if slug == key:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{slug[:40]}-{digest}"


def is_served() -> bool:
    """Return True when the current flow run belongs to a deployment."""
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


def request_approval(
    question: str,
    *,
    key: str,
    settings: ApprovalSettings,
    rotation: bool = False,
) -> ApprovalOutcome:
    """Ask a person ``question`` and return the answer, or the default on timeout.

    ``key`` names the pause; ``pause_key`` turns it into the form Prefect accepts.
    Prefect builds the run input keys from it, so it must be unique within the
    flow run. Raises
    ``FlowPauseTimeout`` only when the timer could not resume the run.
    ``rotation=True`` asks for a ``RotationConfirmation`` instead of an
    ``Approval``.
    """
    logger = get_run_logger()

    if settings.auto_approve:
        logger.info("approval=%s answer=yes by=auto-approve", key)
        return ApprovalOutcome(True, "auto-approve", "auto_approve answered yes.")

    if not is_served() and not settings.pause_without_deployment:
        logger.warning(
            "approval=%s answer=no: this run is not served by a deployment, so "
            "nobody can resume it. To approve, re-run with --auto-approve "
            "(auto_approve=true), or run the flow through a deployment and "
            "answer in the Prefect UI. Question: %s",
            key,
            question,
        )
        return ApprovalOutcome(
            False,
            "not-served",
            "Not approved: the run was not served by a deployment, so nobody could "
            "answer. Re-run with --auto-approve, or through a deployment.",
        )

    return _pause_for_answer(question, key=key, settings=settings, rotation=rotation)


def _pause_for_answer(
    question: str, *, key: str, settings: ApprovalSettings, rotation: bool
) -> ApprovalOutcome:
    logger = get_run_logger()
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    flow_run_id = context.flow_run.id

    default_yes = settings.on_timeout == "approve"
    if rotation:
        form: type[RunInput] = RotationConfirmation
        default_input = {
            "applications_updated": default_yes,
            "confirmed_by": "timeout",
            "comment": f"No answer in {settings.timeout_seconds} s.",
        }
    else:
        form = Approval
        default_input = {
            "approved": default_yes,
            "approver": "timeout",
            "comment": f"No answer in {settings.timeout_seconds} s.",
        }

    timed_out = threading.Event()
    answered = threading.Event()

    def answer_by_default() -> None:
        if answered.is_set():
            return
        timed_out.set()
        try:
            resume_flow_run(flow_run_id, run_input=default_input)
        except Exception as error:  # noqa: BLE001 - a late answer won the race
            logger.info("approval=%s timeout resume not applied: %s", key, error)

    timer = threading.Timer(settings.timeout_seconds, answer_by_default)
    timer.daemon = True
    logger.info(
        "approval=%s waiting up to %d s for an answer in the Prefect UI: %s",
        key,
        settings.timeout_seconds,
        question,
    )
    timer.start()
    incident = _INCIDENT.get()
    if incident is not None:
        notify.notify_approval_needed(
            incident[0],
            incident[1],
            question,
            timeout_seconds=settings.timeout_seconds,
            on_timeout="approve" if default_yes else "deny",
            flow_run_id=flow_run_id,
        )
    try:
        answer = pause_flow_run(
            wait_for_input=form.with_initial_data(description=question),
            timeout=settings.timeout_seconds + PAUSE_GRACE_SECONDS,
            poll_interval=settings.poll_interval_seconds,
            key=pause_key(key),
        )
    except FlowPauseTimeout:
        # Only reachable when the timer's resume failed; Prefect will fail the
        # run, so the report records the deny before that happens.
        answered.set()
        logger.error("approval=%s timed out and could not be answered", key)
        raise
    finally:
        answered.set()
        timer.cancel()

    if rotation:
        approved = bool(answer.applications_updated)
        person = answer.confirmed_by or "unnamed"
    else:
        approved = bool(answer.approved)
        person = answer.approver or "unnamed"
    comment = answer.comment or ""

    if timed_out.is_set():
        word = "yes" if approved else "no"
        logger.warning(
            "approval=%s no answer in %d s: on_timeout=%s applies",
            key,
            settings.timeout_seconds,
            settings.on_timeout,
        )
        return ApprovalOutcome(
            approved,
            "timeout",
            f"No answer within {settings.timeout_seconds} s, so the default answer "
            f"({word}) applied.",
        )

    word = "approved" if approved else "denied"
    logger.info("approval=%s answer=%s by=%s", key, word, person)
    return ApprovalOutcome(
        approved, person, f"{word.capitalize()} by {person}.", comment
    )
