"""The skeleton every cloud task shares: declaration, logging, input checks, the call.

``cloud_task("ram:UpdateAccessKey")`` declares the task's RAM permissions and makes it
a Prefect task with ``task_options()`` (no cache, no persisted result, retries in the
call). ``call_api`` gets the client and runs one API call with retries, raising
``CloudError``. The ``check_*`` helpers reject bad inputs with a ``ValueError`` that
names the value and the expected form.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from prefect import task
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from akresponder.clients import get_client
from akresponder.config import CloudConnection, validate_access_key_id
from akresponder.permissions import permission_for, requires
from akresponder.retry import Pacer, RetryPolicy, call_with_retry, task_options

T = TypeVar("T")

_fallback_logger = logging.getLogger("akresponder.tasks")

_USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_GROUP_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_POLICY_NAME = re.compile(r"[A-Za-z0-9-]{1,128}")
_VERSION_ID = re.compile(r"v[1-9][0-9]*")
_BILLING_CYCLE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_LOGSTORE = re.compile(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]")
POLICY_DOCUMENT_MAX = 6144


def cloud_task(*permissions: str, **options: Any) -> Callable[[Callable[..., T]], Any]:
    """Declare a task's RAM permissions and wrap it as a Prefect task."""

    def wrap(function: Callable[..., T]) -> Any:
        declared = requires(*permissions)(function)
        return task(**task_options(**options))(declared)

    return wrap


def task_logger() -> logging.Logger | logging.LoggerAdapter:
    """Return the Prefect run logger, or akresponder's logger outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return _fallback_logger


def fields(**values: Any) -> str:
    """Format ``key=value`` pairs for greppable logs, skipping None and ''."""
    return " ".join(
        f"{key}={value}" for key, value in values.items() if value not in (None, "")
    )


def call_api(
    connection: CloudConnection,
    service: str,
    action: str,
    invoke: Callable[[Any], T],
    *,
    target: str = "",
    idempotent: bool = True,
    pacer: Pacer | None = None,
    policy: RetryPolicy | None = None,
) -> T:
    """Call ``invoke(client)`` for ``<service>:<action>`` with retries.

    Raises ``CloudError`` naming the API, the target and, for permission errors, the
    RAM action to grant.
    """
    if not isinstance(connection, CloudConnection):
        raise TypeError(
            f"connection must be a CloudConnection, got {type(connection).__name__}; "
            "build one with akresponder.config.resolve_connection()"
        )
    api = f"{service}:{action}"
    client = get_client(service, connection)

    def attempt() -> T:
        if pacer is not None:
            pacer.wait()
        return invoke(client)

    return call_with_retry(
        attempt,
        api=api,
        target=target,
        permission=permission_for(api),
        policy=policy,
        idempotent=idempotent,
        logger=task_logger(),
    )


def body_map(response: Any) -> dict[str, Any]:
    """Return a POP response body as its wire dict (PascalCase keys)."""
    body = getattr(response, "body", None)
    return body.to_map() if body is not None else {}


def items(container: dict[str, Any] | None, outer: str, inner: str) -> list[Any]:
    """Unwrap ``{"Users": {"User": [...]}}``; a missing container is an empty list."""
    wrapper = (container or {}).get(outer) or {}
    if isinstance(wrapper, list):
        return wrapper
    return list(wrapper.get(inner) or [])


def check_access_key_id(value: str) -> str:
    return validate_access_key_id(value)


def check_user_name(value: str, *, name: str = "user_name") -> str:
    if not isinstance(value, str) or not _USER_NAME.fullmatch(value):
        raise ValueError(
            f"invalid {name} {value!r}: a RAM user name has 1 to 64 letters, digits "
            "or . _ @ -"
        )
    return value


def check_group_name(value: str) -> str:
    if not isinstance(value, str) or not _GROUP_NAME.fullmatch(value):
        raise ValueError(
            f"invalid group_name {value!r}: a RAM group name has 1 to 64 letters, "
            "digits or . _ -"
        )
    return value


def check_policy_name(value: str) -> str:
    if not isinstance(value, str) or not _POLICY_NAME.fullmatch(value):
        raise ValueError(
            f"invalid policy_name {value!r}: a RAM policy name has 1 to 128 letters, "
            "digits or -"
        )
    return value


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"invalid {name} {value!r}; use one of {', '.join(allowed)}")
    return value


def check_version_id(value: str) -> str:
    if not isinstance(value, str) or not _VERSION_ID.fullmatch(value):
        raise ValueError(
            f"invalid version_id {value!r}; policy versions are named v1, v2, ..."
        )
    return value


def check_policy_document(document: str | dict[str, Any]) -> str:
    """Return the document as compact JSON text after checking its shape and size."""
    if isinstance(document, dict):
        parsed = document
    else:
        try:
            parsed = json.loads(document)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"policy_document is not valid JSON ({exc}); give a RAM policy such "
                'as {"Version": "1", "Statement": [...]}'
            ) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list):
        raise ValueError(
            "policy_document has no Statement list; give a RAM policy such as "
            '{"Version": "1", "Statement": [...]}'
        )
    text = json.dumps(parsed, separators=(",", ":"))
    if len(text) > POLICY_DOCUMENT_MAX:
        raise ValueError(
            f"policy_document has {len(text)} characters; RAM accepts at most "
            f"{POLICY_DOCUMENT_MAX}, so split it into several policies"
        )
    return text


def check_billing_cycle(value: str) -> str:
    if not isinstance(value, str) or not _BILLING_CYCLE.fullmatch(value):
        raise ValueError(
            f"invalid billing_cycle {value!r}; use YYYY-MM such as 2026-11"
        )
    return value


def check_billing_date(value: str | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    try:
        return date.fromisoformat(value).strftime("%Y-%m-%d")
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid billing_date {value!r}; use YYYY-MM-DD such as 2026-11-20"
        ) from None


def check_page_size(value: int, maximum: int, name: str = "page_size") -> int:
    if not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"invalid {name} {value!r}; use 1 to {maximum}")
    return value


def check_project(value: str) -> str:
    if not isinstance(value, str) or not _PROJECT.fullmatch(value):
        raise ValueError(
            f"invalid SLS project {value!r}: 3 to 63 lower-case letters, digits or -"
        )
    return value


def check_logstore(value: str) -> str:
    if not isinstance(value, str) or not _LOGSTORE.fullmatch(value):
        raise ValueError(
            f"invalid SLS logstore {value!r}: 3 to 63 lower-case letters, digits, "
            "_ or -"
        )
    return value


def to_utc(value: datetime | str, name: str) -> datetime:
    """Parse an ISO time (``Z`` or offset) or take an aware datetime, in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"invalid {name} {value!r}; use ISO 8601 such as 2026-11-20T08:00:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"invalid {name} {value!r}; give a datetime or ISO 8601 text")
    if value.tzinfo is None:
        raise ValueError(
            f"{name} {value.isoformat()} has no time zone; give a UTC time"
        )
    return value.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """Format a time the way Alibaba APIs expect it: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
