"""Risk assessment of every AccessKey in an account: settings, reasons and scores.

The functions here are pure: they take facts that ``akresponder.sweep_collect``
gathered from RAM and ActionTrail and return assessments, so every rule has table
tests without a cloud. A key's score is the sum of the weights of its reasons. The
settings contain the thresholds and weights, and each field documents its default.

Reasons (stable codes, used in the JSON report and the table artifact):

* ``root_key``: a key of the account root, which has every permission and cannot be
  limited by a RAM policy.
* ``created_by_key``: ActionTrail recorded the key's CreateAccessKey as an API call
  signed with another AccessKey (not the console) in the last few days, which is what
  an attacker with a stolen key does to keep access.
* ``new_source_ip`` / ``new_region`` / ``new_user_agent``: in the last day the key was
  used from an address, region or client that its earlier history does not contain.
* ``never_used``: active, past its grace period and never used.
* ``unused``: active and not used for longer than the unused threshold.
* ``rotation_overdue``: active and older than the rotation age.
* ``two_active_keys``: its user has two active keys, so one of them is probably a
  forgotten leftover of a rotation.
* ``console_without_mfa``: its user can sign in to the console with a password and
  has no MFA device.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from akresponder.config import validate_access_key_id


class Reason(StrEnum):
    """Risk reason of a key. Its value is the stable code in reports."""

    ROOT_KEY = "root_key"
    CREATED_BY_KEY = "created_by_key"
    NEW_SOURCE_IP = "new_source_ip"
    NEW_REGION = "new_region"
    NEW_USER_AGENT = "new_user_agent"
    NEVER_USED = "never_used"
    UNUSED = "unused"
    ROTATION_OVERDUE = "rotation_overdue"
    TWO_ACTIVE_KEYS = "two_active_keys"
    CONSOLE_WITHOUT_MFA = "console_without_mfa"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


class ReasonWeights(BaseModel):
    """Points each reason adds to a key's score."""

    model_config = ConfigDict(extra="forbid")

    root_key: int = Field(default=60, ge=0, le=1000)
    created_by_key: int = Field(default=40, ge=0, le=1000)
    new_source_ip: int = Field(default=30, ge=0, le=1000)
    new_region: int = Field(default=20, ge=0, le=1000)
    new_user_agent: int = Field(default=10, ge=0, le=1000)
    never_used: int = Field(default=20, ge=0, le=1000)
    unused: int = Field(default=20, ge=0, le=1000)
    rotation_overdue: int = Field(default=10, ge=0, le=1000)
    two_active_keys: int = Field(default=15, ge=0, le=1000)
    console_without_mfa: int = Field(default=15, ge=0, le=1000)

    def weight(self, reason: Reason) -> int:
        """Return the points of ``reason``."""
        return int(getattr(self, reason.value))


