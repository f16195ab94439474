"""The SLS search parser, the SQL rewrite and the Presto functions, as plain functions.

These tests call emulator.sls.query and emulator.sls.sql directly: they check the
language, while tests/test_emulator_sls.py checks the API through the real LogClient.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from emulator.sls.query import (
    Pattern,
    QueryError,
    RowView,
    flatten_row,
    parse_search,
    split_query,
)
from emulator.sls.sql import (
    SqlError,
    format_timestamp,
    parse_timestamp,
    prepare_sql,
    run_sql,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def row(event: dict, when: int = 1795161600, topic: str = "t") -> dict[str, str]:
    return {
        "__time__": str(when),
        "__topic__": topic,
        "__source__": "actiontrail",
        "event": json.dumps(event),
    }


ROWS = [
    row({"eventName": "CreateUser", "userIdentity": {"userName": "alice"}, "n": 1}),
    row({"eventName": "ListUsers", "userIdentity": {"userName": "bob"}, "n": 2}),
    row({"eventName": "CreateAccessKey", "errorCode": "", "tags": ["a", "b"]}),
    row({"eventName": "GetUser", "isGlobal": True, "note": "multi word phrase"}),
]


def matching(query: str) -> list[int]:
    node = parse_search(query)
    return [index for index, item in enumerate(ROWS) if node.matches(RowView(item))]


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("ram", 'Acs:RAM::User/"Alice"', True),
        ("alice", 'Acs:RAM::User/"Alice"', True),
        ("ali", 'Acs:RAM::User/"Alice"', False),
        ("ali*", 'Acs:RAM::User/"Alice"', True),
        ("b", "a,b;c", True),
        ("ims-share.aliyuncs.com", "ims-share.aliyuncs.com 10.0.0.1", True),
        ("aliyuncs", "ims-share.aliyuncs.com", False),
        ("10.0.0.1", "ims-share.aliyuncs.com 10.0.0.1", True),
        ("user alice", 'Acs:RAM::User/"Alice"', True),
        ("alice user", 'Acs:RAM::User/"Alice"', False),
    ],
)
def test_pattern_matches_whole_tokens(value: str, text: str, expected: bool) -> None:
    assert Pattern.parse(value).search(text) is expected


def test_flatten_row_keeps_json_types() -> None:
    flat = flatten_row(ROWS[0] | {"extra": "{not json"})

    assert flat["__time__"] == 1795161600
    assert flat["event.eventName"] == "CreateUser"
    assert flat["event.userIdentity.userName"] == "alice"
    assert flat["event.n"] == 1
    assert flat["extra"] == "{not json"
    assert flatten_row(ROWS[2])["event.tags"] == '["a", "b"]'
    assert flatten_row(ROWS[3])["event.isGlobal"] == "true"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [0, 1, 2, 3]),
        ("*", [0, 1, 2, 3]),
        ("event.eventName: CreateUser", [0]),
        ("event.eventName: create*", [0, 2]),
        ("event.eventName: ?etUser", None),
        ("event.eventName: G?tUser", [3]),
        ("event.userIdentity.userName: *", [0, 1]),
        ("event.eventName: CreateUser OR event.eventName: ListUsers", [0, 1]),
        ("event.eventName: Create* and not event.eventName: CreateUser", [2]),
        ("not event.eventName: Create* or event.n: 1", [0, 1, 3]),
        ("not (event.eventName: Create* or event.n: 2)", [3]),
        ("event.eventName: Create* event.n: 1", [0]),
        ("alice", [0]),
        ('"multi word"', [3]),
        ('"word multi"', []),
        ("event.note: phrase", [3]),
        ('event.note: "multi phrase"', []),
        ("__topic__: t", [0, 1, 2, 3]),
        ("event.missing: x", []),
    ],
)
def test_search_matches(query: str, expected: list[int] | None) -> None:
    if expected is None:
        with pytest.raises(QueryError):
            matching(query)
        return
    assert matching(query) == expected


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("a and", "at the end"),
        ("a or or b", "'or' has no operand"),
        ("(a", "closing parenthesis"),
        ("a)", "unexpected ')'"),
        ("key:", "no value"),
        ('key: "open', "not closed"),
        (": value", "search term is missing"),
    ],
)
def test_search_syntax_errors(query: str, detail: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_search(query)

    assert detail in str(caught.value)
    assert repr(query) in str(caught.value)


def test_split_query_ignores_quoted_pipe() -> None:
    assert split_query('key: "a|b" | select 1') == ('key: "a|b"', "select 1")
    assert split_query("* | select a || b") == ("*", "select a || b")
    assert split_query("*") == ("*", None)
    assert split_query(None) == ("", None)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select count(*)", "select count(*) FROM log LIMIT 100"),
        ("SELECT a WHERE b = 1", "SELECT a FROM log WHERE b = 1 LIMIT 100"),
        ("select a from log limit 5", "select a from log limit 5"),
        ("select a from actiontrail_main", "select a from log LIMIT 100"),
        ('select a from "actiontrail_main"', "select a from log LIMIT 100"),
        (
            "select count(1) from (select distinct a)",
            "select count(1) from (select distinct a FROM log) LIMIT 100",
        ),
        (
            "select a union select b",
            "select a FROM log union select b FROM log LIMIT 100",
        ),
        ("set session parallel_sql=true; select 1", "select 1 FROM log LIMIT 100"),
        ("select 'from' as x", "select 'from' as x FROM log LIMIT 100"),
        ("select a;", "select a FROM log LIMIT 100"),
    ],
)
def test_prepare_sql_injects_from_and_limit(sql: str, expected: str) -> None:
    assert prepare_sql(sql, "actiontrail_main").text == expected


def test_prepare_sql_records_columns() -> None:
    prepared = prepare_sql('select "event.eventName", count(*) group by 1', "s")
    star = prepare_sql("select * where x = 1", "s")

    assert "event.eventName" in prepared.referenced
    assert prepared.reads_all_columns is False
    assert star.reads_all_columns is True


@pytest.mark.parametrize(
    ("sql", "detail"),
    [
        ("", "empty"),
        ("update log set a = 1", "not a SELECT"),
        ("select 1; select 2", "more than one query"),
        ("select (1", "unbalanced"),
    ],
)
def test_prepare_sql_rejects(sql: str, detail: str) -> None:
    with pytest.raises(SqlError) as caught:
        prepare_sql(sql, "s")

    assert detail in str(caught.value)


def run(sql: str, rows: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    flattened = [flatten_row(item) for item in (rows if rows is not None else ROWS)]
    return run_sql(prepare_sql(sql, "s"), flattened, NOW)[1]


def test_run_sql_values_are_text() -> None:
    result = run('select count(*) as c, sum("event.n") as s, avg("event.n") as a')

    assert result == [{"c": "4", "s": "3", "a": "1.5"}]


def test_run_sql_missing_column_is_null() -> None:
    assert run('select "event.nothing" as x limit 1') == [{"x": "null"}]


def test_run_sql_empty_rows() -> None:
    assert run('select count(*) as c, max("event.n") as m', []) == [
        {"c": "0", "m": "null"}
    ]


def test_run_sql_error_names_problem() -> None:
    with pytest.raises(SqlError) as caught:
        run("select no_such_function(1)")

    assert "no_such_function" in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("from_unixtime(1795161600)", "2026-11-20 08:00:00.000"),
        ("from_unixtime(1795161600, 'Asia/Shanghai')", "2026-11-20 16:00:00.000"),
        ("to_unixtime('2026-11-20 08:00:00.000')", "1795161600.0"),
        ("to_unixtime('2026-11-20 16:00:00 Asia/Shanghai')", "1795161600.0"),
        ("to_unixtime('2026-11-20T08:00:00Z')", "1795161600.0"),
        ("date_trunc('hour', 1795163999)", "1795161600"),
        ("date_trunc('week', 1795161600)", "1794787200"),
        ("date_trunc('month', '2026-11-20 08:30:00')", "2026-11-01 00:00:00.000"),
        ("date_trunc('quarter', '2026-11-20 08:30:00')", "2026-10-01 00:00:00.000"),
        ("date_format(1795161600, '%Y-%m-%d %H:%i:%s')", "2026-11-20 08:00:00"),
        ("date_format('2026-11-20 08:00:00', '%b %e')", None),
        ("date_parse('2026/11/20', '%Y/%m/%d')", "2026-11-20 00:00:00.000"),
        ("json_extract('{\"a\": {\"b\": [1, 2]}}', '$.a.b')", "[1, 2]"),
        ("json_extract_scalar('{\"a\": {\"b\": [1, 2]}}', '$.a.b[1]')", "2"),
        ('json_extract_scalar(\'{"a.b": "x"}\', \'$["a.b"]\')', "x"),
        ("json_extract_scalar('{\"a\": {}}', '$.a')", "null"),
        ("json_extract_scalar('not json', '$.a')", "null"),
        ("strpos('abcdef', 'cd')", "3"),
        ("split_part('a;b;c', ';', 2)", "b"),
        ("regexp_like('LTAI5tABC', '^LTAI')", "1"),
        ("regexp_extract('user/alice', 'user/(\\w+)', 1)", "alice"),
        ("concat('a', 1, 'b')", "a1b"),
        ("if(1 > 0, 'yes', 'no')", "yes"),
        ("now()", "2026-11-20 08:00:00.000"),
    ],
)
def test_presto_functions(expression: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(SqlError):
            run(f"select {expression} as v limit 1")
        return
    assert run(f"select {expression} as v limit 1") == [{"v": expected}]


def test_presto_aggregates() -> None:
    result = run(
        'select approx_distinct("event.eventName") as names, '
        'arbitrary("event.userIdentity.userName") as user, '
        "count_if(\"event.eventName\" like 'Create%') as creates"
    )

    assert result == [{"names": "4", "user": "alice", "creates": "2"}]


def test_timestamp_round_trip() -> None:
    moment = parse_timestamp("2026-11-20 08:00:00.250")

    assert format_timestamp(moment) == "2026-11-20 08:00:00.250"
    assert parse_timestamp(1795161600) == NOW
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")
