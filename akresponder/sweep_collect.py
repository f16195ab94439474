"""Read what the sweep assesses from RAM and ActionTrail, within the APIs' rate limits.

RAM calls go through the cloud layer's ``call_api``, which caches clients, retries
``Throttling.User`` with backoff and raises ``CloudError``. The sweep adds two things
that the one-call-per-task functions in ``tasks/`` do not offer. Every attempt,
retries included, waits on a client-side token bucket per RAM action, and the calls
use the sweep's own retry policy. The per-call INFO log lines of those tasks are left
out too, because a sweep makes tens of thousands of calls. Each batch logs one line.
ActionTrail calls use ``tasks.actiontrail.lookup_events_page``, whose process-wide
pacer keeps LookupEvents at its documented two calls per second.

Per user the sweep reads ListAccessKeys, then GetLoginProfile unless the user has a
virtual MFA device (from one ListVirtualMFADevices call for the account),
GetUserMFAInfo only to confirm a console user without a virtual device, and
GetAccessKeyLastUsed for each active key. Inactive keys cannot sign requests, so
their last use is not read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alibabacloud_ram20150501 import models as ram_models

from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.retry import Pacer, RetryPolicy
from akresponder.sweep import (
    KeyFacts,
    SweepSettings,
    UsageChange,
    compare_usage,
    parse_time,
)
from tasks import actiontrail as trail_tasks
from tasks._common import body_map, call_api, items

logger = logging.getLogger("akresponder.sweep")

LIST_USERS_MAX_ITEMS = 1000  # RAM's maximum MaxItems for ListUsers
LOOKUP_PAGE_SIZE = 50  # LookupEvents' maximum MaxResults


class TokenBucket(Pacer):
    """A token bucket shared by threads: ``rate`` tokens per second, ``capacity`` max.

    ``wait`` takes one token and sleeps until it is due. A caller that finds the
    bucket empty reserves the next token (the count goes negative), so waiting
    callers are served in arrival order and the long-run rate never exceeds ``rate``.
    """

    def __init__(self, rate_per_second: float, capacity: float | None = None) -> None:
        super().__init__(rate_per_second)
        self.rate = rate_per_second
        # A fifth of a second of burst stays well inside a server bucket that contains
        # one second of calls, as the emulator's does.
        self.capacity = (
            capacity if capacity is not None else max(1.0, rate_per_second / 5)
        )
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self.attempts = 0

    def wait(self) -> float:
        """Take a token, sleeping until it is available; return the seconds slept."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                self.capacity, self._tokens + (now - self._updated) * self.rate
            )
            self._updated = now
            self._tokens -= 1.0
            self.attempts += 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay > 0:
            time.sleep(delay)
        return delay


@dataclass
class ApiCounts:
    """Calls per API: attempts (retries included), successes and final failures."""

    attempts: int = 0
    succeeded: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retries": max(0, self.attempts - self.succeeded - self.failed),
        }


