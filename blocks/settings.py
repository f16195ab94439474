"""The Prefect block that holds how the responder acts: policy, approvals, sinks.

``ResponderSettings`` stores the deny policy attached to a compromised key's user,
which steps wait for a person's approval and the default when no one responds, where
new AccessKey secrets go, where evidence is written, and the retry settings for cloud
calls.

The default deny policy is Alibaba Cloud's published sample "policy that denies
high-risk operations" from its guide to responding to a compromised AccessKey pair.
Alibaba advises evaluating and adapting it before use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field, field_validator

from akresponder.retry import RetryPolicy
from akresponder.sinks import DEFAULT_NAME_TEMPLATE, SecretSink, make_sink, secret_name

# Alibaba Cloud's sample policy that denies high-risk operations across RAM, ECS, RDS,
# OSS, SLS and SMS while a compromised key cannot be rotated yet.
DEFAULT_DENY_POLICY: dict[str, Any] = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": [
                "ram:AddUserToGroup",
                "ram:AttachPolicyToGroup",
                "ram:AttachPolicyToRole",
                "ram:AttachPolicyToUser",
                "ram:ChangePassword",
                "ram:CreateAccessKey",
                "ram:CreateLoginProfile",
                "ram:CreatePolicyVersion",
                "ram:CreateRole",
                "ram:CreateUser",
                "ram:DetachPolicyFromUser",
                "ram:PassRole",
                "ram:SetDefaultPolicyVersion",
                "ram:UpdateAccessKey",
                "ram:SetPasswordPolicy",
                "ram:UpdateRole",
                "ram:UpdateLoginProfile",
                "ram:UpdateUser",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": [
                "ecs:DeleteInstance",
                "ecs:DeleteInstances",
                "ecs:DeregisterManagedInstance",
                "ecs:ReleaseDedicatedHost",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": [
                "rds:DeleteAccount",
                "rds:DeleteDatabase",
                "rds:DeleteDBInstance",
                "rds:DestroyDBInstance",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": [
                "oss:DeleteBucket",
                "oss:DeleteObject",
                "oss:PutBucketAcl",
                "oss:PutBucketPolicy",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": [
                "log:DeleteLogStore",
                "log:DeleteProject",
                "log:PutProjectPolicy",
                "log:DeleteProjectPolicy",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": [
                "dysms:CreateProductNew",
                "dysms:CreateSmsTemplateNew",
                "dysms:AddSmsTemplate",
                "dysms:SendSms",
                "dysms:SendBatchSms",
            ],
            "Resource": "*",
        },
    ],
}

# Steps named after the tasks that make the change. Destructive steps cannot be undone
# by the responder; reversible ones can (re-enable a key, detach the deny policy).
DESTRUCTIVE_STEPS: tuple[str, ...] = (
    "delete_access_key",
    "delete_policy_version",
    "detach_policy_from_user",
    "remove_user_from_group",
    "delete_login_profile",
    "delete_user",
)
REVERSIBLE_STEPS: tuple[str, ...] = (
    "update_access_key",
    "attach_policy_to_user",
    "create_policy",
    "create_policy_version",
    "update_login_profile",
    "create_access_key",
)
ALL_STEPS = DESTRUCTIVE_STEPS + REVERSIBLE_STEPS


class ResponderSettings(Block):
    """Settings for containing a compromised key.

    Example:
        ```python
        from blocks import ResponderSettings

        ResponderSettings(approval_timeout_seconds=1800).save("default")
        settings = ResponderSettings.load("default")
        sink = settings.secret_sink()
        ```
    """

    _block_type_name = "akresponder Settings"
    _block_type_slug = "akresponder-settings"
    _description = (
        "Deny policy, approvals, secret sink, evidence location and retry settings "
        "for the akresponder playbook."
    )

    deny_policy_document: dict[str, Any] = Field(
        default_factory=lambda: json.loads(json.dumps(DEFAULT_DENY_POLICY)),
        description="RAM policy attached to the compromised key's user to deny "
        "high-risk operations (default: Alibaba Cloud's published sample).",
    )
    deny_policy_name: str = Field(
        default="akresponder-deny-high-risk",
        pattern=r"^[A-Za-z0-9-]{1,128}$",
        description="Name of the custom policy that contains the deny statements.",
    )
    approval_timeout_seconds: int = Field(
        default=3600,
        ge=1,
        le=7 * 24 * 3600,
        description="Seconds to wait for a person's approval decision.",
    )
    approval_on_timeout: Literal["deny", "approve"] = Field(
        default="deny", description="The decision when no one responds in time."
    )
    approval_steps: list[str] = Field(
        default_factory=lambda: list(DESTRUCTIVE_STEPS),
        description="Steps that wait for approval; names from " + ", ".join(ALL_STEPS),
    )
    secret_sink_kind: Literal["prefect-secret", "file", "none"] = Field(
        default="prefect-secret",
        description="Where a new AccessKey's secret goes: a Prefect Secret block, "
        "a 0600 file, or nowhere (dry runs).",
    )
    secret_name_template: str = Field(
        default=DEFAULT_NAME_TEMPLATE,
        description="Name of the Secret block or file, with {user} and {key_id}.",
    )
    secret_directory: str | None = Field(
        default=None, description="Directory of the file sink."
    )
    evidence_location: str = Field(
        default="evidence",
        description="Directory where incident evidence and reports are written.",
    )
    retry_max_attempts: int = Field(
        default=4, ge=1, le=20, description="Attempts per API call, the first included."
    )
    retry_base_delay: float = Field(
        default=0.5, ge=0, le=60, description="Seconds before the first retry."
    )
    retry_max_delay: float = Field(
        default=20.0, ge=0, le=600, description="Maximum wait between retries, seconds."
    )

    @field_validator("deny_policy_document")
    @classmethod
    def _check_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("Statement"), list) or not value["Statement"]:
            raise ValueError(
                "deny_policy_document needs a non-empty Statement list, as in "
                '{"Version": "1", "Statement": [{"Effect": "Deny", ...}]}'
            )
        size = len(json.dumps(value, separators=(",", ":")))
        if size > 6144:
            raise ValueError(
                f"deny_policy_document has {size} characters; RAM accepts at most 6144"
            )
        return value

    @field_validator("approval_steps")
    @classmethod
    def _check_steps(cls, value: list[str]) -> list[str]:
        unknown = [step for step in value if step not in ALL_STEPS]
        if unknown:
            raise ValueError(
                f"unknown approval step {unknown[0]!r}; use names from "
                f"{', '.join(ALL_STEPS)}"
            )
        return value

    @field_validator("secret_name_template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        secret_name(value, "user", "LTAI0000000000000000")
        return value

    def needs_approval(self, step: str) -> bool:
        """Return True if ``step`` (a task name) waits for a person's approval."""
        if step not in ALL_STEPS:
            raise ValueError(
                f"unknown step {step!r}; use one of {', '.join(ALL_STEPS)}"
            )
        return step in self.approval_steps

    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy these settings describe."""
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )

    def secret_sink(self) -> SecretSink:
        """Build the secret sink these settings describe."""
        directory = Path(self.secret_directory) if self.secret_directory else None
        return make_sink(
            self.secret_sink_kind,
            name_template=self.secret_name_template,
            directory=directory,
        )

    def deny_policy_text(self) -> str:
        """Return the deny policy as compact JSON, as RAM's CreatePolicy takes it."""
        return json.dumps(self.deny_policy_document, separators=(",", ":"))
