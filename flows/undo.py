"""The flow ``undo_response``: revert a response's reversible changes.

It reads a report written by ``respond_to_compromised_key`` and walks its actions
in reverse order. Each ``done`` action whose ``undo`` is reversible is reverted
with the recorded call after approval, and a dry run only plans the calls. Before
each call the flow reads the target's current state, and a change that is reverted
already is skipped without a write, so running undo twice is safe. Actions that
cannot be reverted (a deleted key, a created key) are listed with the reason and
the manual step.

Each undo run writes its own record beside the report: ``<report>.undo.json``,
then ``<report>.undo.2.json`` and so on, so an earlier record is never
overwritten. A dry run writes ``<report>.undo.dry-run.json`` and replaces the
previous plan. The incident journal marks the reverted steps as not done, so
that a later response run makes them again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from akresponder import redact
from akresponder.approvals import ApprovalSettings, request_approval
from akresponder.config import CloudConnection, resolve_connection
from akresponder.errors import CloudError
from akresponder.journal import Journal, default_state_dir
from akresponder.report import (
    Action,
    ActionStatus,
    Report,
    UndoReport,
    load_report,
    report_dict,
    write_report,
)
from tasks import ram as ram_tasks

# Every detail of a change found reverted already starts with this.
_ALREADY = "Already reverted:"


class _StillAttached(RuntimeError):
    """The deny policy is attached somewhere else, so deleting it would fail."""


class _CannotRevert(RuntimeError):
    """The target no longer exists, so the reverting call cannot succeed."""


def _reverted_already(
    connection: CloudConnection, api: str, params: dict, incident: str
) -> str | None:
    """Return a detail saying why the target is already reverted, or None.

    Only read calls are made, so a second undo of the same report writes nothing.
    Raises ``_CannotRevert`` when the target no longer exists and the reverting
    call could not bring it back.
    """
    if api == "ram:UpdateAccessKey":
        return _key_reverted(connection, params, incident)
    if api in ("ram:DetachPolicyFromUser", "ram:AttachPolicyToUser"):
        attached = any(
            item.get("PolicyName") == params["PolicyName"]
            and item.get("PolicyType") == params.get("PolicyType", "Custom")
            for item in ram_tasks.list_policies_for_user(
                connection, params["UserName"], incident=incident
            )
        )
        if attached != (api == "ram:AttachPolicyToUser"):
            return None
        state = "attached to" if attached else "not attached to"
        return f"{_ALREADY} {params['PolicyName']} is {state} {params['UserName']}."
    if api == "ram:UpdateLoginProfile":
        profile = ram_tasks.get_login_profile(
            connection, params["UserName"], incident=incident
        )
        expected = bool(params["MFABindRequired"])
        if profile is None:
            return (
                f"{_ALREADY} {params['UserName']} has no console login any more, "
                "so no MFA setting is left to change."
            )
        if bool(profile.get("MFABindRequired")) == expected:
            return (
                f"{_ALREADY} MFABindRequired of {params['UserName']} is "
                f"{str(expected).lower()}."
            )
        return None
    if api == "ram:DeletePolicy":
        try:
            ram_tasks.get_policy(
                connection, params["PolicyName"], "Custom", incident=incident
            )
        except CloudError as error:
            if error.is_not_found:
                return f"{_ALREADY} policy {params['PolicyName']} is deleted."
            raise
        return None
    return None


def _key_reverted(
    connection: CloudConnection, params: dict, incident: str
) -> str | None:
    key = params["UserAccessKeyId"]
    keys = ram_tasks.list_access_keys(connection, params["UserName"], incident=incident)
    status = next(
        (item.get("Status") for item in keys if item.get("AccessKeyId") == key),
        None,
    )
    if status is None:
        raise _CannotRevert(
            f"AccessKey {key} of {params['UserName']} no longer exists, so it cannot "
            f"be set to {params['Status']} again; create a new key if one is needed."
        )
    if status == params["Status"]:
        return f"{_ALREADY} {key} is {status}."
    return None


def _revert(connection: CloudConnection, api: str, params: dict, incident: str) -> str:
    """Make the reverting call recorded in an action's ``undo`` and return a detail.

    An error that means the target is in the reverted state already, such as
    EntityNotExist on a detach or EntityAlreadyExists on an attach, counts as
    reverted, because another run can change the target between the check and
    the call.
    """
    if api == "ram:UpdateAccessKey":
        ram_tasks.update_access_key(
            connection,
            params["UserName"],
            params["UserAccessKeyId"],
            params["Status"],
            incident=incident,
        )
        return f"{params['UserAccessKeyId']} is {params['Status']} again."
    if api == "ram:DetachPolicyFromUser":
        try:
            result = ram_tasks.detach_policy_from_user(
                connection,
                params["PolicyName"],
                params["UserName"],
                params.get("PolicyType", "Custom"),
                incident=incident,
            )
        except CloudError as error:
            # RAM returns EntityNotExist.Policy once the policy itself is deleted.
            if not error.is_not_found:
                raise
            result = {"Changed": False}
        if not result.get("Changed", True):
            return (
                f"{_ALREADY} {params['PolicyName']} is not attached to "
                f"{params['UserName']}."
            )
        return f"Detached {params['PolicyName']} from {params['UserName']}."
    if api == "ram:AttachPolicyToUser":
        result = ram_tasks.attach_policy_to_user(
            connection,
            params["PolicyName"],
            params["UserName"],
            params.get("PolicyType", "Custom"),
            incident=incident,
        )
        if not result.get("Changed", True):
            return (
                f"{_ALREADY} {params['PolicyName']} is attached to "
                f"{params['UserName']}."
            )
        return f"Attached {params['PolicyName']} to {params['UserName']} again."
    if api == "ram:UpdateLoginProfile":
        ram_tasks.update_login_profile(
            connection,
            params["UserName"],
            mfa_bind_required=bool(params["MFABindRequired"]),
            incident=incident,
        )
        return f"MFABindRequired of {params['UserName']} is back to false."
    if api == "ram:DeletePolicy":
        return _delete_policy(connection, params["PolicyName"], incident)
    raise ValueError(
        f"undo API {api!r} is not supported; revert it by hand with the recorded "
        "parameters"
    )


def _delete_policy(connection: CloudConnection, name: str, incident: str) -> str:
    """Delete the deny policy unless another identity still has it attached."""
    entities = ram_tasks.list_entities_for_policy(
        connection, name, "Custom", incident=incident
    )
    holders = []
    for kind, entries in entities.items():
        for item in entries:
            name_of = (
                item.get("UserName") or item.get("GroupName") or item.get("RoleName")
            )
            holders.append(f"{kind.lower().rstrip('s')}:{name_of}")
    if holders:
        raise _StillAttached(
            f"Policy {name} is still attached to {', '.join(holders)}; detach it "
            "there first, or keep it."
        )
    try:
        ram_tasks.delete_policy(connection, name, incident=incident)
    except CloudError as error:
        if not error.is_not_found:
            raise
        return f"{_ALREADY} policy {name} is deleted."
    return f"Deleted policy {name}."


def _source(report: str | dict[str, Any]) -> tuple[Report, Path | None]:
    if isinstance(report, dict):
        return load_report(report), None
    path = Path(report).expanduser()
    return load_report(path), path


@flow(name="undo-response", persist_result=False, log_prints=False)
def undo_response(
    report: str | dict[str, Any],
    dry_run: bool = False,
    auto_approve: bool = False,
    approval: ApprovalSettings | None = None,
    undo_report_path: str | None = None,
    state_dir: str | None = None,
    credentials_block: str | None = None,
) -> dict[str, Any]:
    """Revert the reversible changes of a response, newest first; return the report.

    ``report`` is the path of a JSON report or the report dict. Each revert waits
    for approval unless ``auto_approve``; ``dry_run`` plans and changes nothing.
    Raises ``RuntimeError`` after writing the undo report when a revert failed.
    """
    redact.install()
    log = get_run_logger()
    source, source_path = _source(report)
    settings = (approval or ApprovalSettings()).model_copy(
        update={
            "auto_approve": bool(
                auto_approve or (approval is not None and approval.auto_approve)
            )
        }
    )
    if credentials_block:
        from blocks.credentials import AlibabaCloudCredentials

        connection = resolve_connection(AlibabaCloudCredentials.load(credentials_block))
    else:
        connection = resolve_connection()
    incident = source.incident_id
    journal = _journal(source, state_dir, writable=not dry_run)

    log.info(
        "Undoing incident=%s access_key_id=%s dry_run=%s",
        incident,
        source.access_key_id,
        dry_run,
    )
    results: list[Action] = []
    next_steps: list[str] = []
    failed: list[str] = []
    unapproved: list[str] = []
    blocked: list[str] = []
    for action in reversed(source.actions):
        if action.status != ActionStatus.DONE or action.undo is None:
            continue
        undo = action.undo
        base = {
            "id": f"undo-{action.id}",
            "step": f"Revert: {action.step}",
            "api": undo.api,
            "target": action.target,
            "undo": None,
            "before": None,
            "params": redact.scrub(undo.params),
        }
        if not undo.reversible or not undo.api:
            note = undo.note or "It cannot be reverted."
            results.append(
                Action(**base, status=ActionStatus.SKIPPED, at=_now(), detail=note)
            )
            next_steps.append(f"{action.step}: {note}")
            continue
        try:
            reverted = _reverted_already(connection, undo.api, undo.params, incident)
        except _CannotRevert as error:
            blocked.append(action.id)
            results.append(
                Action(
                    **base, status=ActionStatus.SKIPPED, at=_now(), detail=str(error)
                )
            )
            next_steps.append(f"{action.step}: {error}")
            continue
        except (CloudError, KeyError) as error:
            log.error(
                "undo step=%s: reading the target state failed: %s", action.id, error
            )
            failed.append(action.id)
            results.append(_failed(base, error))
            continue
        if reverted is not None:
            results.append(
                Action(**base, status=ActionStatus.SKIPPED, at=_now(), detail=reverted)
            )
            _mark_reverted(journal, action, reverted, dry_run)
            continue
        if dry_run:
            results.append(
                Action(
                    **base,
                    status=ActionStatus.PLANNED,
                    at=_now(),
                    detail="Dry run: not changed. Needs approval.",
                )
            )
            continue
        outcome = request_approval(
            f"Revert '{action.step}' on {action.target} with {undo.api}?",
            key=f"undo-{action.id}",
            settings=settings,
        )
        if not outcome.approved:
            unapproved.append(action.id)
            results.append(
                Action(
                    **base,
                    status=ActionStatus.SKIPPED,
                    at=_now(),
                    detail=outcome.reason,
                )
            )
            continue
        try:
            detail = _revert(connection, undo.api, undo.params, incident)
        except (_StillAttached, CloudError, ValueError, KeyError) as error:
            log.error("undo step=%s failed: %s", action.id, error)
            failed.append(action.id)
            results.append(_failed(base, error))
            continue
        status = (
            ActionStatus.SKIPPED if detail.startswith(_ALREADY) else ActionStatus.DONE
        )
        results.append(Action(**base, status=status, at=_now(), detail=detail))
        _mark_reverted(journal, action, detail, dry_run)

    if unapproved:
        next_steps.insert(
            0,
            f"Reverts of {', '.join(unapproved)} were not approved: run the undo "
            "again with --auto-approve (auto_approve=true), or through a deployment.",
        )
    undo_report = UndoReport(
        incident_id=incident,
        access_key_id=source.access_key_id,
        dry_run=dry_run,
        source_report=str(source_path) if source_path else None,
        actions=results,
        next_steps=next_steps,
        complete=not failed and not unapproved and not blocked,
    )
    target = _undo_path(undo_report_path, source_path, source, dry_run, state_dir)
    try:
        written = write_report(undo_report, target)
    except OSError:
        # Drop the empty file that reserved the name, so no blank record stays.
        if target.exists() and target.stat().st_size == 0:
            target.unlink()
        raise
    log.info(
        "Undo report written incident=%s path=%s reverted=%d failed=%d",
        incident,
        written,
        sum(1 for item in results if item.status == ActionStatus.DONE),
        len(failed),
    )
    data = report_dict(undo_report)
    data["report_path"] = str(written)
    if failed:
        raise RuntimeError(
            f"undo of incident {incident} failed for {', '.join(failed)}; see "
            f"{written} for the errors"
        )
    return data


def _failed(base: dict[str, Any], error: Exception) -> Action:
    return Action(
        **base,
        status=ActionStatus.FAILED,
        at=_now(),
        detail=f"{type(error).__name__}: {error}",
    )


def _mark_reverted(
    journal: Journal | None, action: Action, detail: str, dry_run: bool
) -> None:
    """Mark the step as not done in the journal, so a later response redoes it."""
    if journal is None or dry_run:
        return
    journal.record(
        action.model_copy(
            update={
                "status": ActionStatus.SKIPPED,
                "at": _now(),
                "detail": f"Reverted by undo: {detail}",
            }
        )
    )


def _journal(
    source: Report, state_dir: str | None, *, writable: bool
) -> Journal | None:
    """Return the incident's journal when it belongs to the same incident."""
    journal = Journal.open(source.access_key_id, state_dir=state_dir, writable=writable)
    if not journal.exists or journal.incident_id != source.incident_id:
        return None
    return journal