class CallStats:
    """Thread-safe ``ApiCounts`` per ``<service>:<Action>``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_api: dict[str, ApiCounts] = {}

    def record(
        self, api: str, *, attempts: int = 0, ok: int = 0, failed: int = 0
    ) -> None:
        with self._lock:
            counts = self.by_api.setdefault(api, ApiCounts())
            counts.attempts += attempts
            counts.succeeded += ok
            counts.failed += failed

    def merge(self, other: dict[str, dict[str, int]]) -> None:
        for api, counts in other.items():
            self.record(
                api,
                attempts=counts["attempts"],
                ok=counts["succeeded"],
                failed=counts["failed"],
            )

    def to_dict(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {api: c.to_dict() for api, c in sorted(self.by_api.items())}


class RamReader:
    """The RAM reads of the sweep, paced per action and retried per ``policy``."""

    def __init__(
        self,
        connection: CloudConnection,
        *,
        calls_per_second: float,
        policy: RetryPolicy,
    ) -> None:
        self.connection = connection
        self.rate = calls_per_second
        self.policy = policy
        self.stats = CallStats()
        self._buckets: dict[str, TokenBucket] = {}
        self._buckets_lock = threading.Lock()

    def bucket(self, action: str) -> TokenBucket:
        with self._buckets_lock:
            if action not in self._buckets:
                self._buckets[action] = TokenBucket(self.rate)
            return self._buckets[action]

    def call(
        self,
        action: str,
        invoke: Callable[[Any], Any],
        target: str,
        *,
        absent_code: str | None = None,
    ) -> dict[str, Any] | None:
        """Run one RAM call with pacing and retries; raise ``CloudError``.

        An error whose code starts with ``absent_code`` (such as a user without a
        login profile) is an expected result, not a failure, so it returns None.
        """
        bucket = self.bucket(action)
        pacer = _CountingPacer(bucket)
        api = f"ram:{action}"
        try:
            response = call_api(
                self.connection,
                "ram",
                action,
                invoke,
                target=target,
                pacer=pacer,
                policy=self.policy,
            )
        except CloudError as error:
            if absent_code is not None and error.code.startswith(absent_code):
                self.stats.record(api, attempts=pacer.attempts, ok=1)
                return None
            self.stats.record(api, attempts=pacer.attempts, failed=1)
            raise
        self.stats.record(api, attempts=pacer.attempts, ok=1)
        return body_map(response)

    def _body(self, action: str, invoke: Callable[[Any], Any], target: str) -> dict:
        body = self.call(action, invoke, target)
        assert body is not None
        return body

    def list_users_page(
        self, marker: str | None, max_items: int = LIST_USERS_MAX_ITEMS
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return one ListUsers page and the marker of the next, None at the end."""
        request = ram_models.ListUsersRequest(marker=marker, max_items=max_items)
        body = self._body(
            "ListUsers",
            lambda client: client.list_users(request),
            f"marker={marker or '(first page)'}",
        )
        next_marker = body.get("Marker") if body.get("IsTruncated") else None
        return items(body, "Users", "User"), next_marker or None

    def list_access_keys(self, user_name: str | None) -> list[dict[str, Any]]:
        """List a user's keys; None lists the caller's own (the root's, as root)."""
        request = ram_models.ListAccessKeysRequest(user_name=user_name)
        body = self._body(
            "ListAccessKeys",
            lambda client: client.list_access_keys(request),
            f"user={user_name or '(caller)'}",
        )
        return items(body, "AccessKeys", "AccessKey")

    def last_used(self, user_name: str | None, access_key_id: str) -> datetime | None:
        """Return when a key was last used, or None if never."""
        request = ram_models.GetAccessKeyLastUsedRequest(
            user_name=user_name, user_access_key_id=access_key_id
        )
        body = self._body(
            "GetAccessKeyLastUsed",
            lambda client: client.get_access_key_last_used(request),
            f"user={user_name or '(caller)'} access_key_id={access_key_id}",
        )
        return parse_time((body.get("AccessKeyLastUsed") or {}).get("LastUsedDate"))

    def login_profile(self, user_name: str) -> dict[str, Any] | None:
        """Return the user's LoginProfile, or None without console login."""
        request = ram_models.GetLoginProfileRequest(user_name=user_name)
        body = self.call(
            "GetLoginProfile",
            lambda client: client.get_login_profile(request),
            f"user={user_name}",
            absent_code="EntityNotExist.User.LoginProfile",
        )
        return None if body is None else dict(body.get("LoginProfile") or {})

    def has_mfa_device(self, user_name: str) -> bool:
        """Return True if any MFA device (virtual or other) is bound to the user."""
        request = ram_models.GetUserMFAInfoRequest(user_name=user_name)
        body = self.call(
            "GetUserMFAInfo",
            lambda client: client.get_user_mfainfo(request),
            f"user={user_name}",
            absent_code="EntityNotExist.User.MFADevice",
        )
        return bool(body and body.get("MFADevice"))

    def virtual_mfa_users(self) -> set[str]:
        """Return the names of users with a virtual MFA device bound."""
        body = self._body(
            "ListVirtualMFADevices",
            lambda client: client.list_virtual_mfadevices(),
            "account",
        )
        names = set()
        for device in items(body, "VirtualMFADevices", "VirtualMFADevice"):
            user = device.get("User") or {}
            if user.get("UserName"):
                names.add(str(user["UserName"]))
        return names


