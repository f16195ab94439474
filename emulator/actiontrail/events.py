"""ActionTrail records: the time index, LookupEvents filters and paging tokens."""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.actiontrail.catalog import LOOKUP_KEYS, SENSITIVE_ACTIONS
from emulator.actiontrail.exceptions import (
    InvalidParameterEndTime,
    InvalidParameterStartTime,
    InvalidQueryParameter,
)
from emulator.errors import InvalidParameter
from emulator.state import parse_iso

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

EventKey = tuple[float, int]  # (eventTime as epoch seconds, position in Cloud.events)


def event_epoch(event: dict[str, Any]) -> float | None:
    """Return an event's ``eventTime`` in epoch seconds, or None when it has none."""
    text = event.get("eventTime")
    if not isinstance(text, str):
        return None
    try:
        return parse_iso(text).timestamp()
    except ValueError:
        return None


def _access_key_of(event: dict[str, Any]) -> str | None:
    identity = event.get("userIdentity")
    if isinstance(identity, dict):
        key = identity.get("accessKeyId")
        if isinstance(key, str) and key:
            return key
    return None


class EventIndex:
    """Keys of ``Cloud.events`` sorted by time, plus one sorted key list per AccessKey.

    The index follows appends to ``Cloud.events`` incrementally. It rebuilds itself when
    the list is replaced or shrinks.
    """

    def __init__(self) -> None:
        self.keys: list[EventKey] = []
        self.keys_by_access_key: dict[str, list[EventKey]] = {}
        self._source: list[dict[str, Any]] | None = None
        self._indexed = 0

    def sync(self, events: list[dict[str, Any]]) -> None:
        """Index the events appended since the last call."""
        if events is not self._source or len(events) < self._indexed:
            self._rebuild(events)
            return
        for position in range(self._indexed, len(events)):
            self._insert(events, position)
        self._indexed = len(events)

    def _rebuild(self, events: list[dict[str, Any]]) -> None:
        self._source = events
        self.keys = []
        self.keys_by_access_key = {}
        for position, event in enumerate(events):
            moment = event_epoch(event)
            if moment is None:
                self._warn_untimed(event, position)
                continue
            key = (moment, position)
            self.keys.append(key)
            access_key = _access_key_of(event)
            if access_key:
                self.keys_by_access_key.setdefault(access_key, []).append(key)
        self.keys.sort()
        for keys in self.keys_by_access_key.values():
            keys.sort()
        self._indexed = len(events)

    def _insert(self, events: list[dict[str, Any]], position: int) -> None:
        event = events[position]
        moment = event_epoch(event)
        if moment is None:
            self._warn_untimed(event, position)
            return
        key = (moment, position)
        bisect.insort(self.keys, key)
        access_key = _access_key_of(event)
        if access_key:
            bisect.insort(self.keys_by_access_key.setdefault(access_key, []), key)

    @staticmethod
    def _warn_untimed(event: dict[str, Any], position: int) -> None:
        logger.warning(
            "skipping event without a valid eventTime: position=%d eventId=%s "
            "eventTime=%r",
            position,
            event.get("eventId"),
            event.get("eventTime"),
        )


@dataclass(frozen=True)
class LookupPage:
    """One page of LookupEvents."""

    start: datetime
    end: datetime
    events: list[dict[str, Any]]
    next_token: str | None


@dataclass(frozen=True)
class UsageRecord:
    """The latest use of an AccessKey for one product, operation, IP or resource."""

    used_ms: int
    event: dict[str, Any]
    values: dict[str, str]


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_lookup_time(name: str, text: str) -> datetime:
    error_class = (
        InvalidParameterStartTime if name == "StartTime" else InvalidParameterEndTime
    )
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise error_class(
            f"The specified {name} {text!r} is invalid. Use the UTC format "
            "YYYY-MM-DDThh:mm:ssZ, for example 2026-11-20T08:00:00Z."
        ) from None


def encode_token(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return base64.b64encode(text.encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise InvalidParameter(
            "NextToken",
            f"{token!r} is not a token that this API returned. Send the NextToken of "
            "the previous page unchanged, or omit it to start from the first page.",
        )
    return payload


def parameters_hash(parameters: Any) -> str:
    text = json.dumps(parameters, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def token_mismatch() -> InvalidParameter:
    return InvalidParameter(
        "NextToken",
        "The NextToken was issued for a request with different parameters. Repeat "
        "the parameters of the first request with it, or omit NextToken to start "
        "a new query.",
    )


def _split_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in value.split(";") if part]
    if isinstance(value, list):
        return [str(part) for part in value]
    return []


def _referenced_resources(event: dict[str, Any]) -> dict[str, list[str]]:
    referenced = event.get("referencedResources")
    if not isinstance(referenced, dict):
        return {}
    return {str(kind): _split_list(names) for kind, names in referenced.items()}


def event_resources(event: dict[str, Any]) -> list[tuple[str, str]]:
    """List the (resource type, resource name) pairs an event names.

    SLS copies carry ``resourceType`` and ``resourceName`` as parallel ``;``-joined
    lists; LookupEvents records carry ``referencedResources``. Both are read.
    """
    pairs: list[tuple[str, str]] = []
    types = _split_list(event.get("resourceType"))
    names = _split_list(event.get("resourceName"))
    for kind, name in zip(types, names, strict=False):
        pairs.append((kind, name))
    for kind, kind_names in _referenced_resources(event).items():
        for name in kind_names:
            if (kind, name) not in pairs:
                pairs.append((kind, name))
    return pairs


def identity_field(event: dict[str, Any], name: str) -> Any:
    identity = event.get("userIdentity")
    return identity.get(name) if isinstance(identity, dict) else None


EventPredicate = Callable[[dict[str, Any]], bool]


def lookup_predicate(key: str, value: str) -> EventPredicate:
    """Build the test of one LookupAttribute, after checking its value."""
    if key == "ServiceName":
        return lambda event: event.get("serviceName") == value
    if key == "EventName":
        return lambda event: event.get("eventName") == value
    if key == "EventId":
        return lambda event: event.get("eventId") == value
    if key == "User":
        return lambda event: identity_field(event, "userName") == value
    if key == "EventAccessKeyId":
        return lambda event: identity_field(event, "accessKeyId") == value
    if key == "EventRW":
        if value not in ("Read", "Write"):
            raise InvalidQueryParameter(
                f"The value {value!r} of the LookupAttribute key EventRW is invalid. "
                "Use Read or Write."
            )
        return lambda event: event.get("eventRW") == value
    if key == "ResourceType":
        return lambda event: any(kind == value for kind, _ in event_resources(event))
    if key == "ResourceName":
        return lambda event: any(name == value for _, name in event_resources(event))
    if key == "SensitiveAction":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise InvalidQueryParameter(
                f"The value {value!r} of the LookupAttribute key SensitiveAction is "
                "invalid. Use true or false."
            )
        expected = lowered == "true"
        return lambda event: (event.get("eventName") in SENSITIVE_ACTIONS) == expected
    raise InvalidQueryParameter(
        f"The LookupAttribute key {key!r} is invalid. Use one of: "
        f"{', '.join(LOOKUP_KEYS)}."
    )


def usage_source(event: dict[str, Any]) -> str:
    """Return the audit ``Source`` of an event: DataEvent or ManagementEvent."""
    return "DataEvent" if event.get("eventCategory") == "Data" else "ManagementEvent"


def used_ms(event: dict[str, Any]) -> int:
    moment = event_epoch(event)
    return int((moment or 0) * 1000)
