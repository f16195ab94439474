"""Tell people that a response started, waits for approval, or ended.

Messages go through Prefect notification blocks, named as
``<block type slug>/<block name>`` (for example ``slack-webhook/secops`` or
``custom-webhook/dingtalk-secops``). The names come from the ``blocks`` argument,
else from ``$AKRESPONDER_NOTIFY_BLOCKS`` (comma-separated), else from a
``notification_blocks`` list on the settings object passed in. With no name
configured, nothing is sent.

Prefect 3.9 ships ``SlackWebhook``, ``MicrosoftTeamsWebhook``,
``CustomWebhookNotificationBlock`` and several Apprise-based blocks, but no
DingTalk block. ``dingtalk_webhook_block`` therefore builds a
``CustomWebhookNotificationBlock`` that posts DingTalk's markdown message to a
custom robot.

Every subject and body passes through ``akresponder.redact.scrub_text``, and the
secret values of each block (webhook URLs, tokens) are registered for redaction
before use, so an HTTP error that quotes the URL is masked in the log. A failure
to notify is logged as a warning and never raised: notifications must not stop a
response.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from akresponder import redact

logger = logging.getLogger(__name__)

ENV_NOTIFY_BLOCKS = "AKRESPONDER_NOTIFY_BLOCKS"
SUBJECT_PREFIX = "akresponder"
MAX_NEXT_STEPS = 5
# Characters of a message body; chat messages stay short and the report has the rest.
MAX_BODY = 3500
DINGTALK_ROBOT_URL = (
    "https://oapi.dingtalk.com/robot/send?access_token={{access_token}}"
)


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one message through one block."""

    block: str
    sent: bool
    error: str = ""


def configured_blocks(settings: object | None = None) -> list[str]:
    """Return the notification block names from the environment or ``settings``."""
    text = os.environ.get(ENV_NOTIFY_BLOCKS, "")
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names:
        return names
    from_settings = getattr(settings, "notification_blocks", None) or []
    return [str(name) for name in from_settings if str(name).strip()]


def run_url(flow_run_id: object | None = None) -> str | None:
    """Return the Prefect UI link of a flow run (the current one by default).

    Returns None when ``PREFECT_UI_URL`` (or an API URL it derives from) is not
    set, or when there is no flow run.
    """
    from prefect.utilities.urls import url_for

    if flow_run_id is None:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        if context is None or context.flow_run is None:
            return None
        flow_run_id = context.flow_run.id
    try:
        return url_for("flow-run", obj_id=str(flow_run_id))
    except Exception:  # noqa: BLE001 - a missing UI URL must not stop a message
        return None


def _register_block_secrets(block: Any) -> None:
    """Register a block's secret values so that error messages mask them."""
    for name in type(block).model_fields:
        value = getattr(block, name, None)
        if hasattr(value, "get_secret_value"):
            secret = value.get_secret_value()
            if isinstance(secret, str):
                redact.register_secret(secret)
            elif isinstance(secret, dict):
                for item in secret.values():
                    if isinstance(item, str):
                        redact.register_secret(item)


def _load(reference: Any) -> tuple[str, Any]:
    from prefect.blocks.core import Block

    if isinstance(reference, Block):
        return type(reference).__name__, reference
    name = str(reference).strip()
    if "/" not in name:
        raise ValueError(
            f"notification block name {name!r} lacks its type; write "
            "<block type slug>/<name>, such as slack-webhook/secops"
        )
    return name, Block.load(name)


def send(
    subject: str, body: str, blocks: Iterable[Any] | None = None
) -> list[Delivery]:
    """Send one message through each block and return the outcome of each.

    ``blocks`` holds block names (``slug/name``) or block instances; None means
    ``configured_blocks()``. A block that cannot be loaded or fails to send is
    logged and reported in its ``Delivery``; no exception from it propagates.
    """
    references = list(configured_blocks() if blocks is None else blocks)
    subject = redact.scrub_text(subject)
    body = redact.scrub_text(body)
    if len(body) > MAX_BODY:
        body = body[: MAX_BODY - 20] + "\n\n(message truncated)"
    deliveries = []
    for reference in references:
        label = str(reference) if isinstance(reference, str) else "block"
        try:
            label, block = _load(reference)
            _register_block_secrets(block)
            block.notify(body=body, subject=subject)
        except Exception as error:  # noqa: BLE001 - notifying must not fail a response
            message = redact.scrub_text(f"{type(error).__name__}: {error}")
            logger.warning(
                "notification failed block=%s subject=%r: %s", label, subject, message
            )
            deliveries.append(Delivery(label, False, message))
            continue
        logger.info("notification sent block=%s subject=%r", label, subject)
        deliveries.append(Delivery(label, True))
    return deliveries