class _CountingPacer(Pacer):
    """Counts the attempts of one call while the shared bucket paces them."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self.attempts = 0

    def wait(self) -> float:
        self.attempts += 1
        return self.bucket.wait()


# --- users --------------------------------------------------------------------------


@dataclass
class UserListing:
    """Every user ListUsers returned, in order, and how the paging went."""

    users: list[dict[str, Any]]
    pages: int
    duplicates: list[str] = field(default_factory=list)


def list_all_users(
    reader: RamReader, max_items: int = LIST_USERS_MAX_ITEMS
) -> UserListing:
    """Page ListUsers from the first page to the last (``IsTruncated`` false).

    Raises ``CloudError`` when a page still fails after the retries, and
    ``RuntimeError`` when RAM returns a marker it returned before, which would loop.
    A user on two pages (the list changed while paging) is kept once.
    """
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    markers: set[str] = set()
    marker: str | None = None
    pages = 0
    while True:
        page, marker = reader.list_users_page(marker, max_items)
        pages += 1
        for user in page:
            name = str(user.get("UserName") or "")
            if not name:
                continue
            if name in seen:
                duplicates.append(name)
                continue
            seen.add(name)
            users.append(user)
        if marker is None:
            break
        if marker in markers:
            raise RuntimeError(
                f"ListUsers returned the marker {marker!r} twice after {pages} pages; "
                "the listing would not end, so the sweep stops"
            )
        markers.add(marker)
    return UserListing(users=users, pages=pages, duplicates=duplicates)


@dataclass
class KeyRecord:
    access_key_id: str
    status: str
    create_date: str | None
    last_used: str | None = None
    last_used_known: bool = False


@dataclass
class UserRecord:
    """The facts read for one user."""

    user_name: str
    keys: list[KeyRecord]
    console_login: bool = False
    mfa_bound: bool = False
    mfa_bind_required: bool = False


@dataclass
class UserFailure:
    user_name: str
    code: str
    retryable: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_name": self.user_name,
            "error_code": self.code,
            "retryable": self.retryable,
            "reason": self.message,
        }


@dataclass
class BatchResult:
    records: list[UserRecord]
    failures: list[UserFailure]
    calls: dict[str, dict[str, int]]
    seconds: float


def read_keys(
    reader: RamReader, user_name: str | None, *, as_root: bool = False
) -> list[KeyRecord]:
    """List a user's keys (or, with ``as_root``, the root's) and read active keys'
    last use."""
    keys = []
    for entry in reader.list_access_keys(None if as_root else user_name):
        key_id = str(entry.get("AccessKeyId") or "")
        if not key_id:
            continue
        record = KeyRecord(
            access_key_id=key_id,
            status=str(entry.get("Status") or "Unknown"),
            create_date=entry.get("CreateDate"),
        )
        if record.status == "Active":
            used = reader.last_used(None if as_root else user_name, key_id)
            record.last_used = used.strftime("%Y-%m-%dT%H:%M:%SZ") if used else None
            record.last_used_known = True
        keys.append(record)
    return keys


def collect_user(reader: RamReader, user_name: str, mfa_users: set[str]) -> UserRecord:
    """Read one user's keys, console login and MFA; raise ``CloudError`` on failure."""
    record = UserRecord(user_name=user_name, keys=read_keys(reader, user_name))
    if user_name in mfa_users:
        record.mfa_bound = True
        return record
    profile = reader.login_profile(user_name)
    if profile is not None:
        record.console_login = True
        record.mfa_bind_required = bool(profile.get("MFABindRequired"))
        record.mfa_bound = reader.has_mfa_device(user_name)
    return record


def _failure(user_name: str, error: Exception) -> UserFailure:
    if isinstance(error, CloudError):
        if error.code == "EntityNotExist.User":
            message = (
                f"user {user_name} was deleted after ListUsers listed it; nothing "
                "to assess"
            )
        else:
            message = str(error)
        return UserFailure(user_name, error.code, error.retryable, message)
    return UserFailure(
        user_name,
        "UnexpectedError",
        False,
        f"{type(error).__name__}: {error}; report this as a bug with the log",
    )


def collect_batch(
    reader: RamReader, user_names: list[str], mfa_users: set[str], workers: int
) -> BatchResult:
    """Collect users on ``workers`` threads; each ends as a record or a failure."""
    started = time.monotonic()
    before = reader.stats.to_dict()
    records: list[UserRecord] = []
    failures: list[UserFailure] = []

    def one(name: str) -> UserRecord | UserFailure:
        try:
            return collect_user(reader, name, mfa_users)
        except Exception as error:  # noqa: BLE001 - every user must be accounted for
            return _failure(name, error)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:
        for outcome in pool.map(one, user_names):
            if isinstance(outcome, UserRecord):
                records.append(outcome)
            else:
                failures.append(outcome)
    return BatchResult(
        records=records,
        failures=failures,
        calls=_difference(reader.stats.to_dict(), before),
        seconds=time.monotonic() - started,
    )


