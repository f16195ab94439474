"""The SLS search language: ``search | select ...`` split, parsed and matched.

The search part supports ``*``, ``key: value``, ``"key": "value"``, wildcards (``*``
and ``?`` inside a word, as in ``key: val*``), bare terms matched against the whole
log (full text), ``and`` / ``or`` / ``not`` in any letter case with parentheses, and
implicit ``and`` between adjacent terms. ``not`` binds tighter than ``and``, which
binds tighter than ``or``.

Matching follows the default SLS text index: values are split into tokens at the
delimiters ``, '";=()[]{}?@&<>/:`` and whitespace, and compared without regard to
case. A value of several tokens matches as a phrase. Keys address the JSON index:
``event.userIdentity.accessKeyId`` is the ``accessKeyId`` inside the ``userIdentity``
object of the ``event`` field, whose value is a JSON string.

The analytic part after the first ``|`` outside quotes is SQL, run by
``emulator.sls.sql``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The default token delimiters of an SLS text index, plus whitespace.
_DELIMITERS = re.compile(r"[\s,'\";=()\[\]{}?@&<>/:\\]+")
# The same set without "?", which is a wildcard inside a search value.
_PATTERN_DELIMITERS = re.compile(r"[\s,'\";=()\[\]{}@&<>/:\\]+")
_RESERVED_PREFIX = "__"


class QueryError(Exception):
    """A search statement that cannot be parsed (SLS InvalidQueryString)."""


def tokenize(text: str) -> tuple[str, ...]:
    """Split a value into the lower-case tokens that the SLS text index stores."""
    return tuple(token for token in _DELIMITERS.split(text.lower()) if token)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def flatten_row(row: dict[str, str]) -> dict[str, Any]:
    """Return a log's fields plus one ``field.a.b`` key per leaf of its JSON fields.

    A field whose value is a JSON object (``event`` in an ActionTrail logstore) is
    expanded, keeping the JSON type of each leaf: strings stay strings, numbers stay
    numbers, booleans become ``true`` / ``false``, arrays become their JSON text and
    nulls are left out, as the SLS JSON index leaves them unindexed.
    """
    flat: dict[str, Any] = {}
    for key, value in row.items():
        flat[key] = int(value) if key == "__time__" else value
        if (
            isinstance(value, str)
            and value.startswith("{")
            and not key.startswith(_RESERVED_PREFIX)
        ):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                _flatten_object(key, parsed, flat)
    return flat


def _flatten_object(prefix: str, node: dict[str, Any], flat: dict[str, Any]) -> None:
    for name, value in node.items():
        key = f"{prefix}.{name}"
        if isinstance(value, dict):
            _flatten_object(key, value, flat)
        elif value is None:
            continue
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, list):
            flat[key] = json.dumps(value, ensure_ascii=False)
        else:
            flat[key] = value


class RowView:
    """One log prepared for matching: flattened fields and cached tokens."""

    __slots__ = ("row", "_fields", "_tokens", "_content_tokens", "_full_text")

    def __init__(self, row: dict[str, str]) -> None:
        self.row = row
        self._fields: dict[str, Any] | None = None
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._content_tokens: list[tuple[str, ...]] | None = None
        self._full_text: frozenset[str] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = flatten_row(self.row)
        return self._fields

    def tokens(self, key: str) -> tuple[str, ...] | None:
        """Return the tokens of one field, or None when the log lacks it."""
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        value = self.fields.get(key)
        if value is None:
            return None
        tokens = tokenize(_value_text(value))
        self._tokens[key] = tokens
        return tokens

    def content_tokens(self) -> list[tuple[str, ...]]:
        """Return the tokens of each content field, for bare search phrases."""
        if self._content_tokens is None:
            self._content_tokens = [
                tokenize(value)
                for key, value in self.row.items()
                if not key.startswith(_RESERVED_PREFIX)
            ]
        return self._content_tokens

    def full_text(self) -> frozenset[str]:
        """Return the set of tokens of all content fields, for bare search words."""
        if self._full_text is None:
            tokens: set[str] = set()
            for field_tokens in self.content_tokens():
                tokens.update(field_tokens)
            self._full_text = frozenset(tokens)
        return self._full_text


# The search syntax tree.


class Node:
    """A search condition."""

    def matches(self, row: RowView) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class MatchAll(Node):
    def matches(self, row: RowView) -> bool:
        return True


@dataclass(frozen=True)
class Pattern:
    """The tokens of a search value; a token with ``*`` or ``?`` is a wildcard."""

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

    def _token_matches(self, pattern: str, token: str) -> bool:
        if "*" in pattern or "?" in pattern:
            return fnmatch.fnmatchcase(token, pattern)
        return pattern == token

    def matches(self, tokens: tuple[str, ...] | frozenset[str]) -> bool:
        if not self.tokens:
            return False
        if isinstance(tokens, frozenset):
            return all(self._in_set(pattern, tokens) for pattern in self.tokens)
        width = len(self.tokens)
        for start in range(len(tokens) - width + 1):
            if all(
                self._token_matches(pattern, tokens[start + offset])
                for offset, pattern in enumerate(self.tokens)
            ):
                return True
        return False

    def _in_set(self, pattern: str, tokens: frozenset[str]) -> bool:
        if "*" in pattern or "?" in pattern:
            return any(fnmatch.fnmatchcase(token, pattern) for token in tokens)
        return pattern in tokens


@dataclass(frozen=True)
class FieldMatch(Node):
    key: str
    pattern: Pattern | None  # None: "key: *", the field exists

    def matches(self, row: RowView) -> bool:
        tokens = row.tokens(self.key)
        if tokens is None:
            return False
        if self.pattern is None:
            return True
        return self.pattern.matches(tokens)


@dataclass(frozen=True)
class FullTextMatch(Node):
    pattern: Pattern

    def matches(self, row: RowView) -> bool:
        if len(self.pattern.tokens) == 1:
            return self.pattern.matches(row.full_text())
        return any(self.pattern.matches(tokens) for tokens in row.content_tokens())


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def matches(self, row: RowView) -> bool:
        return not self.operand.matches(row)


@dataclass(frozen=True)
class And(Node):
    left: Node
    right: Node

    def matches(self, row: RowView) -> bool:
        return self.left.matches(row) and self.right.matches(row)


@dataclass(frozen=True)
class Or(Node):
    left: Node
    right: Node

    def matches(self, row: RowView) -> bool:
        return self.left.matches(row) or self.right.matches(row)


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
                    f"The quoted string that starts at character {position} of the "
                    "search statement is not closed. Add the closing double quote."
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
