"""STS tasks: who is calling, and temporary credentials for a role.

``get_caller_identity`` returns the identity behind a connection (``AccountId``,
``Arn``, ``IdentityType``, ``PrincipalId``, ``UserId``, ``RoleId``). Called
with a compromised key's own credentials, it shows whose key it is, and STS requires
no RAM permission for it. ``assume_role`` returns a ``CloudConnection`` for a role's
temporary credentials (its secret and token stay inside ``SecretStr`` fields).
"""

from __future__ import annotations

from typing import Any

from alibabacloud_sts20150401 import models as sts_models

from akresponder.config import (
    CloudConnection,
    validate_role_arn,
    validate_session_name,
)
from tasks._common import body_map, call_api, cloud_task, fields, task_logger


@cloud_task()
def get_caller_identity(
    connection: CloudConnection, *, incident: str = ""
) -> dict[str, Any]:
    """Return the caller's identity as GetCallerIdentity reports it."""
    log = task_logger()
    log.info(
        "Getting caller identity %s",
        fields(incident=incident, access_key_id=connection.access_key_id),
    )

    response = call_api(
        connection,
        "sts",
        "GetCallerIdentity",
        lambda client: client.get_caller_identity(),
        target=f"access_key_id={connection.access_key_id}",
    )
    identity = body_map(response)
    identity.pop("RequestId", None)

    log.info(
        "Got caller identity %s",
        fields(
            incident=incident,
            access_key_id=connection.access_key_id,
            identity_type=identity.get("IdentityType"),
            arn=identity.get("Arn"),
        ),
    )
    return identity


@cloud_task("sts:AssumeRole")
def assume_role(
    connection: CloudConnection,
    role_arn: str,
    *,
    session_name: str = "akresponder",
    duration_seconds: int = 3600,
    incident: str = "",
) -> CloudConnection:
    """Assume ``role_arn`` and return a connection with its temporary credentials.

    The returned connection keeps the endpoints, protocol and timeouts of
    ``connection``. ``duration_seconds`` is 900 to 43200 (the role's maximum session
    duration applies).
    """
    if not 900 <= duration_seconds <= 43200:
        raise ValueError(
            f"invalid duration_seconds {duration_seconds!r}; use 900 to 43200"
        )
    validate_role_arn(role_arn)
    validate_session_name(session_name)
    log = task_logger()
    log.info(
        "Assuming role %s",
        fields(incident=incident, role_arn=role_arn, session=session_name),
    )

    request = sts_models.AssumeRoleRequest(
        role_arn=role_arn,
        role_session_name=session_name,
        duration_seconds=duration_seconds,
    )
    response = call_api(
        connection,
        "sts",
        "AssumeRole",
        lambda client: client.assume_role(request),
        target=f"role_arn={role_arn}",
    )
    credentials = response.body.credentials
    assumed = CloudConnection(
        **{
            **connection.model_dump(),
            "access_key_id": credentials.access_key_id,
            "access_key_secret": credentials.access_key_secret,
            "security_token": credentials.security_token,
            "role_arn": None,
            "credential_source": f"assumed-role:{role_arn}",
        }
    )

    log.info(
        "Assumed role %s",
        fields(
            incident=incident,
            role_arn=role_arn,
            access_key_id=assumed.access_key_id,
            expiration=credentials.expiration,
        ),
    )
    return assumed