def _difference(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    result = {}
    for api, counts in after.items():
        old = before.get(api, {})
        delta = {name: value - old.get(name, 0) for name, value in counts.items()}
        if any(delta.values()):
            result[api] = delta
    return result


def key_facts(
    record: UserRecord, *, responder_key: str | None, owner_type: str = "ram-user"
) -> list[KeyFacts]:
    """Turn one user's record into facts: one per key, or one keyless row.

    The keyless row exists only when the user has no active key but can sign in to
    the console without MFA, so that reason still reaches the report.
    """
    active = tuple(key.access_key_id for key in record.keys if key.status == "Active")
    common = {
        "owner_type": owner_type,
        "user_name": record.user_name,
        "console_login": record.console_login,
        "mfa_bound": record.mfa_bound,
        "mfa_bind_required": record.mfa_bind_required,
        "source": "ram-root" if owner_type == "root-account" else "ram",
    }
    facts = [
        KeyFacts(
            access_key_id=key.access_key_id,
            status=key.status,
            create_date=parse_time(key.create_date),
            last_used=parse_time(key.last_used),
            last_used_known=key.last_used_known,
            user_active_keys=active if owner_type == "ram-user" else (),
            is_responder=key.access_key_id == responder_key,
            **common,
        )
        for key in record.keys
    ]
    if not active and record.console_login and not record.mfa_bound:
        facts.append(KeyFacts(access_key_id=None, status="Unknown", **common))
    return facts


# --- ActionTrail --------------------------------------------------------------------


def lookup_window(
    connection: CloudConnection,
    attributes: dict[str, str],
    start: datetime,
    end: datetime,
    max_pages: int,
) -> tuple[list[dict[str, Any]], bool, int]:
    """Read events in ``[start, end)``, newest first, at most ``max_pages`` pages.

    Ranges over 30 days are split into LookupEvents' 30-day windows, and the start is
    kept inside ActionTrail's 90 days. Returns ``(events, truncated, requests)``;
    ``truncated`` is True when the page limit stopped the reading early.
    """
    oldest = end - trail_tasks.RETENTION + trail_tasks.RETENTION_MARGIN
    start = max(start, oldest)
    events: list[dict[str, Any]] = []
    requests = 0
    window_end = end
    while window_end > start:
        window_start = max(start, window_end - trail_tasks.MAX_WINDOW)
        token: str | None = None
        while True:
            if requests >= max_pages:
                return events, True, requests
            page = trail_tasks.lookup_events_page.fn(
                connection,
                start_time=window_start,
                end_time=window_end,
                attributes=attributes,
                page_size=LOOKUP_PAGE_SIZE,
                next_token=token,
            )
            requests += 1
            events.extend(page["Events"])
            token = page["NextToken"]
            if token is None:
                break
        window_end = window_start
    return events, False, requests


def check_usage(
    connection: CloudConnection,
    access_key_id: str,
    now: datetime,
    settings: SweepSettings,
) -> tuple[UsageChange, int]:
    """Compare a key's recent events with its earlier ones; return the change and the
    number of LookupEvents requests made."""
    attributes = {"EventAccessKeyId": access_key_id}
    split = now - timedelta(hours=settings.recent_use_hours)
    recent, recent_cut, recent_requests = lookup_window(
        connection, attributes, split, now, settings.usage_max_pages
    )
    baseline_start = split - timedelta(days=settings.usage_baseline_days)
    baseline, baseline_cut, baseline_requests = lookup_window(
        connection, attributes, baseline_start, split, settings.usage_max_pages
    )
    change = compare_usage(recent, baseline, truncated=recent_cut or baseline_cut)
    return change, recent_requests + baseline_requests


@dataclass
class AccountEvents:
    """Account-wide ActionTrail searches: key creations and root activity."""

    creations: list[dict[str, Any]]
    creations_truncated: bool
    root_events: list[dict[str, Any]] | None  # None when not searched
    root_truncated: bool
    requests: int


def search_account_events(
    connection: CloudConnection,
    now: datetime,
    settings: SweepSettings,
    *,
    search_root: bool,
) -> AccountEvents:
    """Find recent CreateAccessKey events and, if asked, events signed by the root.

    Root activity is found with the LookupEvents attribute ``User=root``, the user
    name ActionTrail records for the account root.
    """
    creations, creations_cut, requests = lookup_window(
        connection,
        {"EventName": "CreateAccessKey"},
        now - timedelta(days=settings.created_by_key_days),
        now,
        settings.account_lookup_max_pages,
    )
    root_events: list[dict[str, Any]] | None = None
    root_cut = False
    if search_root:
        root_events, root_cut, root_requests = lookup_window(
            connection,
            {"User": "root"},
            now - timedelta(days=settings.root_lookback_days),
            now,
            settings.account_lookup_max_pages,
        )
        requests += root_requests
    return AccountEvents(creations, creations_cut, root_events, root_cut, requests)
