"""Collect the ActionTrail events of an incident from LookupEvents and SLS.

ActionTrail offers two routes to the same records:

* LookupEvents keeps the management events of the last 90 days. ``tasks.actiontrail``
  pages each query to the end, at most 2 calls per second, and retries throttling.
  The collector sends one query per 30-day window, so a failed window leaves a gap
  instead of losing the whole range.
* A trail delivers the same records to the SLS logstore ``actiontrail_<trail name>``
  of the project in its ``SlsProjectArn``, kept for the logstore's TTL, so older
  history is there. Plain searches are paged with ``offset`` (100 rows a page,
  because an SQL query would stop at 100 rows), a page that SLS reports incomplete
  is asked again, and the row count is compared with GetHistograms.

An event that arrives by both routes is kept once (by ``eventId``). Every search
adds a ``CoverageEntry`` naming the source, target, time range and outcome. A
failed search is recorded and the collection goes on: evidence gathering is
read-only, so a gap belongs in the report instead of stopping the response.
Ranges that no route can show (older than LookupEvents' 90 days with no trail,
beyond the logstore's TTL, or after a trail stopped logging) become
``CoverageGap`` entries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd

from akresponder.analysis.events import (
    combine_events,
    empty_events,
    normalise_events,
)
from akresponder.errors import CloudError
from akresponder.report import CoverageEntry, CoverageGap

logger = logging.getLogger(__name__)

LOOKUP_WINDOW = timedelta(days=30)
# LookupEvents rejects a StartTime more than 90 days before the service's current
# time; the margin keeps the start inside that limit while the query runs.
LOOKUP_HORIZON = timedelta(days=90) - timedelta(minutes=10)
SLS_PAGE = 100
# Extra requests for an SLS result that SLS reports incomplete, and the pause before
# each. The SDK itself repeats an incomplete GetLogs five times (but not
# GetHistograms), so a page gets up to 30 tries.
INCOMPLETE_RETRIES = 5
INCOMPLETE_PAUSE_SECONDS = 1.0
# Events read by scanning all of the account's events, the fallback of the source IP
# search when no trail logstore contains the range. At LookupEvents' 2 calls a
# second and 50 events a page, 5,000 events take about 50 s.
ACCOUNT_SCAN_MAX_EVENTS = 5_000
# Trail calls that start or stop delivery to the trail's targets.
TRAIL_CHANGE_EVENTS = ("StopLogging", "DeleteTrail", "UpdateTrail", "StartLogging")

# Activity neither route records, stated in every report.
NOT_VISIBLE: tuple[str, ...] = (
    "Data events, such as OSS object reads and writes (GetObject, PutObject, "
    "DeleteObject) and SLS log reads: LookupEvents returns management events only, "
    "and a trail records data events only when it is configured for them.",
    "Activity inside instances and databases (commands over SSH, files or rows "
    "read), which never passes through a cloud API.",
    "Calls made in about the last 10 minutes: ActionTrail makes events queryable "
    "about 10 minutes after the call.",
    "Calls with another credential that the searches did not reach: only the "
    "compromised key, the credentials it created and the identities seen from its "
    "source IPs were searched.",
)


@dataclass
class TrailSource:
    """A trail that delivers to an SLS logstore, as DescribeTrails reported it."""

    name: str
    status: str
    project: str
    logstore: str
    created: datetime | None = None
    start_logging: datetime | None = None
    stop_logging: datetime | None = None
    ttl_days: int | None = None

    def readable_from(self, end: datetime) -> datetime | None:
        """Return the oldest time the logstore can still hold events for."""
        moments = [moment for moment in (self.created,) if moment is not None]
        if self.ttl_days is not None:
            moments.append(end - timedelta(days=self.ttl_days))
        return max(moments) if moments else None


@dataclass
class Search:
    """One query for events: the match test and each route's request for it."""

    label: str  # for coverage, such as "EventAccessKeyId=LTAI..."
    lookup: dict[str, str] | None  # LookupEvents attribute, None scans all events
    sls_query: str
    match: Callable[[dict[str, Any]], bool]


