"""The SLS search language: ``search | select ...`` split, parsed and matched.

The search part supports ``*``, ``key: value``, ``"key": "value"`` and wildcards
(``*`` and ``?`` inside a word, as in ``key: val*``). Bare terms match against the
whole log (full text). ``and``, ``or`` and ``not`` work in any letter case, with
parentheses and an implicit ``and`` between adjacent terms. ``not`` binds tighter than
``and``, which binds tighter than ``or``.

Matching follows the default SLS text index: values are split into tokens at the
delimiters ``, '";=()[]{}?@&<>/:`` and whitespace, and compared without regard to
case. A value of several tokens matches as a phrase. Keys address the JSON index:
``event.userIdentity.accessKeyId`` is the ``accessKeyId`` inside the ``userIdentity``
object of the ``event`` field, whose value is a JSON string.

The analytic part after the first ``|`` outside quotes is SQL, run by
``emulator.sls.sql``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The default token delimiters of an SLS text index, plus whitespace and backslash
# (which only appears in JSON text as an escape).
_DELIMITER_CLASS = r"[\s,'\";=()\[\]{}?@&<>/:\\]"
# The same set without "?", which is a wildcard inside a search value.
_PATTERN_DELIMITERS = re.compile(r"[\s,'\";=()\[\]{}@&<>/:\\]+")
_TOKEN_CHAR = "[^" + _DELIMITER_CLASS[1:]
_RESERVED_PREFIX = "__"


class QueryError(Exception):
    """A search statement that cannot be parsed (SLS InvalidQueryString)."""


class _Missing:
    """The value of a key that a log does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _leaf(value: Any) -> Any:
    """Convert a JSON value to what the SLS JSON index stores for it.

    Strings and numbers keep their type, booleans become ``true`` / ``false`` and
    arrays their JSON text. Objects and nulls are not leaves, so they are MISSING.
    """
    if value is None or isinstance(value, dict):
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def flatten_row(row: dict[str, str]) -> dict[str, Any]:
    """Return a log's fields plus one ``field.a.b`` key per leaf of its JSON fields.

    A field whose value is a JSON object (``event`` in an ActionTrail logstore) is
    expanded with the leaf values of ``_leaf``. ``__time__`` becomes an integer.
    """
    flat: dict[str, Any] = {}
    for key, value in row.items():
        flat[key] = int(value) if key == "__time__" else value
        parsed = _parse_object(key, value)
        if parsed is not None:
            _flatten_object(key, parsed, flat)
    return flat


def _parse_object(key: str, value: Any) -> dict[str, Any] | None:
    if key.startswith(_RESERVED_PREFIX) or not isinstance(value, str):
        return None
    if not value.startswith("{"):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _flatten_object(prefix: str, node: dict[str, Any], flat: dict[str, Any]) -> None:
    for name, value in node.items():
        key = f"{prefix}.{name}"
        if isinstance(value, dict):
            _flatten_object(key, value, flat)
            continue
        leaf = _leaf(value)
        if leaf is not MISSING:
            flat[key] = leaf


def _find_path(node: Any, path: str) -> Any:
    """Find ``a.b.c`` in nested objects whose own keys may contain dots."""
    if not isinstance(node, dict):
        return MISSING
    if path in node:
        return node[path]
    dot = path.find(".")
    while dot >= 0:
        head = path[:dot]
        if head in node:
            found = _find_path(node[head], path[dot + 1 :])
            if found is not MISSING:
                return found
        dot = path.find(".", dot + 1)
    return MISSING