def _undo_path(
    explicit: str | None,
    source_path: Path | None,
    source: Report,
    dry_run: bool,
    state_dir: str | None,
) -> Path:
    """Return where this run's undo report goes; see the module docstring."""
    if explicit:
        return Path(explicit).expanduser()
    if dry_run:
        stem, suffix = ".undo.dry-run", ".json"
    else:
        stem, suffix = ".undo", ".json"
    if source_path is not None:
        base = source_path.with_name(source_path.name.removesuffix(".json") + stem)
    else:
        # A report passed as a dict has no folder of its own, so the undo report
        # goes with the incident journals, not the caller's working directory.
        folder = Path(state_dir).expanduser() if state_dir else default_state_dir()
        base = folder / f"{source.access_key_id}.{source.incident_id}{stem}"
    if dry_run:
        return base.with_name(base.name + suffix)
    return _reserve_unused(base, suffix)


def _reserve_unused(base: Path, suffix: str) -> Path:
    """Create and return the first free ``base.json``, ``base.2.json``, ...

    The empty file is created with O_EXCL, so two undo runs at the same time get
    different names; ``write_report`` then replaces it with the report.
    """
    base.parent.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        name = base.name + (suffix if number == 1 else f".{number}{suffix}")
        candidate = base.with_name(name)
        try:
            with open(candidate, "x", encoding="utf-8"):
                return candidate
        except FileExistsError:
            number += 1


def _now() -> datetime:
    return datetime.now(UTC)
