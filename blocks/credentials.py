"""The Prefect block that stores the responder's Alibaba Cloud credentials.

``AlibabaCloudCredentials`` keeps the AccessKey pair and STS token as ``SecretStr``
(Prefect encrypts block data at rest and masks these fields in the API and UI), the
role to assume, the region and the endpoint settings. ``to_connection()`` turns it
into the ``CloudConnection`` the tasks take; ``akresponder.config.resolve_connection``
accepts the block directly.
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from akresponder.config import (
    DEFAULT_REGION,
    CloudConnection,
    parse_endpoint,
    validate_access_key_id,
)


class EndpointOverrides(BaseModel):
    """Endpoint overrides for the public endpoints, with protocol and timeouts.

    ``default`` sends every service to one ``host[:port]`` (such as the local
    emulator); a per-service value wins over it.
    """

    default: str | None = Field(
        default=None, description="host:port for every service, e.g. 127.0.0.1:18931"
    )
    ram: str | None = None
    sts: str | None = None
    actiontrail: str | None = None
    bss: str | None = None
    ecs: str | None = None
    sls: str | None = None
    protocol: Literal["https", "http"] = Field(
        default="https", description="Protocol for overridden endpoints."
    )
    connect_timeout_ms: int = Field(
        default=5000, gt=0, le=600_000, description="Connect timeout in milliseconds."
    )
    read_timeout_ms: int = Field(
        default=10_000, gt=0, le=600_000, description="Read timeout in milliseconds."
    )

    @field_validator("default", "ram", "sts", "actiontrail", "bss", "ecs", "sls")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        return None if value is None else parse_endpoint(value)[0]


class AlibabaCloudCredentials(Block):
    """An Alibaba Cloud AccessKey pair (or STS credentials) for the responder.

    Example:
        ```python
        from blocks import AlibabaCloudCredentials

        AlibabaCloudCredentials(
            access_key_id="LTAI5tEXAMPLE00000000001",
            access_key_secret="...",
            region="cn-hangzhou",
        ).save("responder")
        connection = AlibabaCloudCredentials.load("responder").to_connection()
        ```
    """

    _block_type_name = "Alibaba Cloud Credentials"
    _block_type_slug = "alibaba-cloud-credentials"
    _description = (
        "AccessKey pair or STS credentials that akresponder uses to call Alibaba "
        "Cloud, with region, role and endpoint settings."
    )
    # A validation error must never echo a secret pasted into the wrong field.
    model_config = ConfigDict(hide_input_in_errors=True)

    access_key_id: str = Field(description="AccessKey ID (LTAI... or STS....).")
    access_key_secret: SecretStr = Field(description="AccessKeySecret of the pair.")
    security_token: SecretStr | None = Field(
        default=None, description="STS security token, for STS. AccessKey IDs only."
    )
    role_arn: str | None = Field(
        default=None,
        description="RAM role to assume before every call, "
        "acs:ram::<account id>:role/<name>.",
    )
    role_session_name: str = Field(
        default="akresponder", description="Session name used when assuming role_arn."
    )
    region: str = Field(default=DEFAULT_REGION, description="Region id.")
    endpoints: EndpointOverrides = Field(
        default_factory=EndpointOverrides,
        description="Endpoint overrides, protocol and timeouts.",
    )

    @field_validator("access_key_id")
    @classmethod
    def _check_access_key_id(cls, value: str) -> str:
        return validate_access_key_id(value)

    def to_connection(self) -> CloudConnection:
        """Build the connection the tasks take; raises ``ConfigurationError``."""
        per_service = {
            service: getattr(self.endpoints, service)
            for service in ("ram", "sts", "actiontrail", "bss", "ecs", "sls")
            if getattr(self.endpoints, service)
        }
        return CloudConnection(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            security_token=self.security_token,
            region=self.region,
            endpoint=self.endpoints.default,
            endpoints=per_service,
            protocol=self.endpoints.protocol,
            connect_timeout_ms=self.endpoints.connect_timeout_ms,
            read_timeout_ms=self.endpoints.read_timeout_ms,
            role_arn=self.role_arn,
            role_session_name=self.role_session_name,
            credential_source="block",
        )