class SweepSettings(BaseModel):
    """Thresholds, weights and pacing of the sweep. Every field has a default."""

    model_config = ConfigDict(extra="forbid")

    unused_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="An active key not used for more days than this is 'unused' "
        "(90 follows the CIS benchmarks).",
    )
    rotation_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="An active key older than this many days is overdue for rotation.",
    )
    never_used_grace_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="A key that has never been used is flagged only once it is "
        "older than this, because a new key waits for its application to start.",
    )
    recent_use_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="Keys used within this many hours get the usage check: their "
        "recent addresses, regions and clients are compared with earlier history.",
    )
    usage_baseline_days: int = Field(
        default=30,
        ge=2,
        le=89,
        description="Days of history before the recent window that the usage check "
        "compares against. ActionTrail keeps 90 days of events.",
    )
    usage_max_pages: int = Field(
        default=4,
        ge=1,
        le=100,
        description="LookupEvents pages (50 events each) read per window and key in "
        "the usage check; bounds its cost at ActionTrail's 2 calls per second.",
    )
    created_by_key_days: int = Field(
        default=7,
        ge=1,
        le=89,
        description="Days of CreateAccessKey events searched for keys that another "
        "key created.",
    )
    root_lookback_days: int = Field(
        default=30,
        ge=1,
        le=89,
        description="Days of ActionTrail events searched for root AccessKeys when "
        "the responder is not the root and so cannot list them.",
    )
    account_lookup_max_pages: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="LookupEvents pages read for the account-wide searches "
        "(CreateAccessKey events, root activity).",
    )
    trusted_creator_key_ids: list[str] = Field(
        default_factory=list,
        description="AccessKey IDs whose CreateAccessKey calls are expected, such as "
        "a provisioning pipeline's key; keys they create are not flagged.",
    )
    weights: ReasonWeights = Field(default_factory=ReasonWeights)
    high_score: int = Field(
        default=60,
        ge=1,
        description="Keys scoring at least this are 'high' and can start a response.",
    )
    medium_score: int = Field(
        default=30, ge=1, description="Keys scoring at least this are 'medium'."
    )
    ram_calls_per_second: float = Field(
        # NOTE: RAM publishes no per-API rate limit. 20 is an estimate within the
        # per-account limits that other Alibaba Cloud APIs publish (10 to a few
        # hundred calls per second per operation). If the real limit is lower, the
        # Throttling.User responses are retried with backoff.
        default=20.0,
        gt=0,
        le=10_000,
        description="Client-side limit for each RAM API action, in calls per second. "
        "Set it just below the account's RAM limit.",
    )
    users_per_batch: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Users assessed by one Prefect task run. Prefect's SQLite "
        "server stores about 20 task runs per second, so one run per user would "
        "slow a large account down.",
    )
    batch_concurrency: int = Field(
        default=2, ge=1, le=16, description="Batch task runs in flight at once."
    )
    workers_per_batch: int = Field(
        default=8, ge=1, le=64, description="Threads calling RAM inside one batch."
    )
    retry_max_attempts: int = Field(
        default=6,
        ge=1,
        le=20,
        description="Attempts per API call, the first included; users whose calls "
        "still fail with a retryable error get one more pass at the end.",
    )
    response_deployment: str = Field(
        default="respond-to-compromised-key/respond",
        pattern=r"^[^/]+/[^/]+$",
        description="Deployment (flow name/deployment name) that start_responses "
        "runs for each high-scoring key.",
    )
    artifact_max_rows: int = Field(
        default=500,
        ge=1,
        le=20_000,
        description="Rows of the table artifact; the JSON report lists every key.",
    )

    @field_validator("trusted_creator_key_ids")
    @classmethod
    def _check_trusted(cls, value: list[str]) -> list[str]:
        return [validate_access_key_id(key_id) for key_id in value]

    @model_validator(mode="after")
    def _check_scores(self) -> SweepSettings:
        if self.medium_score > self.high_score:
            raise ValueError(
                f"medium_score {self.medium_score} is above high_score "
                f"{self.high_score}; set medium_score to at most high_score"
            )
        return self


@dataclass(frozen=True)
class Creation:
    """A CreateAccessKey call made with an AccessKey, from ActionTrail."""

    access_key_id: str  # the key that was created
    creator_key_id: str
    creator_user: str
    source_ip: str
    event_time: str


@dataclass(frozen=True)
class UsageChange:
    """Difference between a key's use in the recent window and its earlier history."""

    recent_events: int
    baseline_events: int
    new_source_ips: tuple[str, ...] = ()
    new_regions: tuple[str, ...] = ()
    new_user_agents: tuple[str, ...] = ()
    # True when a window had more events than the page limit allowed to read, so the
    # comparison used the newest events of that window only.
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "recent_events": self.recent_events,
            "baseline_events": self.baseline_events,
            "new_source_ips": list(self.new_source_ips),
            "new_regions": list(self.new_regions),
            "new_user_agents": list(self.new_user_agents),
            "truncated": self.truncated,
        }


@dataclass
class KeyFacts:
    """Facts the sweep read about one key, or about one user when there is no key."""

    access_key_id: str | None
    owner_type: str  # "ram-user" or "root-account"
    user_name: str | None
    status: str  # "Active", "Inactive" or "Unknown" (root keys seen in events)
    create_date: datetime | None = None
    last_used: datetime | None = None
    # False when the last use was not asked for (inactive keys, root keys found in
    # ActionTrail), so "never used" cannot be concluded.
    last_used_known: bool = False
    user_active_keys: tuple[str, ...] = ()
    console_login: bool = False
    mfa_bound: bool = False
    mfa_bind_required: bool = False
    creation: Creation | None = None
    usage: UsageChange | None = None
    usage_error: str | None = None
    is_responder: bool = False
    source: str = "ram"  # "ram", "ram-root" (listed as root) or "actiontrail"


@dataclass(frozen=True)
class Finding:
    code: Reason
    weight: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "weight": self.weight, "detail": self.detail}


@dataclass
class KeyAssessment:
    facts: KeyFacts
    findings: list[Finding] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(finding.weight for finding in self.findings)

    @property
    def codes(self) -> list[str]:
        return [finding.code.value for finding in self.findings]


# --- dates ---------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """Parse an Alibaba timestamp (``2026-11-20T08:00:00Z``) or return None."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """Format a time as UTC ``YYYY-MM-DDThh:mm:ssZ``; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


# --- ActionTrail evidence ---------------------------------------------------------


def _identity(event: dict[str, Any]) -> dict[str, Any]:
    identity = event.get("userIdentity")
    return identity if isinstance(identity, dict) else {}


