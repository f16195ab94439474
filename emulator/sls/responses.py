"""SLS wire handlers: route a request, parse its parameters, shape the response.

Routes served (the project comes from the ``Host`` header):

* ``GET /logstores`` ListLogStores
* ``GET /logstores/<logstore>`` GetLogStore
* ``GET /logstores/<logstore>?type=log`` GetLogs v1: a JSON list of logs, with the
  metadata in lower-case ``x-log-*`` headers
* ``GET /logstores/<logstore>?type=histogram`` GetHistograms
* ``POST /logstores/<logstore>/logs`` GetLogs v2: a JSON body, returning
  ``{"meta": {...}, "data": [...]}``

Every log value is a string, as SLS returns them.
"""

from __future__ import annotations

import json
import string
import urllib.parse
from typing import Any

from emulator.registry import SlsRequest, SlsResponse
from emulator.sls.exceptions import (
    InvalidLine,
    InvalidOffset,
    InvalidReverse,
    ParameterInvalid,
)
from emulator.sls.models import (
    MAX_LINE,
    HistogramResult,
    LogQuery,
    QueryResult,
    get_backend,
)

DEFAULT_LIST_SIZE = 100
MAX_LIST_SIZE = 500
_HEADER_SAFE = set(string.printable) - set("\r\n\t\x0b\x0c%")


def handle_sls(request: SlsRequest) -> SlsResponse:
    """Serve one authenticated SLS request."""
    parts = [part for part in request.path.split("/") if part]
    method = request.method.upper()
    backend = get_backend(request.cloud)
    if parts == ["logstores"] and method == "GET":
        return _list_logstores(request)
    if len(parts) == 2 and parts[0] == "logstores" and method == "GET":
        kind = request.query.get("type")
        if kind == "log":
            return _get_logs_v1(request, parts[1])
        if kind == "histogram":
            return _get_histograms(request, parts[1])
        if kind is None:
            info = backend.logstore_info(request.project, parts[1])
            return SlsResponse(200, info)
    if len(parts) == 3 and parts[0] == "logstores" and parts[2] == "logs":
        if method == "POST":
            return _get_logs_v2(request, parts[1])
    raise ParameterInvalid(
        f"The emulator does not implement {method} {request.path}. It serves "
        "ListLogStores, GetLogStore, GetLogs (v1 and v2) and GetHistograms."
    )


def _list_logstores(request: SlsRequest) -> SlsResponse:
    offset = _integer(request.query.get("offset"), "offset", default=0)
    size = _integer(request.query.get("size"), "size", default=DEFAULT_LIST_SIZE)
    if offset < 0 or not 0 < size <= MAX_LIST_SIZE:
        raise ParameterInvalid(
            f"offset {offset} and size {size} are invalid: offset must be 0 or more "
            f"and size from 1 to {MAX_LIST_SIZE}."
        )
    names, total = get_backend(request.cloud).list_logstores(
        request.project, request.query.get("logstoreName"), offset, size
    )
    return SlsResponse(200, {"count": len(names), "total": total, "logstores": names})


def _integer(value: Any, name: str, *, default: int | None = None) -> int:
    if value is None or value == "":
        if default is not None:
            return default
        raise ParameterInvalid(
            f"The parameter {name} is missing. Give it as an integer."
        )
    if isinstance(value, bool):
        value = str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ParameterInvalid(
            f"The parameter {name} is {value!r}, not an integer."
        ) from None


def _line(value: Any) -> int:
    try:
        return _integer(value, "line", default=MAX_LINE)
    except ParameterInvalid:
        raise InvalidLine(
            f"line {value!r} is invalid: use an integer from 0 to {MAX_LINE}."
        ) from None


def _offset(value: Any) -> int:
    try:
        return _integer(value, "offset", default=0)
    except ParameterInvalid:
        raise InvalidOffset(
            f"offset {value!r} is invalid: use an integer of 0 or more."
        ) from None


def _reverse(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered not in ("true", "false"):
        raise InvalidReverse(f"reverse {value!r} is invalid: use true or false.")
    return lowered == "true"


def _log_query(request: SlsRequest, logstore: str, params: dict[str, Any]) -> LogQuery:
    return LogQuery(
        project=request.project,
        logstore=logstore,
        from_time=_integer(params.get("from"), "from"),
        to_time=_integer(params.get("to"), "to"),
        query=str(params.get("query") or ""),
        topic=str(params.get("topic") or ""),
    )


def _run_get_logs(
    request: SlsRequest, logstore: str, params: dict[str, Any]
) -> QueryResult:
    query = _log_query(request, logstore, params)
    return get_backend(request.cloud).get_logs(
        query,
        line=_line(params.get("line")),
        offset=_offset(params.get("offset")),
        reverse=_reverse(params.get("reverse")),
    )


def _get_logs_v2(request: SlsRequest, logstore: str) -> SlsResponse:
    try:
        params = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ParameterInvalid(
            "The GetLogs request body is invalid JSON. Send the parameters as a JSON "
            'object such as {"from": 1700000000, "to": 1700003600, "query": "*"}.'
        ) from None
    if not isinstance(params, dict):
        raise ParameterInvalid("The GetLogs request body must be a JSON object.")
    result = _run_get_logs(request, logstore, params)
    meta = {
        "progress": result.progress,
        "count": len(result.rows),
        "processedRows": result.processed_rows,
        "elapsedMillisecond": result.elapsed_ms,
        "hasSQL": result.has_sql,
        "whereQuery": result.where_query,
        "aggQuery": result.agg_query,
        "keys": result.keys,
        "cpuSec": 0.001,
        "cpuCores": 1,
        "mode": 0,
        "isAccurate": True,
        "powerSql": False,
        "limited": 0,
    }
    return SlsResponse(200, {"meta": meta, "data": result.rows})


def _header_text(value: str) -> str:
    """Percent-encode characters that an HTTP header value cannot carry."""
    if all(char in _HEADER_SAFE for char in value):
        return value
    return urllib.parse.quote(value, safe="".join(sorted(_HEADER_SAFE)))


def _get_logs_v1(request: SlsRequest, logstore: str) -> SlsResponse:
    result = _run_get_logs(request, logstore, request.query)
    headers = {
        "x-log-progress": result.progress,
        "x-log-count": str(len(result.rows)),
        "x-log-processed-rows": str(result.processed_rows),
        "x-log-elapsed-millisecond": str(result.elapsed_ms),
        "x-log-has-sql": "true" if result.has_sql else "false",
        "x-log-where-query": _header_text(result.where_query),
        "x-log-agg-query": _header_text(result.agg_query),
        "x-log-cpu-sec": "0.001",
        "x-log-cpu-cores": "1",
        "x-log-query-info": json.dumps({"mode": 0}),
    }
    return SlsResponse(200, result.rows, headers)


def _get_histograms(request: SlsRequest, logstore: str) -> SlsResponse:
    query = _log_query(request, logstore, request.query)
    result: HistogramResult = get_backend(request.cloud).get_histograms(query)
    headers = {"x-log-progress": result.progress, "x-log-count": str(result.count)}
    return SlsResponse(200, result.buckets, headers)
