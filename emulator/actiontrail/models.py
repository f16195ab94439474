"""ActionTrail backend: event lookup, AccessKey audit and trail management.

Events are the account's ``Cloud.events`` records, found through an ``EventIndex`` so
that a time window costs a bisection, which keeps paging fast with 100k events. An
event is visible once the emulator clock has reached its ``eventTime``.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.actiontrail.catalog import SERVICE_DISPLAY_NAMES
from emulator.actiontrail.events import (
    EventIndex,
    EventKey,
    EventPredicate,
    LookupPage,
    UsageRecord,
    decode_token,
    encode_token,
    event_resources,
    format_time,
    identity_field,
    lookup_predicate,
    parameters_hash,
    parse_lookup_time,
    token_mismatch,
    usage_source,
    used_ms,
)
from emulator.actiontrail.exceptions import (
    InvalidDeliveryConfigurationException,
    InvalidParameterCombination,
    InvalidParameterStartTime,
    InvalidQueryParameter,
    InvalidTrailNameException,
    MaximumNumberOfTrailsExceededException,
    TrailAlreadyExistsException,
    TrailNotFoundException,
)
from emulator.state import Cloud, Trail, iso, parse_iso

# LookupEvents limits, as documented for ActionTrail 2020-07-06.
LOOKUP_HORIZON = timedelta(days=90)
MAX_LOOKUP_WINDOW = timedelta(days=30)
DEFAULT_LOOKUP_WINDOW = timedelta(days=7)
MAX_LOOKUP_ATTRIBUTES = 2
DEFAULT_MAX_RESULTS = 20
MAX_MAX_RESULTS = 50

# The AccessKey audit APIs cover at most the last 400 days.
ACCESS_KEY_AUDIT_HORIZON = timedelta(days=400)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

MAX_TRAILS_PER_REGION = 5
TRAIL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{5,35}$")
SLS_PROJECT_ARN_PATTERN = re.compile(
    r"^acs:log:(?P<region>[a-z0-9-]+):(?P<account>\d*):project/(?P<project>[a-z0-9-]+)$"
)


def _service_names(service: str) -> dict[str, str]:
    english, chinese = SERVICE_DISPLAY_NAMES.get(service, (service, service))
    return {"ServiceName": service, "ServiceNameEn": english, "ServiceNameCn": chinese}


class ActionTrailBackend:
    """The ActionTrail API of one account, one method per action."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.index = EventIndex()

    # Event lookup.

    def lookup_events(
        self,
        *,
        attributes: list[tuple[str, str]],
        start_time: str | None,
        end_time: str | None,
        direction: str | None,
        max_results: str | None,
        next_token: str | None,
    ) -> LookupPage:
        """Return one page of the visible events that match every attribute."""
        if len(attributes) > MAX_LOOKUP_ATTRIBUTES:
            raise InvalidQueryParameter(
                f"{len(attributes)} LookupAttribute conditions were given, but "
                f"LookupEvents accepts at most {MAX_LOOKUP_ATTRIBUTES}. Remove "
                "conditions and filter the results yourself."
            )
        predicates = [lookup_predicate(key, value) for key, value in attributes]
        direction = direction or "BACKWARD"
        if direction not in ("BACKWARD", "FORWARD"):
            raise InvalidQueryParameter(
                f"The Direction {direction!r} is invalid. Use BACKWARD (newest first) "
                "or FORWARD (oldest first)."
            )
        limit = self._max_results(max_results)
        now = self.cloud.now()
        request_hash = parameters_hash(
            {
                "attributes": attributes,
                "direction": direction,
                "start": start_time,
                "end": end_time,
            }
        )

        cursor: EventKey | None = None
        if next_token:
            payload = decode_token(next_token)
            if (
                payload.get("hash") != request_hash
                or payload.get("account") != self.cloud.account_id
            ):
                raise token_mismatch()
            try:
                start = parse_iso(payload["start"])
                end = parse_iso(payload["end"])
                cursor = (float(payload["position"][0]), int(payload["position"][1]))
            except (KeyError, TypeError, ValueError, IndexError):
                raise token_mismatch() from None
        else:
            start, end = self._lookup_window(start_time, end_time, now)

        self.index.sync(self.cloud.events)
        matches = self._scan(
            start=max(start, now - LOOKUP_HORIZON),
            end=min(end, now),
            backward=direction == "BACKWARD",
            cursor=cursor,
            predicates=predicates,
        )
        page: list[tuple[EventKey, dict[str, Any]]] = []
        has_more = False
        for match in matches:
            if len(page) == limit:
                has_more = True
                break
            page.append(match)

        token = None
        if has_more:
            last_key, last_event = page[-1]
            token = encode_token(
                {
                    "account": self.cloud.account_id,
                    "eventId": last_event.get("eventId", ""),
                    "logId": f"{last_key[1]}-{self.cloud.account_id}",
                    "time": int(last_key[0] * 1000),
                    "position": [last_key[0], last_key[1]],
                    "start": iso(start),
                    "end": iso(end),
                    "hash": request_hash,
                }
            )
        return LookupPage(
            start=start, end=end, events=[event for _, event in page], next_token=token
        )

    @staticmethod
    def _max_results(text: str | None) -> int:
        if text in (None, ""):
            return DEFAULT_MAX_RESULTS
        try:
            number = int(text)
        except ValueError:
            number = -1
        if number == 0:
            return DEFAULT_MAX_RESULTS
        if not 1 <= number <= MAX_MAX_RESULTS:
            raise InvalidQueryParameter(
                f"The MaxResults {text!r} is invalid. Use an integer from 1 to "
                f"{MAX_MAX_RESULTS}, or omit it for {DEFAULT_MAX_RESULTS}."
            )
        return number

    @staticmethod
    def _lookup_window(
        start_time: str | None, end_time: str | None, now: datetime
    ) -> tuple[datetime, datetime]:
        if not start_time and not end_time:
            end = now.replace(microsecond=0)
            return end - DEFAULT_LOOKUP_WINDOW, end
        if not start_time or not end_time:
            present, missing = (
                ("StartTime", "EndTime") if start_time else ("EndTime", "StartTime")
            )
            raise InvalidParameterCombination(
                f"{present} was given without {missing}. Give both StartTime and "
                "EndTime, or neither for the last 7 days."
            )
        start = parse_lookup_time("StartTime", start_time)
        end = parse_lookup_time("EndTime", end_time)
        if end <= start:
            raise InvalidParameterCombination(
                f"The EndTime {end_time} must be later than the StartTime {start_time}."
            )
        if end - start > MAX_LOOKUP_WINDOW:
            raise InvalidParameterCombination(
                f"The range from StartTime {start_time} to EndTime {end_time} is "
                "longer than 30 days. Query at most 30 days at a time."
            )
        earliest = now - LOOKUP_HORIZON
        if start < earliest:
            raise InvalidParameterStartTime(
                f"The StartTime {start_time} is more than 90 days before the current "
                f"time {format_time(now)}, and LookupEvents keeps 90 days of events. "
                f"Use a StartTime at or after {format_time(earliest)}, or query the "
                "trail's SLS logstore for older events."
            )
        return start, end

    def _scan(
        self,
        *,
        start: datetime,
        end: datetime,
        backward: bool,
        cursor: EventKey | None,
        predicates: list[EventPredicate],
    ) -> Iterator[tuple[EventKey, dict[str, Any]]]:
        keys = self.index.keys
        low = bisect.bisect_left(keys, (start.timestamp(), -1))
        high = bisect.bisect_right(keys, (end.timestamp(), len(self.cloud.events)))
        if cursor is not None and backward:
            high = min(high, bisect.bisect_left(keys, cursor))
        elif cursor is not None:
            low = max(low, bisect.bisect_right(keys, cursor))
        positions = range(high - 1, low - 1, -1) if backward else range(low, high)
        events = self.cloud.events
        for position in positions:
            key = keys[position]
            event = events[key[1]]
            if all(predicate(event) for predicate in predicates):
                yield key, event

    # AccessKey audit.

    def _access_key_events(self, access_key_id: str) -> list[dict[str, Any]]:
        """Return the visible events of a key in the audit horizon, newest first."""
        self.index.sync(self.cloud.events)
        keys = self.index.keys_by_access_key.get(access_key_id, [])
        now = self.cloud.now()
        low = bisect.bisect_left(
            keys, ((now - ACCESS_KEY_AUDIT_HORIZON).timestamp(), -1)
        )
        high = bisect.bisect_right(keys, (now.timestamp(), len(self.cloud.events)))
        return [self.cloud.events[keys[i][1]] for i in range(high - 1, low - 1, -1)]

    def access_key_last_used_info(self, access_key_id: str) -> dict[str, Any]:
        """Describe the latest call made with a key, or return empty values."""
        events = self._access_key_events(access_key_id)
        if not events:
            return {
                "AccessKeyId": access_key_id,
                "AccountId": "",
                "OwnerId": "",
                "UserName": "",
                "AccountType": "",
                "Detail": "",
                "Source": "",
                "ServiceName": "",
                "ServiceNameCn": "",
                "ServiceNameEn": "",
            }
        event = events[0]
        return {
            "AccessKeyId": access_key_id,
            "AccountId": str(
                identity_field(event, "accountId") or self.cloud.account_id
            ),
            "OwnerId": str(identity_field(event, "principalId") or ""),
            "UserName": str(identity_field(event, "userName") or ""),
            "AccountType": str(identity_field(event, "type") or ""),
            "UsedTimestamp": used_ms(event),
            "Detail": json.dumps(event, ensure_ascii=False),
            "Source": usage_source(event),
            **_service_names(str(event.get("serviceName", ""))),
        }

    def access_key_last_used_products(self, access_key_id: str) -> list[UsageRecord]:
        """Return the latest use of the key per product, newest first."""
        latest: dict[str, UsageRecord] = {}
        for event in self._access_key_events(access_key_id):
            service = str(event.get("serviceName", ""))
            if service and service not in latest:
                latest[service] = UsageRecord(
                    used_ms(event), event, _service_names(service)
                )
        return list(latest.values())

    def access_key_last_used_events(
        self, access_key_id: str, service_name: str
    ) -> list[UsageRecord]:
        """Return the latest call of each operation of one product, newest first."""
        latest: dict[str, UsageRecord] = {}
        for event in self._service_events(access_key_id, service_name):
            name = str(event.get("eventName", ""))
            if name and name not in latest:
                latest[name] = UsageRecord(used_ms(event), event, {"EventName": name})
        return list(latest.values())

    def access_key_last_used_ips(
        self, access_key_id: str, service_name: str
    ) -> list[UsageRecord]:
        """Return the latest call from each source address to one product."""
        latest: dict[str, UsageRecord] = {}
        for event in self._service_events(access_key_id, service_name):
            address = str(event.get("sourceIpAddress", ""))
            if address and address not in latest:
                latest[address] = UsageRecord(used_ms(event), event, {"Ip": address})
        return list(latest.values())

    def access_key_last_used_resources(
        self, access_key_id: str, service_name: str
    ) -> list[UsageRecord]:
        """Return the latest call naming each resource of one product."""
        latest: dict[tuple[str, str], UsageRecord] = {}
        for event in self._service_events(access_key_id, service_name):
            for kind, name in event_resources(event):
                if (kind, name) not in latest:
                    latest[(kind, name)] = UsageRecord(
                        used_ms(event),
                        event,
                        {"ResourceType": kind, "ResourceName": name},
                    )
        return list(latest.values())

    def _service_events(
        self, access_key_id: str, service_name: str
    ) -> list[dict[str, Any]]:
        wanted = service_name.lower()
        return [
            event
            for event in self._access_key_events(access_key_id)
            if str(event.get("serviceName", "")).lower() == wanted
        ]

    @staticmethod
    def page_records(
        records: list[UsageRecord],
        *,
        access_key_id: str,
        service_name: str,
        page_size: str | None,
        next_token: str | None,
    ) -> tuple[list[UsageRecord], str | None]:
        """Cut one page out of audit records, with a NextToken when more remain."""
        size = _page_size(page_size)
        request_hash = parameters_hash([access_key_id, service_name.lower()])
        offset = 0
        if next_token:
            payload = decode_token(next_token)
            if payload.get("hash") != request_hash:
                raise token_mismatch()
            offset = payload.get("offset")
            if not isinstance(offset, int) or offset < 0:
                raise token_mismatch()
        page = records[offset : offset + size]
        token = None
        if offset + size < len(records):
            token = encode_token({"offset": offset + size, "hash": request_hash})
        return page, token

    # Trails.

    def get_trail(self, name: str) -> Trail:
        trail = self.cloud.trails.get(name)
        if trail is None:
            raise TrailNotFoundException(
                f"The specified Trail {name!r} does not exist. Call DescribeTrails to "
                "list the trails of this account."
            )
        return trail

    def describe_trails(self, names: list[str] | None) -> list[Trail]:
        """Return the trails named, or all of them when no name is given."""
        if not names:
            return list(self.cloud.trails.values())
        return [self.cloud.trails[name] for name in names if name in self.cloud.trails]

    def create_trail(
        self,
        *,
        name: str,
        sls_project_arn: str | None,
        sls_write_role_arn: str | None,
        oss_bucket_name: str | None,
        oss_key_prefix: str | None,
        oss_write_role_arn: str | None,
        event_rw: str | None,
        trail_region: str | None,
    ) -> Trail:
        """Create a trail in the Fresh status and its SLS logstore."""
        if not TRAIL_NAME_PATTERN.match(name):
            raise InvalidTrailNameException(
                f"The specified Trail name {name!r} is invalid. Use 6 to 36 "
                "characters: a lowercase letter first, then lowercase letters, "
                "digits, hyphens (-) and underscores (_)."
            )
        if name in self.cloud.trails:
            raise TrailAlreadyExistsException(
                f"The specified Trail name {name!r} already exists. Choose another "
                "name or call UpdateTrail to change the existing trail."
            )
        if not sls_project_arn and not oss_bucket_name:
            raise InvalidDeliveryConfigurationException(
                "You must specify at least one Log Service project or OSS bucket for a "
                "Trail: give SlsProjectArn (acs:log:<region>:<account>:project/<name>) "
                "or OssBucketName."
            )
        if len(self.cloud.trails) >= MAX_TRAILS_PER_REGION:
            raise MaximumNumberOfTrailsExceededException(
                f"The account already has {len(self.cloud.trails)} trails, the upper "
                f"limit is {MAX_TRAILS_PER_REGION}. Delete a trail before creating "
                f"{name!r}."
            )
        now = self.cloud.now()
        trail = Trail(
            name=name,
            home_region=self.cloud.region,
            sls_project=None,
            sls_project_arn=None,
            create_time=now,
            status="Fresh",
            event_rw=_event_rw(event_rw, default="Write"),
            update_time=now,
            trail_region=trail_region or "All",
            oss_bucket_name=oss_bucket_name or "",
            oss_key_prefix=oss_key_prefix or "",
            oss_write_role_arn=oss_write_role_arn or "",
        )
        if sls_project_arn:
            self._set_sls_project(trail, sls_project_arn, sls_write_role_arn)
        self.cloud.trails[name] = trail
        return trail

    def update_trail(
        self,
        *,
        name: str,
        sls_project_arn: str | None,
        sls_write_role_arn: str | None,
        oss_bucket_name: str | None,
        oss_key_prefix: str | None,
        oss_write_role_arn: str | None,
        event_rw: str | None,
        trail_region: str | None,
    ) -> Trail:
        """Change the given settings and keep the others."""
        trail = self.get_trail(name)
        if event_rw:
            trail.event_rw = _event_rw(event_rw, default=trail.event_rw)
        if trail_region:
            trail.trail_region = trail_region
        if sls_project_arn:
            self._set_sls_project(trail, sls_project_arn, sls_write_role_arn)
        elif sls_write_role_arn:
            trail.sls_write_role_arn = sls_write_role_arn
        if oss_bucket_name:
            trail.oss_bucket_name = oss_bucket_name
        if oss_key_prefix:
            trail.oss_key_prefix = oss_key_prefix
        if oss_write_role_arn:
            trail.oss_write_role_arn = oss_write_role_arn
        trail.update_time = self.cloud.now()
        return trail

    def _set_sls_project(
        self, trail: Trail, arn: str, write_role_arn: str | None
    ) -> None:
        match = SLS_PROJECT_ARN_PATTERN.match(arn)
        if match is None:
            raise InvalidQueryParameter(
                f"The SlsProjectArn {arn!r} is invalid. Use the form "
                f"acs:log:<region>:{self.cloud.account_id}:project/<project name>."
            )
        trail.sls_project = match["project"]
        trail.sls_project_arn = arn
        trail.sls_write_role_arn = write_role_arn or default_sls_write_role(
            self.cloud.account_id
        )
        # ActionTrail creates the trail's logstore in the project.
        self.cloud.sls_logs.setdefault(f"{trail.sls_project}/{trail.logstore}", [])

    def delete_trail(self, name: str) -> None:
        """Delete a trail. Its SLS logstore and the events in it stay."""
        self.get_trail(name)
        del self.cloud.trails[name]

    def start_logging(self, name: str) -> None:
        trail = self.get_trail(name)
        trail.status = "Enable"
        trail.start_logging_time = self.cloud.now()

    def stop_logging(self, name: str) -> None:
        """Stop delivery to SLS. LookupEvents keeps recording every call."""
        trail = self.get_trail(name)
        trail.status = "Disable"
        trail.stop_logging_time = self.cloud.now()

    def latest_delivery_time(self, trail: Trail) -> datetime | None:
        """Return the time of the newest event delivered to the trail's logstore.

        Rows dated after the emulator clock are not delivered yet.
        """
        if not trail.sls_project:
            return None
        rows = self.cloud.sls_logs.get(f"{trail.sls_project}/{trail.logstore}", [])
        now = self.cloud.now().timestamp()
        times = [
            int(row["__time__"])
            for row in rows
            if row.get("__time__") and int(row["__time__"]) <= now
        ]
        if not times:
            return None
        return datetime.fromtimestamp(max(times), UTC)


def default_sls_write_role(account_id: str) -> str:
    """Return the service-linked role that ActionTrail writes to SLS with."""
    return f"acs:ram::{account_id}:role/aliyunserviceroleforactiontrail"


def _event_rw(value: str | None, *, default: str) -> str:
    if not value:
        return default
    if value not in ("Read", "Write", "All"):
        raise InvalidQueryParameter(
            f"The EventRW {value!r} is invalid. Use Read, Write or All."
        )
    return value


def _page_size(text: str | None) -> int:
    if text in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_PAGE_SIZE:
        raise InvalidQueryParameter(
            f"The PageSize {text!r} is invalid. Use an integer from 0 to "
            f"{MAX_PAGE_SIZE}; 0 or no value means {DEFAULT_PAGE_SIZE}."
        )
    return number or DEFAULT_PAGE_SIZE


def get_backend(cloud: Cloud) -> ActionTrailBackend:
    """Return the account's ActionTrail backend, creating it on first use."""
    backend = cloud.service_state.get("actiontrail")
    if backend is None:
        backend = ActionTrailBackend(cloud)
        cloud.service_state["actiontrail"] = backend
    return backend