def _created_key_id(event: dict[str, Any]) -> str | None:
    response = event.get("responseElements")
    if isinstance(response, dict):
        access_key = response.get("AccessKey")
        if isinstance(access_key, dict) and access_key.get("AccessKeyId"):
            return str(access_key["AccessKeyId"])
    return None


def creations_by_key(
    events: list[dict[str, Any]], trusted_creators: list[str] | tuple[str, ...] = ()
) -> dict[str, Creation]:
    """Map each key created through an API call signed with an AccessKey to its call.

    Console creations (``eventType`` ConsoleOperation) and failed calls are skipped,
    and so are calls by ``trusted_creators``. The newest creation of a key wins.
    """
    trusted = set(trusted_creators)
    found: dict[str, Creation] = {}
    for event in events:
        if event.get("eventName") != "CreateAccessKey":
            continue
        if event.get("eventType") != "ApiCall" or event.get("errorCode"):
            continue
        identity = _identity(event)
        creator = identity.get("accessKeyId")
        created = _created_key_id(event)
        if not creator or not created or creator in trusted:
            continue
        creation = Creation(
            access_key_id=created,
            creator_key_id=str(creator),
            creator_user=str(identity.get("userName") or ""),
            source_ip=str(event.get("sourceIpAddress") or ""),
            event_time=str(event.get("eventTime") or ""),
        )
        previous = found.get(created)
        if previous is None or previous.event_time < creation.event_time:
            found[created] = creation
    return found


def root_keys_from_events(events: list[dict[str, Any]]) -> dict[str, datetime]:
    """Return the root AccessKeys (not STS) seen in events, with their latest use."""
    seen: dict[str, datetime] = {}
    for event in events:
        identity = _identity(event)
        key_id = identity.get("accessKeyId")
        if identity.get("type") != "root-account" or not key_id:
            continue
        if str(key_id).startswith("STS."):
            continue
        moment = parse_time(event.get("eventTime"))
        if moment is None:
            continue
        if key_id not in seen or seen[key_id] < moment:
            seen[str(key_id)] = moment
    return seen


# Product tokens such as "aliyun-cli/3.0.200" or "Python/3.11.7": the version goes,
# so an SDK upgrade does not count as a new client.
_VERSION = re.compile(r"/[0-9][0-9A-Za-z.+_-]*")


def normalize_user_agent(text: str) -> str:
    """Drop version numbers from a User-Agent and collapse whitespace."""
    return " ".join(_VERSION.sub("", text).split())


def _values(events: list[dict[str, Any]], name: str) -> set[str]:
    values = set()
    for event in events:
        value = event.get(name)
        if isinstance(value, str) and value:
            values.add(normalize_user_agent(value) if name == "userAgent" else value)
    return values


def compare_usage(
    recent: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    *,
    truncated: bool = False,
) -> UsageChange:
    """Compare the addresses, regions and clients of recent events with earlier ones.

    With no earlier events there is nothing to compare, so nothing is new: a key
    without history is judged by its age and creation instead.
    """
    if not baseline:
        return UsageChange(len(recent), 0, truncated=truncated)
    changes = {}
    for name in ("sourceIpAddress", "acsRegion", "userAgent"):
        changes[name] = tuple(sorted(_values(recent, name) - _values(baseline, name)))
    return UsageChange(
        recent_events=len(recent),
        baseline_events=len(baseline),
        new_source_ips=changes["sourceIpAddress"],
        new_regions=changes["acsRegion"],
        new_user_agents=changes["userAgent"],
        truncated=truncated,
    )


# --- assessment -----------------------------------------------------------------------


def _listing(values: tuple[str, ...], limit: int = 5) -> str:
    text = ", ".join(values[:limit])
    more = len(values) - limit
    return text + (f" and {more} more" if more > 0 else "")


def _usage_findings(
    usage: UsageChange, settings: SweepSettings
) -> list[tuple[Reason, str]]:
    window = f"the last {settings.recent_use_hours} hours"
    history = f"{usage.baseline_events} earlier events"
    found: list[tuple[Reason, str]] = []
    if usage.new_source_ips:
        found.append(
            (
                Reason.NEW_SOURCE_IP,
                f"used from {_listing(usage.new_source_ips)} in {window}, an address "
                f"not seen in {history}",
            )
        )
    if usage.new_regions:
        found.append(
            (
                Reason.NEW_REGION,
                f"used in region {_listing(usage.new_regions)} in {window}, not seen "
                f"in {history}",
            )
        )
    if usage.new_user_agents:
        found.append(
            (
                Reason.NEW_USER_AGENT,
                f"used by client {_listing(usage.new_user_agents, 2)} in {window}, "
                f"not seen in {history}",
            )
        )
    return found