class RowView:
    """One log prepared for matching, with the values of the keys queried so far.

    Only the values that queries read are kept, because holding every parsed event
    would cost several kilobytes per log.
    """

    __slots__ = ("row", "_values")

    def __init__(self, row: dict[str, str]) -> None:
        self.row = row
        self._values: dict[str, Any] = {}

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the values of several keys, parsing each JSON field once per call."""
        missing = [key for key in keys if key not in self._values]
        if not missing:
            return
        parsed: dict[str, dict[str, Any] | None] = {}
        for key in missing:
            self._values[key] = self._read(key, parsed)

    def _read(self, key: str, parsed: dict[str, dict[str, Any] | None]) -> Any:
        if key in self.row:
            value = self.row[key]
            return int(value) if key == "__time__" else value
        dot = key.find(".")
        while dot >= 0:
            field = key[:dot]
            if field in self.row:
                if field not in parsed:
                    parsed[field] = _parse_object(field, self.row[field])
                found = _find_path(parsed[field], key[dot + 1 :])
                if found is not MISSING:
                    return _leaf(found)
            dot = key.find(".", dot + 1)
        return MISSING

    def value(self, key: str) -> Any:
        """Return the value of a field or JSON key, or MISSING."""
        if key not in self._values:
            self.prefetch((key,))
        return self._values[key]

    def content_texts(self) -> Iterator[str]:
        """Yield the text of each content field, for bare search terms."""
        for key, value in self.row.items():
            if not key.startswith(_RESERVED_PREFIX):
                yield value


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# The search syntax tree.


class Node:
    """A search condition."""

    def matches(self, row: RowView) -> bool:
        raise NotImplementedError

    def keys(self) -> set[str]:
        """Return the field keys that the condition reads."""
        return set()


@dataclass(frozen=True)
class MatchAll(Node):
    def matches(self, row: RowView) -> bool:
        return True


@lru_cache(maxsize=256)
def _token_regex(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Compile a phrase of search tokens into a regex over delimited text."""
    parts = []
    for token in tokens:
        escaped = re.escape(token).replace(r"\*", _TOKEN_CHAR + "*")
        parts.append(escaped.replace(r"\?", _TOKEN_CHAR))
    body = (_DELIMITER_CLASS + "+").join(f"(?:{part})" for part in parts)
    boundary_before = "(?<!" + _TOKEN_CHAR + ")"
    boundary_after = "(?!" + _TOKEN_CHAR + ")"
    return re.compile(boundary_before + body + boundary_after, re.IGNORECASE)


@dataclass(frozen=True)
class Pattern:
    """The tokens of a search value; a token with ``*`` or ``?`` is a wildcard.

    A value matches text that contains its tokens next to each other, each one a
    whole token of the text, compared without regard to case.
    """

    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Pattern:
        lowered = text.lower()
        tokens = tuple(t for t in _PATTERN_DELIMITERS.split(lowered) if t)
        for token in tokens:
            if token[0] in "*?" and token != "*":
                raise QueryError(
                    f"The search value {text!r} starts with a wildcard, which SLS "
                    "does not support. Put at least one character before * or ?."
                )
        return cls(tokens)

    def search(self, text: str) -> bool:
        if not self.tokens:
            return False
        return _token_regex(self.tokens).search(text) is not None


@dataclass(frozen=True)
class FieldMatch(Node):
    key: str
    pattern: Pattern | None  # None: "key: *", the field exists

    def matches(self, row: RowView) -> bool:
        value = row.value(self.key)
        if value is MISSING:
            return False
        if self.pattern is None:
            return True
        return self.pattern.search(_value_text(value))

    def keys(self) -> set[str]:
        return {self.key}


@dataclass(frozen=True)
class FullTextMatch(Node):
    pattern: Pattern

    def matches(self, row: RowView) -> bool:
        # NOTE: bare terms search the stored text, where JSON fields may escape
        # non-ASCII characters as \uXXXX, so such terms only match as key values.
        return any(self.pattern.search(text) for text in row.content_texts())


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def matches(self, row: RowView) -> bool:
        return not self.operand.matches(row)

    def keys(self) -> set[str]:
        return self.operand.keys()


@dataclass(frozen=True)
class And(Node):
    left: Node
    right: Node

    def matches(self, row: RowView) -> bool:
        return self.left.matches(row) and self.right.matches(row)

    def keys(self) -> set[str]:
        return self.left.keys() | self.right.keys()