@dataclass
class EvidenceCollector:
    """Reads events from both routes and keeps the records, coverage and gaps."""

    connection: Any
    incident: str
    end: datetime
    use_sls: bool = True
    # Scan all LookupEvents events for a source IP when no logstore has the range.
    scan_lookup_for_ips: bool = False
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_route: dict[str, set[str]] = field(
        default_factory=lambda: {"actiontrail": set(), "sls": set()}
    )
    coverage: list[CoverageEntry] = field(default_factory=list)
    gaps: list[CoverageGap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trails: list[TrailSource] | None = None
    _anonymous: int = 0
    _searched: dict[str, datetime] = field(default_factory=dict)
    # Trails whose logstore missed events because logging stopped in the range.
    _stopped_trails: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Both routes take whole seconds and reject a range whose start is not
        # before its end. Rounding the end up keeps sub-second ranges valid, and
        # rounding a start up loses nothing, because event times are whole seconds.
        self.end = _whole_second(self.end.astimezone(UTC), up=True)

    # Public searches ------------------------------------------------------------

    def key_events(self, access_key_id: str, start: datetime) -> pd.DataFrame:
        """Return every event made with ``access_key_id`` from ``start`` on."""
        search = Search(
            label=f"EventAccessKeyId={access_key_id}",
            lookup={"EventAccessKeyId": access_key_id},
            sls_query=f'"event.userIdentity.accessKeyId": "{access_key_id}"',
            match=lambda record: _identity(record).get("accessKeyId") == access_key_id,
        )
        return self.search(search, start)

    def key_and_owner_events(self, access_key_id: str, start: datetime) -> pd.DataFrame:
        """Return the key's events and those of the RAM user that owns it.

        The owner's other activity (console sessions, its other keys) shows which
        source IPs the owner uses, and whether the attacker also signed in.
        """
        frame = self.key_events(access_key_id, start)
        rows = frame.loc[
            (frame["access_key_id"] == access_key_id)
            & (frame["identity_type"] == "ram-user")
        ]
        for owner in sorted(set(rows["identity_name"]) - {""}):
            frame = combine_events(frame, self.user_events(owner, start))
        return frame

    def user_events(self, user_name: str, start: datetime) -> pd.DataFrame:
        """Return every event of the identity named ``user_name`` from ``start`` on."""
        search = Search(
            label=f"User={user_name}",
            lookup={"User": user_name},
            sls_query=f'"event.userIdentity.userName": "{user_name}"',
            match=lambda record: _identity(record).get("userName") == user_name,
        )
        return self.search(search, start)

    def ip_events(self, source_ip: str, start: datetime) -> pd.DataFrame:
        """Return every event of the account from ``source_ip`` since ``start``.

        LookupEvents cannot filter by source IP, so the trail's logstore is
        searched. When no logstore contains the whole range and
        ``scan_lookup_for_ips`` is set, the account's events are scanned (at most
        ``ACCOUNT_SCAN_MAX_EVENTS``) and filtered here. Otherwise the gap is
        recorded.
        """
        search = Search(
            label=f"sourceIpAddress={source_ip}",
            lookup=None,
            sls_query=f'"event.sourceIpAddress": "{source_ip}"',
            match=lambda record: record.get("sourceIpAddress") == source_ip,
        )
        return self.search(search, start)

    def search(self, search: Search, start: datetime) -> pd.DataFrame:
        """Run ``search`` over ``[start, end)`` on both routes; return the events.

        A search already run from ``start`` or earlier returns no rows, because its
        events were returned the first time.
        """
        start = min(
            _whole_second(start.astimezone(UTC), up=True),
            self.end - timedelta(seconds=1),
        )
        earlier = self._searched.get(search.label)
        if earlier is not None and earlier <= start:
            return empty_events()
        self._searched[search.label] = start
        if self.use_sls and self.trails is None:
            self.discover_trails()
        sls_records: list[dict[str, Any]] = []
        sls_complete = False
        for trail in self.trails or []:
            found, complete = self._search_logstore(trail, search, start)
            sls_records.extend(found)
            sls_complete = sls_complete or complete
        lookup_records: list[dict[str, Any]] = []
        if search.lookup is not None:
            lookup_records = self._lookup(search, start)
        elif not sls_complete and self.scan_lookup_for_ips:
            lookup_records = self._lookup(search, start)
        elif not sls_complete:
            self._scan_skipped(search, start)
        self._keep(lookup_records, "actiontrail")
        self._keep(sls_records, "sls")
        # Most SLS records repeat LookupEvents ones, and normalising costs tens of
        # milliseconds even for a few records, so only the SLS-only ones are added.
        seen = {record.get("eventId") for record in lookup_records}
        sls_only = [
            record for record in sls_records if record.get("eventId") not in seen
        ]
        frames = []
        if lookup_records:
            frames.append(normalise_events(lookup_records, "actiontrail"))
        if sls_only:
            frames.append(normalise_events(sls_only, "sls"))
        if not frames:
            return empty_events()
        if len(frames) == 1:
            return frames[0]
        return combine_events(*frames)

    def _scan_skipped(self, search: Search, start: datetime) -> None:
        self.coverage.append(
            CoverageEntry(
                source="actiontrail",
                status="skipped",
                target=search.label,
                start=start,
                end=self.end,
                detail="No trail logstore holds this range completely, and scanning "
                "every LookupEvents event for the address is off "
                "(investigation.scan_lookup_events_for_ips): identities that used it "
                "without a suspect key were not searched.",
            )
        )

    # Trails -----------------------------------------------------------------------

    def discover_trails(self) -> None:
        """Find the trails that deliver to SLS, and how long their logstores keep."""
        from tasks import actiontrail as trail_tasks
        from tasks import sls as sls_tasks

        self.trails = []
        try:
            described = trail_tasks.describe_trails.fn(
                self.connection, incident=self.incident
            )
        except CloudError as error:
            logger.error(
                "DescribeTrails failed incident=%s code=%s", self.incident, error.code
            )
            self.coverage.append(
                CoverageEntry(
                    source="sls",
                    status="failed",
                    target="DescribeTrails",
                    detail=f"{error} The trail logstores were not searched.",
                )
            )
            return
        for item in described:
            trail = _trail_source(item)
            if trail is None:
                continue
            try:
                info = sls_tasks.get_logstore.fn(
                    self.connection,
                    trail.project,
                    trail.logstore,
                    incident=self.incident,
                )
                trail.ttl_days = int(info["Ttl"])
            except CloudError as error:
                self.notes.append(
                    f"GetLogStore for {trail.project}/{trail.logstore} failed, so its "
                    f"retention is unknown: {error}"
                )
            except ValueError as error:
                self.notes.append(f"trail {trail.name} was skipped: {error}")
                continue
            self.trails.append(trail)
        if not self.trails:
            self.coverage.append(
                CoverageEntry(
                    source="sls",
                    status="skipped",
                    target="DescribeTrails",
                    detail="No trail delivers ActionTrail events to an SLS logstore, "
                    "so only LookupEvents' last 90 days were searchable.",
                )
            )
            return
        for trail in self.trails:
            if trail.status != "Enable":
                self._stopped_trails.add(trail.name)
                self.gaps.append(
                    CoverageGap(
                        source=f"sls:{trail.project}/{trail.logstore}",
                        start=trail.stop_logging,
                        end=self.end,
                        reason=f"Trail {trail.name} is not logging (Status "
                        f"{trail.status}), so its logstore receives no events.",
                    )
                )

    def check_trail_changes(self, start: datetime) -> list[dict[str, Any]]:
        """Find calls that stopped, deleted or changed a trail since ``start``.

        Each successful StopLogging or DeleteTrail opens a gap in the SLS route from
        its time until a later StartLogging of the same trail, or the end. The
        records are returned for the evidence bundle; they are not analysed as the
        suspects' events.
        """
        changes: list[dict[str, Any]] = []
        start = min(
            _whole_second(start.astimezone(UTC), up=True),
            self.end - timedelta(seconds=1),
        )
        for name in TRAIL_CHANGE_EVENTS:
            search = Search(
                label=f"EventName={name}",
                lookup={"EventName": name},
                sls_query="",
                match=lambda record: True,
            )
            changes.extend(self._lookup(search, start))
        changes = [record for record in changes if not record.get("errorCode")]
        changes.sort(key=lambda record: str(record.get("eventTime") or ""))
        stopped: dict[str, tuple[datetime, dict[str, Any]]] = {}
        for record in changes:
            trail = _trail_name(record)
            moment = _parse_time(record.get("eventTime"))
            action = str(record.get("eventName"))
            caller = _caller(record)
            if action in ("StopLogging", "DeleteTrail") and moment is not None:
                stopped.setdefault(trail, (moment, record))
                self._stopped_trails.add(trail)
            elif action == "StartLogging" and trail in stopped and moment is not None:
                began, stop = stopped.pop(trail)
                self._logging_gap(trail, began, moment, stop)
            elif action == "UpdateTrail":
                self.notes.append(
                    f"trail {trail} was updated at {record.get('eventTime')} by "
                    f"{caller} (event {record.get('eventId')}); check that it still "
                    "delivers every event"
                )
        for trail, (began, stop) in stopped.items():
            self._logging_gap(trail, began, self.end, stop)
        known = {trail.name for trail in self.trails or []}
        for record in changes:
            name = _trail_name(record)
            deleted = record.get("eventName") == "DeleteTrail"
            if self.use_sls and deleted and name not in known:
                self.notes.append(
                    f"trail {name} was deleted at {record.get('eventTime')} (event "
                    f"{record.get('eventId')}), so DescribeTrails no longer names its "
                    "SLS logstore and that logstore was not searched; search it by "
                    "hand if the trail delivered to SLS"
                )
        return changes

    def _logging_gap(
        self, trail: str, start: datetime, end: datetime, record: dict[str, Any]
    ) -> None:
        caller = _caller(record)
        self.gaps.append(
            CoverageGap(
                source=f"sls:trail {trail}",
                start=start,
                end=end,
                reason=f"{record.get('eventName')} by {caller} (event "
                f"{record.get('eventId')}): the trail delivered nothing to SLS in "
                "this range. LookupEvents still has the last 90 days.",
            )
        )

    # Routes -----------------------------------------------------------------------

    def _lookup(self, search: Search, start: datetime) -> list[dict[str, Any]]:
        """Query LookupEvents window by window; record coverage and gaps."""
        from tasks import actiontrail as trail_tasks

        horizon = self.end - LOOKUP_HORIZON
        begin = max(start, horizon)
        found: list[dict[str, Any]] = []
        failures: list[str] = []
        capped = False
        window_end = self.end
        while window_end > begin:
            window_start = max(begin, window_end - LOOKUP_WINDOW)
            limit = None
            if search.lookup is None:
                limit = ACCOUNT_SCAN_MAX_EVENTS - len(found)
            try:
                events = trail_tasks.lookup_events.fn(
                    self.connection,
                    start_time=window_start,
                    end_time=window_end,
                    attributes=search.lookup,
                    max_events=limit,
                    incident=self.incident,
                )
            except CloudError as error:
                logger.error(
                    "LookupEvents failed incident=%s target=%s window=%s/%s code=%s",
                    self.incident,
                    search.label,
                    _iso(window_start),
                    _iso(window_end),
                    error.code,
                )
                failures.append(f"{_iso(window_start)} to {_iso(window_end)}: {error}")
                self.gaps.append(
                    CoverageGap(
                        source="actiontrail",
                        start=window_start,
                        end=window_end,
                        reason=f"LookupEvents {search.label} failed: {error}",
                    )
                )
            else:
                found.extend(event for event in events if search.match(event))
                if limit is not None and len(events) >= limit:
                    capped = True
                    break
            window_end = window_start

        detail = "LookupEvents, 30-day windows, every page."
        if start < horizon:
            detail += (
                f" LookupEvents keeps 90 days, so the range before {_iso(horizon)} "
                "was left to the trail's logstore."
            )
        if capped:
            detail += (
                f" The scan of all events stopped at {ACCOUNT_SCAN_MAX_EVENTS} events "
                "(the newest), so older matches may be missing."
            )
        if failures:
            detail += " Failed windows: " + "; ".join(failures)
        if failures and len(failures) * LOOKUP_WINDOW >= self.end - begin:
            status = "failed"
        elif failures or capped:
            status = "partial"
        else:
            status = "complete"
        self.coverage.append(
            CoverageEntry(
                source="actiontrail",
                status=status,
                items=len(found),
                target=search.label,
                start=begin,
                end=self.end,
                detail=detail,
            )
        )
        return found

    def _search_logstore(
        self, trail: TrailSource, search: Search, start: datetime
    ) -> tuple[list[dict[str, Any]], bool]:
        """Page a plain search through one logstore; return records and completeness."""
        from tasks import sls as sls_tasks

        readable = trail.readable_from(self.end)
        begin = max(start, readable) if readable is not None else start
        target = f"{trail.project}/{trail.logstore} {search.label}"
        if begin >= self.end:
            self.coverage.append(
                CoverageEntry(
                    source="sls",
                    status="skipped",
                    target=target,
                    start=start,
                    end=self.end,
                    detail="The logstore holds no events from this range.",
                )
            )
            return [], False
        rows: list[dict[str, str]] = []
        incomplete_pages = 0
        offset = 0
        try:
            while True:
                page, complete = self._logstore_page(
                    trail, search.sls_query, begin, offset
                )
                incomplete_pages += 0 if complete else 1
                rows.extend(page)
                offset += len(page)
                if len(page) < SLS_PAGE:
                    break
            histogram = self._until_complete(
                "histogram",
                trail,
                0,
                lambda: sls_tasks.get_histograms.fn(
                    self.connection,
                    trail.project,
                    trail.logstore,
                    begin,
                    self.end,
                    query=search.sls_query,
                    incident=self.incident,
                ),
            )
        except CloudError as error:
            logger.error(
                "SLS search failed incident=%s target=%s code=%s",
                self.incident,
                target,
                error.code,
            )
            self.coverage.append(
                CoverageEntry(
                    source="sls",
                    status="failed",
                    target=target,
                    start=begin,
                    end=self.end,
                    items=len(rows),
                    detail=f"GetLogs failed after {len(rows)} rows: {error}",
                )
            )
            self.gaps.append(
                CoverageGap(
                    source=f"sls:{trail.project}/{trail.logstore}",
                    start=begin,
                    end=self.end,
                    reason=f"the search {search.label} failed: {error}",
                )
            )
            return self._records_of(rows, search), False

        records = self._records_of(rows, search)
        total = int(histogram.get("Total") or 0)
        problems = []
        if incomplete_pages:
            problems.append(
                f"{incomplete_pages} page(s) stayed incomplete after "
                f"{INCOMPLETE_RETRIES} extra requests"
            )
        if not histogram.get("Complete", True):
            problems.append("GetHistograms reported an incomplete count")
        if total != len(rows):
            problems.append(
                f"GetLogs returned {len(rows)} rows but GetHistograms counts {total}"
            )
        detail = (
            f"GetLogs plain search paged by offset; {len(rows)} rows, "
            f"{len(records)} matched exactly; GetHistograms counts {total}."
        )
        if readable is not None and start < readable:
            detail += (
                f" The logstore holds events from {_iso(readable)} (trail creation "
                "or TTL)."
            )
        if problems:
            detail += " " + "; ".join(problems) + "."
        self.coverage.append(
            CoverageEntry(
                source="sls",
                status="partial" if problems else "complete",
                items=len(records),
                target=target,
                start=begin,
                end=self.end,
                detail=detail,
            )
        )
        return records, not problems and trail.name not in self._stopped_trails

    def _logstore_page(
        self, trail: TrailSource, query: str, begin: datetime, offset: int
    ) -> tuple[list[dict[str, str]], bool]:
        """Fetch one page of rows; return them and whether SLS finished the query."""
        from tasks import sls as sls_tasks

        page = self._until_complete(
            "page",
            trail,
            offset,
            lambda: sls_tasks.get_logs_page.fn(
                self.connection,
                trail.project,
                trail.logstore,
                begin,
                self.end,
                query=query,
                offset=offset,
                page_size=SLS_PAGE,
                incident=self.incident,
            ),
        )
        return page["Rows"], bool(page["Complete"])

    def _until_complete(
        self,
        result_name: str,
        trail: TrailSource,
        offset: int,
        fetch: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """Call ``fetch`` again while its result has ``Complete`` false.

        The SDK already repeats an incomplete request five times; this adds
        ``INCOMPLETE_RETRIES`` more, with a pause, and returns the last result.
        """
        result = fetch()
        for attempt in range(INCOMPLETE_RETRIES):
            if result.get("Complete", True):
                break
            logger.info(
                "SLS %s incomplete, asking again incident=%s logstore=%s offset=%d "
                "attempt=%d",
                result_name,
                self.incident,
                trail.logstore,
                offset,
                attempt + 2,
            )
            time.sleep(INCOMPLETE_PAUSE_SECONDS)
            result = fetch()
        return result

    def _records_of(
        self, rows: list[dict[str, str]], search: Search
    ) -> list[dict[str, Any]]:
        """Parse each row's ``event`` JSON and keep the records that match exactly.

        The SLS index compares tokens without regard to case, so a search can
        return rows of another key or user whose value differs only in case.
        """
        records = []
        for row in rows:
            try:
                record = orjson.loads(row.get("event") or "")
            except orjson.JSONDecodeError:
                self.notes.append(
                    f"an SLS row at {row.get('__time__')} had an event field that is "
                    "not JSON and was skipped"
                )
                continue
            if isinstance(record, dict) and search.match(record):
                records.append(record)
        return records

    def _keep(self, records: list[dict[str, Any]], route: str) -> None:
        for record in records:
            event_id = record.get("eventId")
            if not isinstance(event_id, str) or not event_id:
                self._anonymous += 1
                event_id = f"(no eventId {self._anonymous})"
            self.by_route[route].add(event_id)
            stored = self.records.get(event_id)
            if stored is None or len(orjson.dumps(record)) > len(orjson.dumps(stored)):
                self.records[event_id] = record

    # Summary ----------------------------------------------------------------------

    def route_counts(self) -> dict[str, int]:
        """Return how many distinct events each route found, and both."""
        lookup = self.by_route["actiontrail"]
        sls = self.by_route["sls"]
        return {
            "actiontrail": len(lookup),
            "sls": len(sls),
            "both": len(lookup & sls),
            "total": len(lookup | sls),
        }

    def uncovered_history(self, start: datetime) -> None:
        """Add a gap for the range before LookupEvents' horizon that SLS cannot show."""
        horizon = self.end - LOOKUP_HORIZON
        if start >= horizon:
            return
        readable = [
            trail.readable_from(self.end) or start for trail in self.trails or []
        ]
        oldest = min(readable) if readable else horizon
        if oldest > start:
            reason = (
                "older than LookupEvents' 90 days and not in any trail's logstore"
                if readable
                else "older than LookupEvents' 90 days, and no trail delivers to SLS"
            )
            self.gaps.append(
                CoverageGap(
                    source="all",
                    start=start,
                    end=min(oldest, horizon),
                    reason=f"No events could be read: {reason}.",
                )
            )


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    identity = record.get("userIdentity")
    return identity if isinstance(identity, dict) else {}


def _caller(record: dict[str, Any]) -> str:
    """Name the credential that made a call: its AccessKey, else its user."""
    identity = _identity(record)
    return str(identity.get("accessKeyId") or identity.get("userName") or "(unknown)")


def _trail_name(record: dict[str, Any]) -> str:
    params = record.get("requestParameters")
    if isinstance(params, dict) and params.get("Name"):
        return str(params["Name"])
    return str(record.get("resourceName") or "(unnamed)")


def _trail_source(item: dict[str, Any]) -> TrailSource | None:
    """Build a ``TrailSource`` from a DescribeTrails item; None without SLS."""
    arn = str(item.get("SlsProjectArn") or "")
    name = str(item.get("Name") or "")
    if "project/" not in arn or not name:
        return None
    return TrailSource(
        name=name,
        status=str(item.get("Status") or ""),
        project=arn.rsplit("project/", 1)[1],
        logstore=f"actiontrail_{name}",
        created=_parse_time(item.get("CreateTime")),
        start_logging=_parse_time(item.get("StartLoggingTime")),
        stop_logging=_parse_time(item.get("StopLoggingTime")),
    )


def _parse_time(value: Any) -> datetime | None:
    """Parse ISO 8601 text (``Z`` or an offset, or a space for ``T``); None if not."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00").replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _whole_second(moment: datetime, *, up: bool) -> datetime:
    """Round ``moment`` down (or up) to a whole second."""
    floor = moment.replace(microsecond=0)
    if up and floor != moment:
        return floor + timedelta(seconds=1)
    return floor


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
