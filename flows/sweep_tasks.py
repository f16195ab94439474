"""The Prefect tasks of the sweep: list users, assess a batch, search ActionTrail.

Each task wraps a function of ``akresponder.sweep_collect`` so that the Prefect UI
shows one task run per batch of users, not one per API call. Cloud calls retry
inside the functions, so the tasks have Prefect retries off (``task_options``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task

from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.retry import task_options
from akresponder.sweep import SweepSettings, UsageChange
from akresponder.sweep_collect import (
    AccountEvents,
    BatchResult,
    RamReader,
    UserListing,
    check_usage,
    collect_batch,
    list_all_users,
    search_account_events,
)


@task(name="list-ram-users", **task_options())
def list_ram_users(reader: RamReader) -> UserListing:
    """Page ListUsers to the end."""
    return list_all_users(reader)


@task(
    name="assess-user-batch",
    task_run_name="assess-users-{batch_number}",
    **task_options(),
)
def assess_user_batch(
    reader: RamReader,
    user_names: list[str],
    mfa_users: set[str],
    workers: int,
    batch_number: int,
) -> BatchResult:
    """Read the keys, last use, console login and MFA of a batch of users."""
    log = get_run_logger()
    result = collect_batch(reader, user_names, mfa_users, workers)
    retries = sum(counts.get("retries", 0) for counts in result.calls.values())
    log.info(
        "Assessed batch=%d users=%d failed=%d retries=%d seconds=%.1f",
        batch_number,
        len(result.records),
        len(result.failures),
        retries,
        result.seconds,
    )
    return result


@task(name="search-account-events", **task_options())
def search_account_events_task(
    connection: CloudConnection,
    now: datetime,
    settings: SweepSettings,
    search_root: bool,
) -> AccountEvents:
    """Search recent CreateAccessKey calls and, if asked, root activity."""
    return search_account_events(connection, now, settings, search_root=search_root)


@task(
    name="check-key-usage",
    task_run_name="check-key-usage-{chunk_number}",
    **task_options(),
)
def check_key_usage(
    connection: CloudConnection,
    access_key_ids: list[str],
    now: datetime,
    settings: SweepSettings,
    chunk_number: int,
) -> dict[str, Any]:
    """Compare the recent and earlier use of each key; errors are kept per key."""
    log = get_run_logger()
    changes: dict[str, UsageChange] = {}
    errors: dict[str, str] = {}
    requests = 0
    for key_id in access_key_ids:
        try:
            change, used = check_usage(connection, key_id, now, settings)
        except CloudError as error:
            errors[key_id] = str(error)
            log.warning(
                "Usage check failed access_key_id=%s code=%s", key_id, error.code
            )
            continue
        changes[key_id] = change
        requests += used
    log.info(
        "Checked key usage chunk=%d keys=%d failed=%d lookup_requests=%d",
        chunk_number,
        len(changes),
        len(errors),
        requests,
    )
    return {"changes": changes, "errors": errors, "requests": requests}