@dataclass(frozen=True)
class Or(Node):
    left: Node
    right: Node

    def matches(self, row: RowView) -> bool:
        return self.left.matches(row) or self.right.matches(row)

    def keys(self) -> set[str]:
        return self.left.keys() | self.right.keys()


# Lexer and parser.


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "quoted", "colon", "(", ")", "end"
    text: str
    position: int


def _lex(text: str) -> Iterator[_Token]:
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "()":
            yield _Token(char, char, position)
            position += 1
        elif char == ":":
            yield _Token("colon", char, position)
            position += 1
        elif char == '"':
            end = position + 1
            parts: list[str] = []
            while end < length and text[end] != '"':
                if text[end] == "\\" and end + 1 < length:
                    end += 1
                parts.append(text[end])
                end += 1
            if end >= length:
                raise QueryError(
                    f"The search statement {text!r} is invalid: the quoted string "
                    f"that starts at character {position} is not closed. Add the "
                    "closing double quote."
                )
            yield _Token("quoted", "".join(parts), position)
            position = end + 1
        else:
            end = position
            while end < length and not text[end].isspace() and text[end] not in '():"':
                end += 1
            yield _Token("word", text[position:end], position)
            position = end
    yield _Token("end", "", length)


_OPERATORS = ("and", "or", "not")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_lex(text))
        self.index = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def is_operator(self, token: _Token, name: str) -> bool:
        return token.kind == "word" and token.text.lower() == name

    def fail(self, token: _Token, problem: str) -> QueryError:
        where = (
            f"at character {token.position}" if token.kind != "end" else "at the end"
        )
        return QueryError(
            f"The search statement {self.text!r} is invalid {where}: {problem}"
        )

    def parse(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token, f"unexpected {token.text!r}.")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.is_operator(self.peek(), "or"):
            self.take()
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while True:
            token = self.peek()
            if self.is_operator(token, "and"):
                self.take()
            elif token.kind in ("end", ")") or self.is_operator(token, "or"):
                return node
            node = And(node, self.parse_not())

    def parse_not(self) -> Node:
        if self.is_operator(self.peek(), "not"):
            self.take()
            return Not(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "(":
            node = self.parse_or()
            closing = self.take()
            if closing.kind != ")":
                raise self.fail(closing, "a closing parenthesis is missing.")
            return node
        if token.kind == "word" and token.text.lower() in _OPERATORS:
            raise self.fail(token, f"the operator {token.text!r} has no operand.")
        if token.kind not in ("word", "quoted"):
            raise self.fail(token, "a search term is missing.")
        if self.peek().kind == "colon":
            self.take()
            return self.parse_field_value(token)
        if token.kind == "word" and token.text == "*":
            return MatchAll()
        return FullTextMatch(Pattern.parse(token.text))

    def parse_field_value(self, key: _Token) -> Node:
        value = self.take()
        if value.kind not in ("word", "quoted") or (
            value.kind == "word" and value.text.lower() in _OPERATORS
        ):
            raise self.fail(value, f"the key {key.text!r} has no value after ':'.")
        if value.kind == "word" and value.text == "*":
            return FieldMatch(key.text, None)
        return FieldMatch(key.text, Pattern.parse(value.text))


def parse_search(text: str | None) -> Node:
    """Parse the search part of a query; an empty one matches every log."""
    if text is None or not text.strip():
        return MatchAll()
    return _Parser(text).parse()


def split_query(query: str | None) -> tuple[str, str | None]:
    """Split a query at the first ``|`` outside double quotes.

    Returns the search part and the analytic (SQL) part, or None when there is none.
    """
    if not query:
        return "", None
    in_quotes = False
    position = 0
    while position < len(query):
        char = query[position]
        if char == "\\" and in_quotes:
            position += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        elif char == "|" and not in_quotes:
            return query[:position].strip(), query[position + 1 :].strip()
        position += 1
    return query.strip(), None