def _active_key_findings(
    facts: KeyFacts, settings: SweepSettings, now: datetime
) -> list[tuple[Reason, str]]:
    found: list[tuple[Reason, str]] = []
    age = now - facts.create_date if facts.create_date else None
    if facts.last_used_known and facts.last_used is None:
        if age is not None and age > timedelta(days=settings.never_used_grace_days):
            found.append(
                (
                    Reason.NEVER_USED,
                    f"active and never used since it was created {_days(age)} days ago",
                )
            )
    elif facts.last_used is not None:
        idle = now - facts.last_used
        if idle > timedelta(days=settings.unused_days):
            found.append(
                (
                    Reason.UNUSED,
                    f"last used {iso(facts.last_used)}, {_days(idle)} days ago "
                    f"(threshold {settings.unused_days} days)",
                )
            )
    if age is not None and age > timedelta(days=settings.rotation_days):
        found.append(
            (
                Reason.ROTATION_OVERDUE,
                f"created {iso(facts.create_date)}, {_days(age)} days ago (rotation "
                f"age {settings.rotation_days} days)",
            )
        )
    others = [key for key in facts.user_active_keys if key != facts.access_key_id]
    if facts.access_key_id and others:
        found.append(
            (
                Reason.TWO_ACTIVE_KEYS,
                f"user {facts.user_name} has another active key, {others[0]}",
            )
        )
    if facts.creation is not None:
        creation = facts.creation
        found.append(
            (
                Reason.CREATED_BY_KEY,
                f"created {creation.event_time} by an API call signed with "
                f"{creation.creator_key_id} (user {creation.creator_user or '?'}) "
                f"from {creation.source_ip or 'an unknown address'}",
            )
        )
    if facts.usage is not None:
        found.extend(_usage_findings(facts.usage, settings))
    return found


def assess_key(
    facts: KeyFacts, settings: SweepSettings, now: datetime
) -> KeyAssessment:
    """Apply every rule to one key's facts and return its reasons and score.

    Only active keys, and root keys whose status is unknown, carry key reasons,
    because an inactive key cannot sign a request. User reasons (console without MFA)
    apply to the user's active keys, or to a row without a key.
    """
    found: list[tuple[Reason, str]] = []
    if facts.owner_type == "root-account":
        where = (
            "listed by ListAccessKeys as the root"
            if facts.source == "ram-root"
            else "seen in ActionTrail events signed by the root"
        )
        found.append((Reason.ROOT_KEY, f"AccessKey of the account root, {where}"))
    if facts.status in ("Active", "Unknown") or facts.access_key_id is None:
        if facts.access_key_id is not None:
            found.extend(_active_key_findings(facts, settings, now))
        if facts.console_login and not facts.mfa_bound:
            note = (
                " (MFA binding is required at the next sign-in)"
                if facts.mfa_bind_required
                else ""
            )
            found.append(
                (
                    Reason.CONSOLE_WITHOUT_MFA,
                    f"user {facts.user_name} can sign in to the console with a "
                    f"password and has no MFA device{note}",
                )
            )
    findings = [
        Finding(code, settings.weights.weight(code), detail) for code, detail in found
    ]
    return KeyAssessment(facts=facts, findings=findings)


def severity(score: int, settings: SweepSettings) -> Severity:
    """Map a score to a severity with the settings' thresholds."""
    if score >= settings.high_score:
        return Severity.HIGH
    if score >= settings.medium_score:
        return Severity.MEDIUM
    if score > 0:
        return Severity.LOW
    return Severity.NONE


def needs_usage_check(facts: KeyFacts, settings: SweepSettings, now: datetime) -> bool:
    """Return True for an active key, not the responder's, used in the recent window.

    The responder's own key is skipped because the sweep's calls fill its recent
    history.
    """
    if facts.access_key_id is None or facts.status != "Active" or facts.is_responder:
        return False
    if facts.last_used is None:
        return False
    return now - facts.last_used <= timedelta(hours=settings.recent_use_hours)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``akresponder sweep`` to ``parser``."""
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="where to write the JSON document "
        "(default: ~/.akresponder/sweeps/sweep-<UTC time>.json)",
    )
    parser.add_argument(
        "--users-per-batch",
        type=int,
        metavar="N",
        help="users per Prefect task run, 1 to 5000 (default: 200)",
    )
    parser.add_argument(
        "--ram-calls-per-second",
        type=float,
        metavar="N",
        help="client-side limit per RAM API action, calls per second (default: 20)",
    )
    parser.add_argument(
        "--settings-file",
        metavar="PATH",
        help="JSON file with sweep settings (thresholds, weights, pacing); the "
        "options above override it",
    )
    parser.add_argument(
        "--start-responses",
        action="store_true",
        help="start the response deployment for each high-scoring key; every "
        "response still waits for its approvals",
    )
    parser.add_argument(
        "--credentials-block",
        metavar="NAME",
        help="saved alibaba-cloud-credentials block (default: credential chain)",
    )
