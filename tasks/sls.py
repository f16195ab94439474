"""SLS (Log Service) tasks for reading an ActionTrail trail's logstore.

``get_logs`` runs a search query and follows ``offset`` in pages of at most 100 rows
until a short page (or ``max_rows``). A query with an SQL part (``... | select ...``)
is sent once, because SLS pages SQL results only through ``LIMIT``.
``get_histograms`` returns the per-interval counts of a query. Rows are dicts of
strings, as SLS returns them: ``__time__`` (epoch seconds), ``__source__``,
``__topic__`` and, for ActionTrail, ``event`` (the whole event record as JSON text).

The SLS SDK itself retries 5xx answers and connection-pool errors ten times with
1 s pauses; this layer adds retries only for quota errors.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aliyun.log import GetHistogramsRequest, GetLogsRequest

from akresponder.config import CloudConnection
from tasks._common import (
    call_api,
    check_logstore,
    check_page_size,
    check_project,
    cloud_task,
    fields,
    task_logger,
    to_utc,
)

PAGE_MAX = 100
_SQL = re.compile(r"\|.*\bselect\b", re.IGNORECASE | re.DOTALL)


def _epoch(value: datetime | str | int, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid {name} {value!r}; give epoch seconds or a datetime")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid {name} {value}; epoch seconds must be positive")
        return value
    return int(to_utc(value, name).timestamp())


def _range(
    from_time: datetime | str | int, to_time: datetime | str | int
) -> tuple[int, int]:
    start = _epoch(from_time, "from_time")
    end = _epoch(to_time, "to_time")
    if start >= end:
        raise ValueError(
            f"from_time {start} is not before to_time {end}; SLS queries the "
            "half-open range [from, to)"
        )
    return start, end


def _row(log: Any) -> dict[str, str]:
    row = {"__time__": str(log.get_time()), "__source__": log.get_source() or ""}
    row.update(log.get_contents())
    return row


@cloud_task("log:GetLogStoreLogs")
def get_logs(
    connection: CloudConnection,
    project: str,
    logstore: str,
    from_time: datetime | str | int,
    to_time: datetime | str | int,
    *,
    query: str = "*",
    topic: str | None = None,
    page_size: int = PAGE_MAX,
    max_rows: int | None = None,
    reverse: bool = False,
    incident: str = "",
) -> list[dict[str, str]]:
    """Return the rows matching ``query`` in ``[from_time, to_time)``.

    ``reverse=True`` returns the newest rows first. ``max_rows`` caps the result.
    """
    check_project(project)
    check_logstore(logstore)
    start, end = _range(from_time, to_time)
    check_page_size(page_size, PAGE_MAX)
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"invalid max_rows {max_rows!r}; use 1 or more, or None")
    is_sql = bool(_SQL.search(query or ""))
    log = task_logger()
    log.info(
        "Getting logs %s",
        fields(
            incident=incident,
            project=project,
            logstore=logstore,
            start=start,
            end=end,
            sql=is_sql,
        ),
    )
    log.debug("SLS query %s", fields(query=query))

    rows: list[dict[str, str]] = []
    offset = 0
    pages = 0
    while True:
        request = GetLogsRequest(
            project=project,
            logstore=logstore,
            fromTime=start,
            toTime=end,
            topic=topic,
            query=query,
            line=page_size,
            offset=0 if is_sql else offset,
            reverse=reverse,
        )
        response = call_api(
            connection,
            "sls",
            "GetLogs",
            lambda client, request=request: client.get_logs(request),
            target=f"project={project} logstore={logstore} offset={offset}",
        )
        pages += 1
        page_rows = [_row(item) for item in response.get_logs()]
        rows.extend(page_rows)
        offset += len(page_rows)
        if is_sql or len(page_rows) < page_size:
            break
        if max_rows is not None and len(rows) >= max_rows:
            break

    if max_rows is not None:
        rows = rows[:max_rows]
    log.info(
        "Got logs %s",
        fields(incident=incident, logstore=logstore, rows=len(rows), pages=pages),
    )
    return rows


@cloud_task("log:GetLogStoreHistogram")
def get_histograms(
    connection: CloudConnection,
    project: str,
    logstore: str,
    from_time: datetime | str | int,
    to_time: datetime | str | int,
    *,
    query: str = "*",
    topic: str | None = None,
    incident: str = "",
) -> dict[str, Any]:
    """Return ``{"Total": n, "Complete": bool, "Histograms": [{"From", "To",
    "Count", "Complete"}]}`` for ``query`` in ``[from_time, to_time)``."""
    check_project(project)
    check_logstore(logstore)
    start, end = _range(from_time, to_time)
    log = task_logger()
    log.info(
        "Getting histograms %s",
        fields(incident=incident, project=project, logstore=logstore),
    )

    request = GetHistogramsRequest(
        project=project,
        logstore=logstore,
        fromTime=start,
        toTime=end,
        topic=topic,
        query=query,
    )
    response = call_api(
        connection,
        "sls",
        "GetHistograms",
        lambda client: client.get_histograms(request),
        target=f"project={project} logstore={logstore}",
    )
    histograms = [
        {
            "From": item.get_from(),
            "To": item.get_to(),
            "Count": item.get_count(),
            "Complete": item.is_completed(),
        }
        for item in response.get_histograms()
    ]
    result = {
        "Total": response.get_total_count(),
        "Complete": response.is_completed(),
        "Histograms": histograms,
    }

    log.info(
        "Got histograms %s",
        fields(incident=incident, logstore=logstore, total=result["Total"]),
    )
    return result


@cloud_task("log:GetLogStoreLogs")
def get_logs_page(
    connection: CloudConnection,
    project: str,
    logstore: str,
    from_time: datetime | str | int,
    to_time: datetime | str | int,
    *,
    query: str = "*",
    offset: int = 0,
    page_size: int = PAGE_MAX,
    reverse: bool = False,
    incident: str = "",
) -> dict[str, Any]:
    """Fetch one page of a plain search and report whether SLS finished the query.

    Returns ``{"Rows": [...], "Complete": bool}``. SLS marks a result incomplete when
    it ran out of time scanning, and the SDK re-sends such a request up to five
    times before it returns the incomplete result; the caller decides whether to
    ask again. SQL queries are rejected: page those with ``LIMIT`` in ``get_logs``.
    """
    check_project(project)
    check_logstore(logstore)
    start, end = _range(from_time, to_time)
    check_page_size(page_size, PAGE_MAX)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError(f"invalid offset {offset!r}; use 0 or more")
    if _SQL.search(query or ""):
        raise ValueError(
            f"query {query!r} has an SQL part, which SLS does not page with offset; "
            "use get_logs with a LIMIT clause instead"
        )
    log = task_logger()
    log.debug(
        "Getting a page of logs %s",
        fields(incident=incident, project=project, logstore=logstore, offset=offset),
    )

    request = GetLogsRequest(
        project=project,
        logstore=logstore,
        fromTime=start,
        toTime=end,
        query=query,
        line=page_size,
        offset=offset,
        reverse=reverse,
    )
    response = call_api(
        connection,
        "sls",
        "GetLogs",
        lambda client: client.get_logs(request),
        target=f"project={project} logstore={logstore} offset={offset}",
    )
    return {
        "Rows": [_row(item) for item in response.get_logs()],
        "Complete": bool(response.is_completed()),
    }


@cloud_task("log:GetLogStore")
def get_logstore(
    connection: CloudConnection, project: str, logstore: str, *, incident: str = ""
) -> dict[str, Any]:
    """Return a logstore's settings: ``{"Name", "Ttl" (days), "ShardCount"}``."""
    check_project(project)
    check_logstore(logstore)
    log = task_logger()
    log.info(
        "Getting logstore %s",
        fields(incident=incident, project=project, logstore=logstore),
    )

    response = call_api(
        connection,
        "sls",
        "GetLogStore",
        lambda client: client.get_logstore(project, logstore),
        target=f"project={project} logstore={logstore}",
    )
    return {
        "Name": logstore,
        "Ttl": int(response.get_ttl()),
        "ShardCount": int(response.get_shard_count()),
    }