def _link_line(flow_run_id: object | None) -> str:
    link = run_url(flow_run_id)
    return f"Flow run: {link}" if link else "Flow run: (set PREFECT_UI_URL for a link)"


def notify_started(
    access_key_id: str,
    incident_id: str,
    *,
    mode: str = "auto",
    dry_run: bool = False,
    alert_summary: str | None = None,
    flow_run_id: object | None = None,
    blocks: Sequence[Any] | None = None,
) -> list[Delivery]:
    """Announce that a response for ``access_key_id`` started."""
    kind = "dry run" if dry_run else "response"
    subject = f"{SUBJECT_PREFIX}: {kind} started for {access_key_id} ({incident_id})"
    lines = [
        f"Incident: {incident_id}",
        f"AccessKey ID: {access_key_id}",
        f"Mode: {mode}" + (" (dry run: nothing is changed)" if dry_run else ""),
    ]
    if alert_summary:
        lines.append(f"Alert: {alert_summary}")
    lines.append(_link_line(flow_run_id))
    return send(subject, "\n".join(lines), blocks)


def notify_approval_needed(
    access_key_id: str,
    incident_id: str,
    question: str,
    *,
    timeout_seconds: int | None = None,
    on_timeout: str | None = None,
    flow_run_id: object | None = None,
    blocks: Sequence[Any] | None = None,
) -> list[Delivery]:
    """Ask people to approve or deny a step of the response in the Prefect UI."""
    subject = f"{SUBJECT_PREFIX}: approval needed for {access_key_id} ({incident_id})"
    lines = [
        f"Incident: {incident_id}",
        f"AccessKey ID: {access_key_id}",
        f"Question: {question}",
    ]
    if timeout_seconds is not None:
        default = on_timeout or "deny"
        lines.append(
            f"Without an answer in {timeout_seconds} s the answer is {default}."
        )
    lines.append("Answer in the Prefect UI: open the paused run and fill in the form.")
    lines.append(_link_line(flow_run_id))
    return send(subject, "\n".join(lines), blocks)


def notify_finished(
    report: dict[str, Any],
    *,
    flow_run_id: object | None = None,
    blocks: Sequence[Any] | None = None,
) -> list[Delivery]:
    """Report the outcome of a response from its report dict."""
    key = report.get("access_key_id", "?")
    incident = report.get("incident_id", "?")
    complete = bool(report.get("complete"))
    word = "finished" if complete else "needs a person"
    subject = f"{SUBJECT_PREFIX}: response {word} for {key} ({incident})"

    counts: dict[str, int] = {}
    for action in report.get("actions") or []:
        status = str(action.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
    actions = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    decision = report.get("decision") or {}
    owner = report.get("owner") or {}
    owner_text = f"{owner.get('type', 'unknown')} {owner.get('user_name') or ''}"
    lines = [
        f"Incident: {incident}",
        f"AccessKey ID: {key}",
        f"Owner: {owner_text.rstrip()}",
        f"Path: {decision.get('path', 'unknown')}"
        + (" (dry run)" if report.get("dry_run") else ""),
        f"Actions: {actions or 'none'}",
        f"Findings: {len(report.get('findings') or [])}",
        f"Complete: {'yes' if complete else 'no'}",
    ]
    steps = list(report.get("next_steps") or [])
    if steps:
        lines.append("Next steps:")
        for number, step in enumerate(steps[:MAX_NEXT_STEPS], start=1):
            lines.append(f"{number}. {step}")
        if len(steps) > MAX_NEXT_STEPS:
            lines.append(f"({len(steps) - MAX_NEXT_STEPS} more in the report)")
    if report.get("report_path"):
        lines.append(f"Report: {report['report_path']}")
    lines.append(_link_line(flow_run_id))
    return send(subject, "\n".join(lines), blocks)


def dingtalk_webhook_block(
    access_token: str, *, name: str = "dingtalk", url: str = DINGTALK_ROBOT_URL
) -> Any:
    """Build a ``CustomWebhookNotificationBlock`` for a DingTalk custom robot.

    The robot's access token is kept in the block's ``secrets`` and fills the
    ``{{access_token}}`` placeholder of ``url``. Every subject starts with
    "akresponder", so set that as the robot's keyword. Save the result with
    ``.save("dingtalk-secops")`` and name it ``custom-webhook/dingtalk-secops``.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    # NOTE: DingTalk's "additional signature" security setting needs a timestamp
    # and an HMAC for each message. This template cannot compute them, so give the
    # robot the keyword or IP address setting instead.
    return CustomWebhookNotificationBlock(
        name=name,
        url=url,
        json_data={
            "msgtype": "markdown",
            "markdown": {"title": "{{subject}}", "text": "{{body}}"},
        },
        secrets={"access_token": access_token},
    )
