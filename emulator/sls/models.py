"""SLS backend: the logstores of ``Cloud.sls_logs``, queried by time window and search.

Each logstore gets a ``LogstoreIndex`` that keeps its rows sorted by (``__time__``,
arrival order) and caches the values that queries read from each row, so repeated
queries over a large logstore parse its JSON once per new key. A row is visible once
the emulator clock has reached its ``__time__``.

Incomplete results: while ``Cloud.settings["sls_incomplete_polls"]`` is N > 0, the first
N responses to each distinct query report progress ``Incomplete`` and cover only the
older half of the matching logs; later responses are complete. The counts start again
whenever the setting changes. ``POST /__emu/config {"sls_incomplete_polls": N}`` sets
it.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass
from typing import Any

from emulator.sls.exceptions import (
    InvalidLine,
    InvalidOffset,
    InvalidQueryString,
    InvalidTimeRange,
    LogStoreNotExist,
    ParameterInvalid,
    ProjectNotExist,
)
from emulator.sls.query import (
    MISSING,
    QueryError,
    RowView,
    flatten_row,
    parse_search,
    split_query,
)
from emulator.sls.sql import (
    RESERVED_COLUMNS,
    PreparedSql,
    SqlError,
    prepare_sql,
    run_sql,
)
from emulator.state import Cloud

MAX_LINE = 100
MAX_HISTOGRAM_BUCKETS = 60
INCOMPLETE_POLLS_SETTING = "sls_incomplete_polls"
# NOTE: GetLogStore reports these emulator values for every logstore. They are not
# the settings that ActionTrail gives the logstores it creates.
LOGSTORE_TTL_DAYS = 180
LOGSTORE_SHARD_COUNT = 2

RowKey = tuple[int, int]  # (__time__, position in the logstore's row list)


class LogstoreIndex:
    """Rows of one logstore sorted by time, with a parsed view of each row."""

    def __init__(self) -> None:
        self.keys: list[RowKey] = []
        self.views: list[RowView] = []
        self._source: list[dict[str, str]] | None = None
        self._indexed = 0

    def sync(self, rows: list[dict[str, str]]) -> None:
        """Index the rows appended since the last call; rebuild if the list changed."""
        if rows is not self._source or len(rows) < self._indexed:
            self._source = rows
            self.views = [RowView(row) for row in rows]
            self.keys = sorted(
                (_row_time(row), position) for position, row in enumerate(rows)
            )
            self._indexed = len(rows)
            return
        for position in range(self._indexed, len(rows)):
            self.views.append(RowView(rows[position]))
            bisect.insort(self.keys, (_row_time(rows[position]), position))
        self._indexed = len(rows)

    def window(self, start: int, end: int) -> list[tuple[RowKey, RowView]]:
        """Return the rows with ``start <= __time__ < end``, oldest first."""
        low = bisect.bisect_left(self.keys, (start, -1))
        high = bisect.bisect_left(self.keys, (end, -1))
        return [(key, self.views[key[1]]) for key in self.keys[low:high]]


def _row_time(row: dict[str, str]) -> int:
    try:
        return int(row.get("__time__", "0"))
    except ValueError:
        return 0


@dataclass
class QueryResult:
    """The result of one GetLogs call, before it is shaped for v1 or v2."""

    progress: str
    rows: list[dict[str, str]]
    processed_rows: int
    elapsed_ms: int
    where_query: str
    agg_query: str
    keys: list[str]

    @property
    def has_sql(self) -> bool:
        return bool(self.agg_query)


@dataclass
class HistogramResult:
    progress: str
    buckets: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return sum(bucket["count"] for bucket in self.buckets)


@dataclass(frozen=True)
class LogQuery:
    """The parameters of GetLogs or GetHistograms that select logs."""

    project: str
    logstore: str
    from_time: int
    to_time: int
    query: str
    topic: str


class SlsBackend:
    """The SLS API of one account, one method per action."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._indexes: dict[str, LogstoreIndex] = {}
        self._polls: dict[tuple[Any, ...], int] = {}
        self._polls_setting = 0

    # Projects and logstores.

    def _logstores(self, project: str) -> list[str]:
        names = {
            key.split("/", 1)[1]
            for key in self.cloud.sls_logs
            if key.split("/", 1)[0] == project
        }
        names.update(
            trail.logstore
            for trail in self.cloud.trails.values()
            if trail.sls_project == project
        )
        return sorted(names)

    def require_project(self, project: str) -> None:
        if not project or not self._logstores(project):
            raise ProjectNotExist(
                f"The project {project!r} does not exist. Check the project name in "
                "the endpoint host, or the trail's SlsProjectArn."
            )

    def require_logstore(self, project: str, logstore: str) -> list[dict[str, str]]:
        """Return a logstore's rows, raising LogStoreNotExist when it is missing."""
        self.require_project(project)
        if logstore not in self._logstores(project):
            raise LogStoreNotExist(
                f"logstore {logstore} does not exist in project {project}. ActionTrail "
                "writes to the logstore actiontrail_<trail name>; call ListLogStores "
                "to see the names."
            )
        return self.cloud.sls_logs.setdefault(f"{project}/{logstore}", [])

    def list_logstores(
        self, project: str, name_filter: str | None, offset: int, size: int
    ) -> tuple[list[str], int]:
        """Return one page of the project's logstore names and the total count."""
        self.require_project(project)
        names = [
            name
            for name in self._logstores(project)
            if not name_filter or name_filter in name
        ]
        return names[offset : offset + size], len(names)

    def logstore_info(self, project: str, logstore: str) -> dict[str, Any]:
        """Describe a logstore the way GetLogStore does."""
        rows = self.require_logstore(project, logstore)
        created = self._creation_time(project, logstore, rows)
        return {
            "logstoreName": logstore,
            "ttl": LOGSTORE_TTL_DAYS,
            "shardCount": LOGSTORE_SHARD_COUNT,
            "enable_tracking": False,
            "autoSplit": True,
            "maxSplitShard": 64,
            "appendMeta": True,
            "createTime": created,
            "lastModifyTime": created,
            "telemetryType": "None",
            "mode": "standard",
        }

    def _creation_time(
        self, project: str, logstore: str, rows: list[dict[str, str]]
    ) -> int:
        """Date a logstore by its trail's creation, else by its oldest log."""
        for trail in self.cloud.trails.values():
            if trail.sls_project == project and trail.logstore == logstore:
                return int(trail.create_time.timestamp())
        if rows:
            return min(_row_time(row) for row in rows)
        return int(self.cloud.now().timestamp())

    # Queries.

    def _index(self, query: LogQuery) -> LogstoreIndex:
        rows = self.require_logstore(query.project, query.logstore)
        index = self._indexes.setdefault(
            f"{query.project}/{query.logstore}", LogstoreIndex()
        )
        index.sync(rows)
        return index

    def _matching(self, query: LogQuery) -> tuple[list[RowView], int, str, str | None]:
        """Return the visible logs that match the search part, oldest first.

        Also returns the number of logs scanned in the window and both query parts.
        """
        if query.from_time >= query.to_time:
            raise InvalidTimeRange(
                f"The time range [from={query.from_time}, to={query.to_time}) is "
                "empty: from must be earlier than to (epoch seconds)."
            )
        search, analytic = split_query(query.query)
        try:
            node = parse_search(search)
        except QueryError as error:
            raise InvalidQueryString(str(error)) from None
        index = self._index(query)
        visible_end = min(query.to_time, int(self.cloud.now().timestamp()) + 1)
        window = index.window(query.from_time, visible_end)
        if query.topic:
            window = [
                entry
                for entry in window
                if entry[1].row.get("__topic__") == query.topic
            ]
        keys = node.keys()
        matched = []
        for _, view in window:
            view.prefetch(keys)
            if node.matches(view):
                matched.append(view)
        return matched, len(window), search, analytic

    def _is_complete(self, kind: str, query: LogQuery, *extra: Any) -> bool:
        """Count a response to a query and tell whether it may be complete."""
        incomplete_polls = int(
            self.cloud.settings.get(INCOMPLETE_POLLS_SETTING, 0) or 0
        )
        if incomplete_polls != self._polls_setting:
            self._polls.clear()
            self._polls_setting = incomplete_polls
        if incomplete_polls <= 0:
            return True
        key = (kind, query, *extra)
        seen = self._polls.get(key, 0)
        if seen >= incomplete_polls:
            return True
        self._polls[key] = seen + 1
        return False

    def get_logs(
        self, query: LogQuery, *, line: int, offset: int, reverse: bool
    ) -> QueryResult:
        """Run GetLogs: a search page, or the result of the analytic statement."""
        started = time.monotonic()
        if not 0 <= line <= MAX_LINE:
            raise InvalidLine(
                f"line {line} is invalid: use 0 to {MAX_LINE} logs per call, and page "
                "with offset."
            )
        if offset < 0:
            raise InvalidOffset(f"offset {offset} is invalid: use 0 or more.")
        matched, processed, search, analytic = self._matching(query)
        complete = self._is_complete("logs", query, line, offset, reverse)
        if not complete:
            matched = matched[: len(matched) // 2]

        if analytic is not None:
            if offset:
                raise ParameterInvalid(
                    f"offset {offset} cannot be used with an analytic statement. Page "
                    "SQL results with LIMIT <offset>, <count> and leave offset at 0."
                )
            keys, rows = self._run_sql(query, analytic, matched)
        else:
            ordered = list(reversed(matched)) if reverse else matched
            rows = [dict(view.row) for view in ordered[offset : offset + line]]
            keys = sorted({key for row in rows for key in row} - {"__time__"})
        return QueryResult(
            progress="Complete" if complete else "Incomplete",
            rows=rows,
            processed_rows=processed,
            elapsed_ms=int((time.monotonic() - started) * 1000),
            where_query=search,
            agg_query=analytic or "",
            keys=keys,
        )

    def _run_sql(
        self, query: LogQuery, analytic: str, matched: list[RowView]
    ) -> tuple[list[str], list[dict[str, str]]]:
        try:
            prepared = prepare_sql(analytic, query.logstore)
            names, rows = run_sql(
                prepared, _sql_rows(prepared, matched), self.cloud.now()
            )
        except SqlError as error:
            raise ParameterInvalid(str(error)) from None
        for row in rows:
            row.setdefault("__source__", "")
            row.setdefault("__time__", "0")
        return names, rows

    def get_histograms(self, query: LogQuery) -> HistogramResult:
        """Count matching logs in at most 60 equal buckets that cover [from, to)."""
        matched, _, _, _ = self._matching(query)
        complete = self._is_complete("histogram", query)
        if not complete:
            matched = matched[: len(matched) // 2]
        times = sorted(_row_time(view.row) for view in matched)
        span = query.to_time - query.from_time
        width = max(1, math.ceil(span / MAX_HISTOGRAM_BUCKETS))
        progress = "Complete" if complete else "Incomplete"
        buckets = []
        for start in range(query.from_time, query.to_time, width):
            end = min(start + width, query.to_time)
            count = bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
            buckets.append(
                {"from": start, "to": end, "count": count, "progress": progress}
            )
        return HistogramResult(progress, buckets)


def _sql_rows(prepared: PreparedSql, matched: list[RowView]) -> list[dict[str, Any]]:
    """Build the table rows of an analytic statement from the matched logs.

    ``SELECT *`` needs every field. Otherwise only the fields the statement names are
    read, which avoids flattening every event of a large logstore.
    """
    if prepared.reads_all_columns:
        return [flatten_row(view.row) for view in matched]
    json_keys = sorted(
        name
        for name in prepared.referenced | set(RESERVED_COLUMNS)
        if "." in name or name.startswith("__")
    )
    plain_names = [name for name in prepared.referenced if name not in json_keys]
    rows = []
    for view in matched:
        view.prefetch(json_keys)
        values = {name: view.value(name) for name in json_keys}
        values.update(
            (name, view.row[name]) for name in plain_names if name in view.row
        )
        rows.append({name: v for name, v in values.items() if v is not MISSING})
    return rows


def get_backend(cloud: Cloud) -> SlsBackend:
    """Return the account's SLS backend, creating it on first use."""
    backend = cloud.service_state.get("sls")
    if backend is None:
        backend = SlsBackend(cloud)
        cloud.service_state["sls"] = backend
    return backend
