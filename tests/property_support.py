"""Hypothesis strategies for the property tests: any JSON value, and mutated documents.

``mutations(document)`` draws a copy of a JSON document with one change at a random
place: a value replaced by another of any type, a key deleted, or an unknown key
added. Parsers of outside data must turn each such document into a result or into
their own ``ValueError`` subclass.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# Values that parsers of Alibaba data meet at the edges: impossible dates, times
# outside what nanosecond timestamps hold, numbers spelled as text, non-finite
# numbers, odd IP addresses and JSON text that stops halfway.
EDGE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "NULL",
        "null",
        "None",
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",
        "-0",
        "2026-11-20",
        "2026-02-30",
        "2026-13-01",
        "2026-11",
        "2026-11-20T08:00:00Z",
        "2026-11-20 08:00:00",
        "2026-11-20T08:00:00+08:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1700000000",
        "1700000000000",
        "::1",
        "fe80::1%eth0",
        "300.1.1.1",
        "203.0.113.77",
        "203.0.113.77, 10.0.0.1",
        "ecs.aliyuncs.com",
        "localhost",
        '{"a":',
        "{}",
        "[]",
        '"text"',
        "LTAI5tAPPBACKEND00000001",
        "STS.NSomething0000001",
        "\x00",
        "\u202e",
        "日本語",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=16)
    | EDGE_TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=10) | EDGE_TEXT, children, max_size=3)
    ),
    max_leaves=12,
)
# Bounded so that each property file runs in a few seconds on 2 cores.
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def json_paths(document: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Yield the path of every value inside ``document``, the root first."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from json_paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from json_paths(value, (*prefix, index))


def _parent(document: Any, path: tuple) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@st.composite
def mutations(
    draw: st.DrawFn, document: Any, *, paths: list[tuple] | None = None
) -> tuple[Any, tuple, str]:
    """Draw ``(mutated copy, path, operation)`` with one change to ``document``.

    ``paths`` limits where the change may happen (default: anywhere below the root).
    """
    candidates = paths if paths is not None else list(json_paths(document))[1:]
    path = draw(st.sampled_from(candidates))
    operation = draw(st.sampled_from(["replace", "delete", "add"]))
    changed = copy.deepcopy(document)
    parent = _parent(changed, path)
    target = parent[path[-1]]
    if operation == "replace":
        parent[path[-1]] = draw(JSON_VALUES)
    elif operation == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif operation == "delete":
        parent.pop(path[-1])
    elif isinstance(target, dict):
        target[draw(st.text(ALNUM, min_size=1, max_size=10))] = draw(JSON_VALUES)
    elif isinstance(target, list):
        target.append(draw(JSON_VALUES))
    else:
        parent[path[-1]] = draw(JSON_VALUES)
        operation = "replace"
    return changed, path, operation


def one_line(message: str) -> bool:
    """Return True when ``message`` is non-empty text without line breaks."""
    return bool(message.strip()) and "\n" not in message and "\r" not in message
