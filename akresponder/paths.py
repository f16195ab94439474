"""The steps of each response path, as a base class of the flow's ``ResponseRun``.

``PathSteps`` contains one method per path (``_delete_path``, ``_rotate_path``,
``_contain_path``, ``_manual_path``) and the steps they share. Every changing step
goes through ``StepRunner.perform``, so the journal, dry run and approval rules
apply to each of them. The attributes the methods use (``connection``,
``journal``, ``runner``, ``triage``, ...) are set by ``ResponseRun.__init__`` in
``flows/respond.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akresponder.approvals import request_approval
from akresponder.decision import Path as ResponsePath
from akresponder.errors import CloudError
from akresponder.report import ActionStatus, Finding, RelatedCredential, UndoStep
from akresponder.sinks import (
    FileSink,
    PrefectSecretSink,
    SecretSink,
    make_sink,
    secret_name,
)
from akresponder.triage import parse_time
from tasks import actiontrail as trail_tasks
from tasks import ram as ram_tasks

if TYPE_CHECKING:
    from blocks.settings import ResponderSettings

ESCALATION_EVENT = "akresponder.incident.escalated"
# The journal fact written just before CreateAccessKey: the user and the key ids it
# had, so that a run after a crash can tell the key the call made.
CREATE_STARTED = "create_key_started"

ROOT_KEY_STEPS = [
    "Sign in to the Alibaba Cloud console with the account (root) credentials and "
    "MFA; a RAM identity cannot manage the root's AccessKeys.",
    "Open the AccessKey page: click the profile picture in the upper-right corner, "
    "then AccessKey (ram.console.aliyun.com/manage/ak).",
    "If no application uses {key} (see the audit in this report): click Disable "
    "next to {key}, confirm, then Delete.",
    "If applications use {key}: click Create AccessKey, store the new pair in your "
    "secret manager, switch every application to it and test it, then Disable "
    "{key}, watch for errors for a day, and Delete it.",
    "Better still, stop using root AccessKeys: give the applications a RAM user or "
    "role with only the permissions they need.",
    "Review the audit and billing findings in this report; revert what the "
    "attacker created (users, keys, instances) and check the bill for unexpected "
    "charges.",
]


def _sink(spec: str | None, settings: ResponderSettings) -> SecretSink:
    if spec is None:
        return settings.secret_sink()
    if spec == "block":
        return make_sink("prefect-secret", name_template=settings.secret_name_template)
    if spec == "none":
        return make_sink("none")
    return make_sink(
        "file",
        directory=Path(spec.removeprefix("file:")).expanduser(),
        name_template=settings.secret_name_template,
    )


class PathSteps:
    """The path methods of ``ResponseRun``; see the module docstring."""

    # Shared steps.

    @property
    def user(self) -> str:
        assert self.triage is not None and self.triage.owner.user_name
        return self.triage.owner.user_name

    def _key_status(self, access_key_id: str) -> str | None:
        for entry in ram_tasks.list_access_keys(
            self.connection, self.user, incident=self.incident
        ):
            if entry.get("AccessKeyId") == access_key_id:
                return entry.get("Status")
        return None

    def _disable(self, action_id: str, access_key_id: str) -> bool:
        """Disable a key of the owner; return True when it is inactive afterwards."""
        status = self._key_status(access_key_id)
        undo = UndoStep(
            reversible=True,
            api="ram:UpdateAccessKey",
            params={
                "UserName": self.user,
                "UserAccessKeyId": access_key_id,
                "Status": "Active",
            },
        )
        skip = None
        if status is None:
            skip = f"{access_key_id} no longer exists."
        elif status == "Inactive" and not self.journal.action(action_id):
            skip = f"{access_key_id} was already inactive."

        def change() -> str:
            ram_tasks.update_access_key(
                self.connection,
                self.user,
                access_key_id,
                "Inactive",
                incident=self.incident,
            )
            return f"{access_key_id} is inactive: calls signed with it now fail."

        outcome = self.runner.perform(
            action_id,
            step=f"Disable AccessKey {access_key_id}",
            api="ram:UpdateAccessKey",
            target=f"user/{self.user}/accesskey/{access_key_id}",
            change=change,
            task_name="update_access_key",
            undo=undo if status == "Active" else None,
            before={"Status": status},
            params={
                "UserName": self.user,
                "UserAccessKeyId": access_key_id,
                "Status": "Inactive",
            },
            skip_reason=skip,
        )
        inactive = outcome.done or status == "Inactive"
        if inactive:
            self.runner.mark_contained()
        return inactive

    def _delete(self, action_id: str, access_key_id: str, reason: str) -> bool:
        """Delete a key of the owner after approval; return True when deleted."""
        status = self._key_status(access_key_id)
        skip = None
        if status is None and not self.journal.is_done(action_id):
            skip = f"{access_key_id} no longer exists."

        def change() -> str:
            ram_tasks.delete_access_key(
                self.connection, self.user, access_key_id, incident=self.incident
            )
            return f"{access_key_id} is deleted."

        outcome = self.runner.perform(
            action_id,
            step=f"Delete AccessKey {access_key_id}",
            api="ram:DeleteAccessKey",
            target=f"user/{self.user}/accesskey/{access_key_id}",
            change=change,
            task_name="delete_access_key",
            undo=UndoStep(
                reversible=False,
                note="A deleted AccessKey cannot be restored; create a new one.",
            ),
            before={"Status": status},
            params={"UserName": self.user, "UserAccessKeyId": access_key_id},
            question=f"Delete AccessKey {access_key_id} of RAM user {self.user}? "
            f"{reason} Deleting cannot be undone.",
            skip_reason=skip,
        )
        if not outcome.done and skip is None and not self.params.dry_run:
            self.complete = False
            self.next_steps.append(
                f"Delete {access_key_id} when you are sure nothing needs it: re-run "
                "with --auto-approve, or approve the step in the Prefect UI."
            )
        return outcome.done

    # Paths.

    def _delete_path(self) -> None:
        self._disable("disable-key", self.key_id)
        self._delete(
            "delete-key",
            self.key_id,
            "It is disabled and was not needed by any application.",
        )

    def _rotate_path(self) -> None:
        assert self.triage is not None
        removed = self._remove_orphan_key()
        if removed is None:
            self._fall_back_to_contain(
                f"An AccessKey that an interrupted run made for {self.user} still "
                "takes a key slot, so the key was contained instead of rotated."
            )
            return
        if not self._ensure_free_slot(removed):
            self._fall_back_to_contain(
                f"User {self.user} has no free AccessKey slot and removing its other "
                "key was not approved, so the key was contained instead of rotated."
            )
            return
        new_key = self._create_new_key()
        if new_key is None:
            return
        if not self._confirm_rotation(new_key):
            return
        if not self._old_key_quiet(new_key):
            return
        if self._disable("disable-key", self.key_id):
            self._delete(
                "delete-key",
                self.key_id,
                f"It is disabled and replaced by {new_key}.",
            )

    def _ensure_free_slot(self, removed: set[str]) -> bool:
        """Free a key slot of the owner. ``removed`` are keys deleted since triage."""
        assert self.triage is not None
        if self.journal.fact("new_access_key_id") or self.triage.key.free_key_slot:
            return True
        others = [
            key
            for key in self.triage.other_keys
            if key.get("AccessKeyId") not in removed
        ]
        if not others:
            return True
        other = str(others[0].get("AccessKeyId")) if others else ""
        if other == self.triage.responder.access_key_id:
            self.runner.record(
                "remove-other-key",
                step=f"Remove AccessKey {other} to free a slot",
                api="ram:DeleteAccessKey",
                target=f"user/{self.user}/accesskey/{other}",
                status=ActionStatus.SKIPPED,
                detail="It is the key this responder signs in with.",
            )
            return False
        outcome = self.runner.perform(
            "remove-other-key",
            step=f"Remove AccessKey {other} to free a slot for the new key",
            api="ram:DeleteAccessKey",
            target=f"user/{self.user}/accesskey/{other}",
            change=lambda: self._delete_other(other),
            task_name="delete_access_key",
            undo=UndoStep(
                reversible=False,
                note="A deleted AccessKey cannot be restored; create a new one.",
            ),
            before={"Status": others[0].get("Status")},
            params={"UserName": self.user, "UserAccessKeyId": other},
            question=f"User {self.user} already has two AccessKeys. Delete its other "
            f"key {other} so that {self.key_id} can be rotated? Applications that "
            f"use {other} will stop working.",
        )
        return outcome.done or self.params.dry_run

    def _remove_orphan_key(self) -> set[str] | None:
        """Delete the key of a CreateAccessKey call that a crash kept from the journal.

        The journal fact ``CREATE_STARTED`` lists the owner's keys before the call.
        One key that appeared since then is the one the call made. The journal
        cannot show whether the stopped run stored its secret whole in the sink,
        and no application uses the key yet, because the rotation was not
        confirmed. So the key is deleted (after approval, as every deletion), any
        secret of it in the sink is removed, and a fresh pair is created.

        Returns the ids deleted (empty when there was nothing to do), or None when
        a key of the interrupted run still takes a slot: its deletion was not
        approved, or several keys appeared and a person must choose.
        """
        started = self.journal.fact(CREATE_STARTED)
        if not started or self.journal.fact("new_access_key_id"):
            return set()
        before = set(started.get("key_ids_before") or [])
        current = ram_tasks.list_access_keys(
            self.connection, self.user, incident=self.incident
        )
        appeared = [
            str(item.get("AccessKeyId"))
            for item in current
            if item.get("AccessKeyId") not in before
        ]
        if not appeared:
            # The call made no key: it failed, or its key was deleted already.
            self.journal.set_fact(CREATE_STARTED, None)
            return set()

        stopped = (
            f"An earlier run was stopped after it called CreateAccessKey for user "
            f"{self.user} (at {started.get('started_at')}) and before it recorded "
            "the new key."
        )
        if len(appeared) > 1:
            self._report_unclear_orphans(appeared, stopped)
            return None

        orphan = appeared[0]
        self.decision_reasons.append(
            f"{stopped} The journal cannot show whether the secret of the key it "
            f"made, {orphan}, reached the secret sink whole, so that key is deleted "
            "after approval, its secret is removed from the sink, and a fresh pair "
            "is created."
        )
        self.related.append(
            RelatedCredential(
                access_key_id=orphan,
                user_name=self.user,
                relation="orphaned-replacement-key",
                detail="Made by an interrupted run of this response, which did not "
                "record that its secret reached the secret sink.",
            )
        )
        sink = _sink(self.params.secret_sink, self.settings)
        outcome = self.runner.perform(
            f"delete-orphan-{orphan.lower()}",
            step=f"Delete AccessKey {orphan}, made by an interrupted run that did "
            "not record its secret",
            api="ram:DeleteAccessKey",
            target=f"user/{self.user}/accesskey/{orphan}",
            change=lambda: self._delete_orphan(orphan, sink),
            task_name="delete_access_key",
            undo=UndoStep(
                reversible=False,
                note="A deleted AccessKey cannot be restored; no application used "
                "it yet.",
            ),
            params={"UserName": self.user, "UserAccessKeyId": orphan},
            question=f"Delete AccessKey {orphan} of RAM user {self.user}? An "
            "interrupted run of this response created it and did not record its "
            "secret, so no application uses it. A fresh key is created next.",
        )
        if outcome.done:
            self.journal.set_fact(CREATE_STARTED, None)
            return {orphan}
        if self.params.dry_run:
            return {orphan}
        self.complete = False
        self.next_steps.append(
            f"Delete AccessKey {orphan} of user {self.user}: an interrupted run "
            "created it and did not record its secret, so no application uses it. "
            "Then run the response again to rotate the compromised key."
        )
        return None

    def _report_unclear_orphans(self, appeared: list[str], stopped: str) -> None:
        """Stop the automatic handling when several keys appeared since the call.

        Only one of them is the response's, and deleting the wrong one could break
        an application, so a person chooses. The fact is cleared, so the next run
        treats the keys like any other keys of the owner.
        """
        keys = ", ".join(appeared)
        self.runner.record(
            "delete-orphan-key",
            step="Delete the AccessKey made by an interrupted run",
            api="ram:DeleteAccessKey",
            target=f"user/{self.user}",
            status=ActionStatus.SKIPPED,
            detail=f"{stopped} Keys {keys} appeared since, so the response cannot "
            "tell which one it made.",
        )
        self.journal.set_fact(CREATE_STARTED, None)
        self.complete = False
        self.next_steps.append(
            f"AccessKeys {keys} appeared on user {self.user} since an interrupted "
            "run called CreateAccessKey, which did not record the key it made. "
            "Find the key no application uses (RAM console, last used date), "
            "delete it, then run the response again."
        )

    def _delete_orphan(self, orphan: str, sink: SecretSink) -> str:
        ram_tasks.delete_access_key(
            self.connection, self.user, orphan, incident=self.incident
        )
        return f"{orphan} is deleted. {_discard_secret(sink, self.user, orphan)}"

    def _delete_other(self, other: str) -> str:
        ram_tasks.delete_access_key(
            self.connection, self.user, other, incident=self.incident
        )
        return f"{other} is deleted."

    def _create_new_key(self) -> str | None:
        existing = self.journal.fact("new_access_key_id")
        if existing:
            if self._key_status(existing) is None:
                self.complete = False
                self.next_steps.append(
                    f"The replacement key {existing} made by an earlier run no longer "
                    "exists. Move the incident journal away and run again to start "
                    "the rotation afresh."
                )
                self.runner.record(
                    "create-new-key",
                    step="Create a replacement AccessKey",
                    api="ram:CreateAccessKey",
                    target=f"user/{self.user}",
                    status=ActionStatus.FAILED,
                    detail=f"The replacement key {existing} no longer exists.",
                )
                return None
            self.related.append(
                RelatedCredential(
                    access_key_id=existing,
                    user_name=self.user,
                    relation="replacement-key",
                    status="Active",
                )
            )
            return existing

        sink = _sink(self.params.secret_sink, self.settings)
        created: dict[str, Any] = {}

        def change() -> str:
            # Recorded before the call: a crash after RAM made the key but before
            # the journal stored its id leaves the key for _remove_orphan_key.
            keys = ram_tasks.list_access_keys(
                self.connection, self.user, incident=self.incident
            )
            self.journal.set_fact(
                CREATE_STARTED,
                {
                    "user_name": self.user,
                    "key_ids_before": [str(key.get("AccessKeyId")) for key in keys],
                    "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
            result = ram_tasks.create_access_key(
                self.connection, self.user, sink=sink, incident=self.incident
            )
            created.update(result)
            self.journal.set_fact(
                "new_access_key_id", result["AccessKeyId"], persist=False
            )
            self.journal.set_fact(
                "new_key_created_at", result.get("CreateDate"), persist=False
            )
            self.journal.set_fact(CREATE_STARTED, None)
            return (
                f"Created {result['AccessKeyId']}; its secret is in "
                f"{result.get('SecretStoredIn')} and nowhere else."
            )

        outcome = self.runner.perform(
            "create-new-key",
            step="Create a replacement AccessKey and deliver its secret",
            api="ram:CreateAccessKey",
            target=f"user/{self.user}",
            change=change,
            task_name="create_access_key",
            undo=UndoStep(
                reversible=False,
                api="ram:DeleteAccessKey",
                params={"UserName": self.user},
                note="manual: deleting the new key is destructive and needs "
                "approval, because applications may use it already.",
            ),
            params={"UserName": self.user, "SecretSink": sink.kind},
        )
        if not outcome.done:
            return None
        new_key = created.get("AccessKeyId") or self.journal.fact("new_access_key_id")
        self.related.append(
            RelatedCredential(
                access_key_id=new_key,
                user_name=self.user,
                relation="replacement-key",
                status="Active",
                detail=f"Secret delivered to the {sink.kind} sink.",
            )
        )
        return new_key

    def _confirm_rotation(self, new_key: str) -> bool:
        action_id = "confirm-rotation"
        if self.journal.is_done(action_id):
            return True
        common = {
            "step": f"Confirm that the applications use {new_key}",
            "target": f"user/{self.user}",
        }
        if self.params.dry_run:
            self.runner.record(
                action_id,
                status=ActionStatus.PLANNED,
                detail="Dry run: would wait for confirmation.",
                **common,
            )
            return True
        self.runner.record(
            action_id,
            status=ActionStatus.AWAITING_APPROVAL,
            detail="Waiting for confirmation.",
            **common,
        )
        outcome = request_approval(
            f"Have all applications that used {self.key_id} switched to {new_key} "
            "and been tested? Answer applications_updated=true only then: the old key "
            "is disabled next.",
            key=action_id,
            settings=self.approvals,
            rotation=True,
        )
        status = ActionStatus.DONE if outcome.approved else ActionStatus.SKIPPED
        self.runner.record(action_id, status=status, detail=outcome.reason, **common)
        if not outcome.approved:
            self.complete = False
            self.next_steps.append(
                f"Switch the applications to {new_key}, then run the response "
                "again to disable and delete the old key."
            )
        return outcome.approved

    def _old_key_quiet(self, new_key: str) -> bool:
        """Check that the old key made no call since the new key was created."""
        action_id = "check-old-key-traffic"
        step = f"Check that {self.key_id} made no call since {new_key} was created"
        if self.params.dry_run:
            self.runner.record(
                action_id,
                step=step,
                target=self.key_id,
                status=ActionStatus.PLANNED,
                detail="Dry run: would check LookupEvents and last use.",
            )
            return True

        since = parse_time(self.journal.fact("new_key_created_at")) or self.started_at
        # LookupEvents takes whole seconds and needs EndTime after StartTime, so
        # the window starts at the second of creation and lasts at least a second.
        since = since.replace(microsecond=0)
        now = max(datetime.now(UTC), since + timedelta(seconds=1))
        events = trail_tasks.lookup_events(
            self.connection,
            start_time=since,
            end_time=now,
            attributes={"EventAccessKeyId": self.key_id},
            incident=self.incident,
        )
        last = ram_tasks.get_access_key_last_used(
            self.connection, self.user, self.key_id, incident=self.incident
        )
        last_used = parse_time(last.get("LastUsedDate"))
        recent = last_used is not None and last_used > since

        if events or recent:
            ips = sorted({str(event.get("sourceIpAddress")) for event in events})
            detail = (
                f"{len(events)} calls since {since.isoformat()}"
                + (f" from {', '.join(ips)}" if ips else "")
                + (f"; last used {last_used.isoformat()}" if recent else "")
                + ". The old key was left active so that nothing breaks."
            )
            self.runner.record(
                action_id,
                step=step,
                target=self.key_id,
                status=ActionStatus.SKIPPED,
                detail=detail,
            )
            self.complete = False
            self.next_steps.append(
                f"Something still calls with {self.key_id} ({detail}) Find it, "
                "switch it to the new key and run the response again."
            )
            return False

        # NOTE: ActionTrail documents that events become queryable about ten
        # minutes after the call, so a call made just before this check is missed.
        self.runner.record(
            action_id,
            step=step,
            target=self.key_id,
            status=ActionStatus.DONE,
            detail=f"No call since {since.isoformat()}.",
        )
        return True

    def _fall_back_to_contain(self, reason: str) -> None:
        self.path = ResponsePath.CONTAIN
        self.decision_reasons.append(reason)
        self._contain_path()

    def _contain_path(self) -> None:
        assert self.triage is not None
        self._deny()
        self._propose_removals()
        self._require_mfa()
        self.next_steps.append(
            f"Rotate {self.key_id} as soon as its applications can take a new key: "
            "run the response with rotatable_now=yes."
        )

    def _deny(self) -> None:
        assert self.triage is not None
        name = self.settings.deny_policy_name
        document = self.settings.deny_policy_text()
        if self.triage.owner_is_responder:
            reason = (
                f"User {self.user} is the identity this responder signs in with: a "
                "deny policy on it would stop the response."
            )
            for action_id in ("create-deny-policy", "attach-deny-policy"):
                self.runner.record(
                    action_id,
                    step="Deny high-risk operations to the key's user",
                    api="ram:AttachPolicyToUser",
                    target=f"user/{self.user}",
                    status=ActionStatus.SKIPPED,
                    detail=reason,
                )
            self.complete = False
            self.next_steps.append(
                f"Contain {self.key_id} with another identity's credentials: {reason}"
            )
            return

        existing = self._policy_document(name)
        if existing is not None and not self.journal.is_done("create-deny-policy"):
            same = _same_document(existing, document)
            self.runner.record(
                "create-deny-policy",
                step=f"Create the deny policy {name}",
                api="ram:CreatePolicy",
                target=f"policy/{name}",
                status=ActionStatus.SKIPPED,
                detail=f"Policy {name} exists and is reused"
                + ("." if same else "; its document differs from the settings."),
            )
        else:

            def create() -> str:
                try:
                    ram_tasks.create_policy(
                        self.connection,
                        name,
                        document,
                        description="akresponder: deny high-risk operations of a "
                        "compromised AccessKey's user",
                        incident=self.incident,
                    )
                except CloudError as error:
                    # Responses for several keys share the policy, and another one
                    # can create it between the check above and this call.
                    if error.code != "EntityAlreadyExists.Policy":
                        raise
                    return (
                        f"Policy {name} was created by another response at the "
                        "same time and is reused."
                    )
                return f"Created custom policy {name}."

            self.runner.perform(
                "create-deny-policy",
                step=f"Create the deny policy {name}",
                api="ram:CreatePolicy",
                target=f"policy/{name}",
                change=create,
                task_name="create_policy",
                undo=UndoStep(
                    reversible=True,
                    api="ram:DeletePolicy",
                    params={"PolicyName": name},
                ),
                params={"PolicyName": name},
            )

        attached = any(
            item.policy_name == name and item.attached_to == f"user:{self.user}"
            for item in self.triage.permissions
        )

        def attach() -> str:
            result = ram_tasks.attach_policy_to_user(
                self.connection, name, self.user, "Custom", incident=self.incident
            )
            if not result.get("Changed", True):
                return f"{name} was already attached to {self.user}."
            return f"Attached {name} to {self.user}: high-risk calls are denied."

        outcome = self.runner.perform(
            "attach-deny-policy",
            step=f"Attach the deny policy {name} to user {self.user}",
            api="ram:AttachPolicyToUser",
            target=f"user/{self.user}",
            change=attach,
            task_name="attach_policy_to_user",
            undo=UndoStep(
                reversible=True,
                api="ram:DetachPolicyFromUser",
                params={
                    "PolicyType": "Custom",
                    "PolicyName": name,
                    "UserName": self.user,
                },
            ),
            before={"Attached": attached},
            params={"PolicyType": "Custom", "PolicyName": name, "UserName": self.user},
            skip_reason=f"{name} is already attached to {self.user}."
            if attached and not self.journal.action("attach-deny-policy")
            else None,
        )
        if outcome.done or attached:
            self.runner.mark_contained()
        elif not self.params.dry_run:
            self.complete = False

    def _policy_document(self, name: str) -> str | None:
        try:
            policy = ram_tasks.get_policy(
                self.connection, name, "Custom", incident=self.incident
            )
        except CloudError as error:
            if error.is_not_found:
                return None
            raise
        return (policy.get("DefaultPolicyVersion") or {}).get("PolicyDocument") or ""

    def _propose_removals(self) -> None:
        assert self.triage is not None
        for permission in self.triage.permissions:
            if not permission.proposed_for_removal:
                continue
            if not permission.attached_to.startswith("user:"):
                self.next_steps.append(
                    f"Consider removing {self.user} from "
                    f"{permission.attached_to.removeprefix('group:')}, whose policy "
                    f"{permission.policy_name} the key does not need: "
                    f"{permission.reason}"
                )
                continue
            name = permission.policy_name
            policy_type = permission.policy_type

            def detach(name: str = name, policy_type: str = policy_type) -> str:
                ram_tasks.detach_policy_from_user(
                    self.connection,
                    name,
                    self.user,
                    policy_type,
                    incident=self.incident,
                )
                return f"Detached {name} from {self.user}."

            self.runner.perform(
                f"detach-{name}",
                step=f"Detach policy {name} that the key does not need",
                api="ram:DetachPolicyFromUser",
                target=f"user/{self.user}",
                change=detach,
                task_name="detach_policy_from_user",
                undo=UndoStep(
                    reversible=True,
                    api="ram:AttachPolicyToUser",
                    params={
                        "PolicyType": policy_type,
                        "PolicyName": name,
                        "UserName": self.user,
                    },
                ),
                before={"Attached": True},
                params={
                    "PolicyType": policy_type,
                    "PolicyName": name,
                    "UserName": self.user,
                },
                question=f"Detach {policy_type} policy {name} from user {self.user}? "
                f"{permission.reason} Applications that need it will fail.",
            )

    def _require_mfa(self) -> None:
        assert self.triage is not None
        profile = self.triage.login_profile
        if profile is None:
            return
        required = bool(profile.get("MFABindRequired"))

        def change() -> str:
            ram_tasks.update_login_profile(
                self.connection,
                self.user,
                mfa_bind_required=True,
                incident=self.incident,
            )
            return f"Console login of {self.user} now requires MFA."

        self.runner.perform(
            "require-mfa",
            step=f"Require MFA on the console login of {self.user}",
            api="ram:UpdateLoginProfile",
            target=f"user/{self.user}/loginprofile",
            change=change,
            task_name="update_login_profile",
            undo=UndoStep(
                reversible=True,
                api="ram:UpdateLoginProfile",
                params={"UserName": self.user, "MFABindRequired": False},
            ),
            before={"MFABindRequired": required},
            params={"UserName": self.user, "MFABindRequired": True},
            skip_reason="MFA was already required."
            if required and not self.journal.action("require-mfa")
            else None,
        )

    def _manual_path(self) -> None:
        assert self.triage is not None
        self.complete = False
        owner = self.triage.owner
        if self.triage.facts.is_responder_key:
            self.findings.append(
                Finding(
                    kind="responder-key-compromised",
                    severity="critical",
                    summary=f"The compromised key {self.key_id} is the key this "
                    "responder signs in with; nothing was changed.",
                )
            )
            self.next_steps.append(
                f"Run the response again with another identity's credentials, or "
                f"disable {self.key_id} in the RAM console after moving this "
                "responder to a new key."
            )
            return
        if owner.type == "root-account":
            self._escalate_root()
            return
        self.next_steps.append(
            f"Confirm that {self.key_id} belongs to account "
            f"{owner.account_id or 'this account'}; if it belongs to another "
            "account, run the response with that account's credentials."
        )

    def _escalate_root(self) -> None:
        summary = (
            f"{self.key_id} is an AccessKey of the account root: it can do "
            "everything in the account, and only a person in the console can "
            "disable or rotate it."
        )
        self.findings.append(
            Finding(kind="root-key-compromised", severity="critical", summary=summary)
        )
        self.next_steps.extend(step.format(key=self.key_id) for step in ROOT_KEY_STEPS)

        def change() -> str:
            from prefect.events import emit_event

            emit_event(
                event=ESCALATION_EVENT,
                resource={
                    "prefect.resource.id": f"akresponder.accesskey.{self.key_id}",
                    "akresponder.incident": self.incident,
                },
                payload={"access_key_id": self.key_id, "severity": "critical"},
            )
            self.log.error(
                "ESCALATION incident=%s access_key_id=%s owner=root-account: %s",
                self.incident,
                self.key_id,
                summary,
            )
            return f"Emitted Prefect event {ESCALATION_EVENT}."

        self._escalate_now(change)

    def _escalate_now(self, change: Callable[[], str]) -> None:
        # Escalation needs no approval because it changes nothing in the cloud.
        # The journal keeps it from firing twice, and a dry run only plans it.
        if self.journal.is_done("escalate"):
            return
        target = f"account/{self.triage.owner.account_id if self.triage else ''}"
        if self.params.dry_run:
            status = ActionStatus.PLANNED
            detail = f"Dry run: would emit the Prefect event {ESCALATION_EVENT}."
        else:
            status = ActionStatus.DONE
            detail = change()
        self.runner.record(
            "escalate",
            step="Escalate: a root AccessKey is compromised",
            api=None,
            target=target,
            status=status,
            detail=detail,
        )


def _discard_secret(sink: SecretSink, user_name: str, access_key_id: str) -> str:
    """Remove a deleted key's secret from the sink, if the sink has one.

    The stopped run may have stored the secret just before it died. The sink would
    then hold the secret of a key that no longer exists, which misleads its
    readers. Returns what was done, in words.
    """
    if isinstance(sink, FileSink):
        name = secret_name(sink.name_template, user_name, access_key_id)
        path = sink.directory / f"{name}.json"
        if not path.exists():
            return "The secret sink had no secret for it."
        path.unlink()
        return f"Removed its secret file {path}."
    if isinstance(sink, PrefectSecretSink):
        from prefect.blocks.system import Secret

        name = secret_name(sink.name_template, user_name, access_key_id)
        # NOTE: no test runs this branch; the file sink's is the tested one.
        try:
            Secret.delete(name)
        except ValueError:
            return "The secret sink had no secret for it."
        except Exception as error:  # noqa: BLE001 - the key is deleted already
            return (
                f"Could not remove the Secret block {name} "
                f"({type(error).__name__}); delete it by hand."
            )
        return f"Removed its Secret block {name}."
    return "The secret sink keeps no secrets."


def _same_document(existing: str, expected: str) -> bool:
    try:
        return json.loads(existing) == json.loads(expected)
    except (TypeError, ValueError):
        return False
