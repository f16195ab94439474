"""SLS analytic statements (``search | select ...``) run in SQLite.

SLS SQL has no FROM clause: it reads the logs that the search part matched. The
statement is rewritten so that every SELECT without FROM reads the table ``log``, and
``FROM log`` and ``FROM <logstore>`` are accepted too. A top-level LIMIT of 100 is
added when the statement has none, because SLS returns at most 100 rows then.

The table has one untyped column per field, with flattened JSON keys such as
``"event.eventName"``, so values keep their JSON types and ``__time__`` is an
integer. Presto functions that SLS users rely on are registered in Python. Time
values print in UTC as ``YYYY-MM-DD HH:MM:SS.mmm``.
"""

from __future__ import annotations

import calendar
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_SQL_LIMIT = 100
TABLE = "log"
RESERVED_COLUMNS = ("__time__", "__topic__", "__source__")

_TOKEN_PATTERN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<backtick>`[^`]*`)
    | (?P<comment>--[^\n]*)
    | (?P<space>\s+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLAUSES_AFTER_FROM = {"where", "group", "having", "order", "limit", "window"}
_SET_OPERATORS = {"union", "except", "intersect"}


class SqlError(Exception):
    """An analytic statement that cannot run (SLS ParameterInvalid)."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str

    @property
    def lowered(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


@dataclass(frozen=True)
class PreparedSql:
    """A statement ready for SQLite and the columns it reads."""

    text: str
    referenced: frozenset[str]  # identifiers that may name a log field
    reads_all_columns: bool  # SELECT * somewhere


def _tokens(sql: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN_PATTERN.finditer(sql):
        kind = match.lastgroup or "other"
        tokens.append(_Token(kind, match.group()))
    return tokens


def _unquote(token: _Token) -> str:
    if token.kind == "quoted":
        return token.text[1:-1].replace('""', '"')
    if token.kind == "backtick":
        return token.text[1:-1]
    return token.text


def _last_statement(tokens: list[_Token]) -> list[_Token]:
    """Drop leading ``set session ...;`` statements, which tune the SLS engine."""
    statements: list[list[_Token]] = [[]]
    for token in tokens:
        if token.kind == "other" and token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    meaningful = [
        statement
        for statement in statements
        if any(token.kind not in ("space", "comment") for token in statement)
    ]
    if not meaningful:
        raise SqlError("The analytic statement after '|' is empty. Add a SELECT.")
    *settings, statement = meaningful
    for setting in settings:
        first = next(t for t in setting if t.kind not in ("space", "comment"))
        if first.lowered != "set":
            raise SqlError(
                "The analytic statement contains more than one query. Send one SELECT, "
                "optionally after 'set session ...;' settings."
            )
    return statement


def _depths(tokens: list[_Token]) -> list[int]:
    depths = []
    depth = 0
    for token in tokens:
        if token.kind == "other" and token.text == ")":
            depth -= 1
        depths.append(depth)
        if token.kind == "other" and token.text == "(":
            depth += 1
    if depth != 0:
        raise SqlError("The analytic statement has unbalanced parentheses.")
    return depths


def _next_meaningful(tokens: list[_Token], start: int) -> int | None:
    for index in range(start, len(tokens)):
        if tokens[index].kind not in ("space", "comment"):
            return index
    return None


def _previous_meaningful(tokens: list[_Token], start: int) -> int | None:
    for index in range(start, -1, -1):
        if tokens[index].kind not in ("space", "comment"):
            return index
    return None


def _from_clause(tokens: list[_Token], position: int) -> str:
    """Return ``FROM log`` spaced to fit before the token at ``position``."""
    before = "" if position > 0 and tokens[position - 1].kind == "space" else " "
    after = ""
    if position < len(tokens) and tokens[position].kind != "space":
        after = "" if tokens[position].text == ")" else " "
    return f"{before}FROM {TABLE}{after}"


def prepare_sql(sql: str, logstore: str) -> PreparedSql:
    """Rewrite an SLS analytic statement for SQLite, reading the table ``log``."""
    tokens = _last_statement(_tokens(sql))
    first = _next_meaningful(tokens, 0)
    if first is None or tokens[first].lowered not in ("select", "with"):
        raise SqlError(
            f"The analytic statement {sql.strip()!r} is not a SELECT. Write the "
            "query as '<search> | select ...'."
        )
    depths = _depths(tokens)
    insertions: dict[int, str] = {}
    replacements: dict[int, str] = {}

    for index, token in enumerate(tokens):
        if token.lowered != "select":
            continue
        depth = depths[index]
        end = len(tokens)
        for scan in range(index + 1, len(tokens)):
            if depths[scan] < depth or (
                depths[scan] == depth and tokens[scan].lowered in _SET_OPERATORS
            ):
                end = scan
                break
        from_index = None
        clause_index = None
        for scan in range(index + 1, end):
            if depths[scan] != depth:
                continue
            word = tokens[scan].lowered
            if word == "from" and from_index is None:
                from_index = scan
            elif word in _CLAUSES_AFTER_FROM and clause_index is None:
                clause_index = scan
        if from_index is None:
            position = clause_index if clause_index is not None else end
            insertions[position] = _from_clause(tokens, position)
            continue
        source = _next_meaningful(tokens, from_index + 1)
        if source is not None and tokens[source].kind in ("word", "quoted", "backtick"):
            name = _unquote(tokens[source])
            if name.lower() in (TABLE, logstore.lower()):
                replacements[source] = TABLE

    has_limit = any(
        token.lowered == "limit" and depth == 0
        for token, depth in zip(tokens, depths, strict=True)
    )
    parts: list[str] = []
    for index, token in enumerate(tokens):
        if index in insertions:
            parts.append(insertions[index])
        parts.append(replacements.get(index, token.text))
    if len(tokens) in insertions:
        parts.append(insertions[len(tokens)])
    text = "".join(parts).strip()
    if not has_limit:
        text = f"{text} LIMIT {DEFAULT_SQL_LIMIT}"

    referenced = {
        _unquote(token)
        for token in tokens
        if token.kind in ("word", "quoted", "backtick")
    }
    reads_all = False
    for index, token in enumerate(tokens):
        if token.kind == "other" and token.text == "*":
            before = _previous_meaningful(tokens, index - 1)
            if before is not None and (
                tokens[before].lowered == "select" or tokens[before].text in (",", ".")
            ):
                reads_all = True
    return PreparedSql(text, frozenset(referenced), reads_all)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_names(prepared: PreparedSql, rows: list[dict[str, Any]]) -> list[str]:
    present: dict[str, None] = dict.fromkeys(RESERVED_COLUMNS)
    for row in rows:
        present.update(dict.fromkeys(row))
    if prepared.reads_all_columns:
        names = dict(present)
    else:
        names = {name: None for name in present if name in prepared.referenced}
        names.update(dict.fromkeys(RESERVED_COLUMNS))
    # A quoted name with no value in any log still becomes a column (of NULLs), so
    # that SQLite does not read it as a string literal.
    for name in prepared.referenced:
        if "." in name or name.startswith("__"):
            names.setdefault(name, None)
    return list(names)


def _result_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def run_sql(
    prepared: PreparedSql, rows: list[dict[str, Any]], now: datetime
) -> tuple[list[str], list[dict[str, str]]]:
    """Run a prepared statement over flattened logs; every value returns as text."""
    connection = sqlite3.connect(":memory:")
    try:
        register_functions(connection, now)
        columns = _column_names(prepared, rows)
        column_list = ", ".join(_quote_identifier(name) for name in columns)
        connection.execute(f"CREATE TABLE {TABLE} ({column_list})")
        placeholders = ", ".join("?" for _ in columns)
        connection.executemany(
            f"INSERT INTO {TABLE} VALUES ({placeholders})",
            ([row.get(name) for name in columns] for row in rows),
        )
        try:
            cursor = connection.execute(prepared.text)
            result = cursor.fetchall()
        except sqlite3.Error as error:
            raise SqlError(
                f"The analytic statement failed: {error}. Check the column names "
                '(quote keys with dots, as in "event.eventName") and use single '
                "quotes for strings."
            ) from None
        names = [description[0] for description in cursor.description or ()]
    finally:
        connection.close()
    return names, [
        {name: _result_text(value) for name, value in zip(names, values, strict=True)}
        for values in result
    ]


# Presto functions.

_TIMESTAMP_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2}| [A-Za-z_/+-]+)?$"
)
_TRUNCATION_UNITS = (
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
)


def format_timestamp(moment: datetime) -> str:
    """Format a time the way SLS prints a timestamp: ``2026-11-20 08:00:00.000``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_timestamp(value: Any) -> datetime:
    """Read a timestamp string, or a number of epoch seconds, as a UTC time."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    match = _TIMESTAMP_PATTERN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a timestamp")
    moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
    zone = (match["zone"] or "").strip()
    if not zone or zone == "Z" or zone.upper() == "UTC":
        return moment.replace(tzinfo=UTC)
    if zone[0] in "+-":
        offset = datetime.strptime(zone.replace(":", ""), "%z").tzinfo
        return moment.replace(tzinfo=offset).astimezone(UTC)
    return moment.replace(tzinfo=_zone(zone)).astimezone(UTC)


def _from_unixtime(seconds: Any, zone: str | None = None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(float(seconds), UTC)
    if zone:
        moment = moment.astimezone(_zone(zone))
    return format_timestamp(moment)


def _to_unixtime(value: Any) -> float | None:
    if value is None:
        return None
    return parse_timestamp(value).timestamp()


def _truncate(moment: datetime, unit: str) -> datetime:
    if unit == "second":
        return moment.replace(microsecond=0)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    raise ValueError(
        f"date_trunc unit {unit!r} is invalid; use one of "
        f"{', '.join(_TRUNCATION_UNITS)}"
    )


def _date_trunc(unit: str, value: Any) -> Any:
    """Truncate epoch seconds (returning epoch seconds) or a timestamp string."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, UTC)
        return calendar.timegm(_truncate(moment, unit.lower()).timetuple())
    return format_timestamp(_truncate(parse_timestamp(value), unit.lower()))


# MySQL-style specifiers of date_format / date_parse, as strftime directives.
_FORMAT_SPECIFIERS = {
    "Y": "%Y",
    "y": "%y",
    "m": "%m",
    "d": "%d",
    "H": "%H",
    "h": "%I",
    "I": "%I",
    "i": "%M",
    "s": "%S",
    "S": "%S",
    "f": "%f",
    "p": "%p",
    "M": "%B",
    "b": "%b",
    "W": "%A",
    "a": "%a",
    "j": "%j",
    "T": "%H:%M:%S",
    "%": "%%",
}


def _strftime_format(pattern: str) -> str:
    parts = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "%" and position + 1 < len(pattern):
            specifier = pattern[position + 1]
            if specifier not in _FORMAT_SPECIFIERS:
                raise ValueError(f"date format specifier %{specifier} is not supported")
            parts.append(_FORMAT_SPECIFIERS[specifier])
            position += 2
        else:
            parts.append(char.replace("%", "%%"))
            position += 1
    return "".join(parts)


def _date_format(value: Any, pattern: str) -> str | None:
    if value is None:
        return None
    return parse_timestamp(value).strftime(_strftime_format(pattern))


def _date_parse(text: str, pattern: str) -> str | None:
    if text is None:
        return None
    moment = datetime.strptime(text, _strftime_format(pattern))
    return format_timestamp(moment)


_PATH_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_$][\w$-]*)|\[(?P<index>\d+)\]|\[["'](?P<quoted>[^"']*)["']\]"""
)


def _json_path_steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_STEP.match(path, position)
        if match is None:
            raise ValueError(f"JSON path {path!r} is invalid at character {position}")
        if match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            steps.append(
                match["name"] if match["name"] is not None else match["quoted"]
            )
        position = match.end()
    return steps


def _json_node(document: Any, path: str) -> tuple[bool, Any]:
    if document is None:
        return False, None
    try:
        node = json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return False, None
    for step in _json_path_steps(path):
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return False, None
    return True, node


def _json_extract(document: Any, path: str) -> str | None:
    found, node = _json_node(document, path)
    return json.dumps(node, ensure_ascii=False) if found else None


def _json_extract_scalar(document: Any, path: str) -> Any:
    found, node = _json_node(document, path)
    if not found or isinstance(node, (dict, list)) or node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return node


def _split_part(text: str | None, delimiter: str, index: int) -> str | None:
    if text is None:
        return None
    parts = text.split(delimiter)
    return parts[index - 1] if 1 <= index <= len(parts) else None


def _regexp_extract(text: str | None, pattern: str, group: int = 0) -> str | None:
    if text is None:
        return None
    match = re.search(pattern, text)
    return match.group(group) if match else None


class _ApproxDistinct:
    def __init__(self) -> None:
        self.values: set[Any] = set()

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.add(value)

    def finalize(self) -> int:
        return len(self.values)


class _Arbitrary:
    def __init__(self) -> None:
        self.value: Any = None

    def step(self, value: Any) -> None:
        if self.value is None:
            self.value = value

    def finalize(self) -> Any:
        return self.value


class _CountIf:
    def __init__(self) -> None:
        self.count = 0

    def step(self, value: Any) -> None:
        if value:
            self.count += 1

    def finalize(self) -> int:
        return self.count


def _scalar_functions(now: datetime) -> Iterable[tuple[str, int, Callable[..., Any]]]:
    yield "from_unixtime", 1, _from_unixtime
    yield "from_unixtime", 2, _from_unixtime
    yield "to_unixtime", 1, _to_unixtime
    yield "date_trunc", 2, _date_trunc
    yield "date_format", 2, _date_format
    yield "date_parse", 2, _date_parse
    yield "json_extract", 2, _json_extract
    yield "json_extract_scalar", 2, _json_extract_scalar
    yield "strpos", 2, lambda text, part: None if text is None else text.find(part) + 1
    yield "split_part", 3, _split_part
    yield (
        "regexp_like",
        2,
        lambda text, p: None if text is None else int(re.search(p, text) is not None),
    )
    yield "regexp_extract", 2, _regexp_extract
    yield "regexp_extract", 3, _regexp_extract
    yield (
        "concat",
        -1,
        lambda *parts: (
            None if None in parts else "".join(_result_text(part) for part in parts)
        ),
    )
    yield "if", 2, lambda condition, value: value if condition else None
    yield "if", 3, lambda condition, value, other: value if condition else other
    yield "now", 0, lambda: format_timestamp(now)


def register_functions(connection: sqlite3.Connection, now: datetime) -> None:
    """Add the Presto functions of SLS SQL to a SQLite connection."""
    for name, arity, function in _scalar_functions(now):
        connection.create_function(name, arity, function, deterministic=name != "now")
    connection.create_aggregate("approx_distinct", 1, _ApproxDistinct)
    connection.create_aggregate("arbitrary", 1, _Arbitrary)
    connection.create_aggregate("count_if", 1, _CountIf)
