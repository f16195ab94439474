"""Keep secrets out of logs, reports and artifacts.

Two mechanisms, used together:

* ``register_secret(value)`` records an exact value (an AccessKeySecret, STS token or
  password) that is replaced with ``***`` wherever it appears in a log message;
* patterns catch secret-shaped text even when it was never registered:
  ``AccessKeySecret=...``, ``"AccessKeySecret": "..."``, ``SecurityToken``,
  ``x-acs-security-token`` and ``Password`` fields, and 30-character secrets written
  next to the word "secret". Only the value of such a pair is masked: the words
  around it, a path such as ``/etc/passwd`` and prose such as "passwd: is
  required" stay as they are.

``install()`` attaches ``RedactingFilter`` to the root logger, Prefect's loggers and
akresponder's loggers, and to every handler they have. Flows and the CLI call it once
at start. ``scrub(obj)`` returns a copy of a dict or list without secret fields, for
reports and artifacts.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
# Shorter values would also match ordinary words and numbers in logs.
MIN_SECRET_LENGTH = 6

# Loggers whose records and handlers get the filter: Prefect's run loggers (what
# get_run_logger() returns), Prefect itself, akresponder's packages, and the root.
DEFAULT_LOGGERS: tuple[str, ...] = (
    "",
    "prefect",
    "prefect.flow_runs",
    "prefect.task_runs",
    "akresponder",
    "akresponder.tasks",
    "akresponder.retry",
    "tasks",
    "flows",
)

_SECRET_NAMES = (
    r"AccessKeySecret|access_key_secret|accessKeySecret|AccessKey_Secret"
    r"|SecurityToken|security_token|securityToken|x-acs-security-token"
    r"|Password|password|passwd|client_secret"
)
# A secret-named key and its value: key=value, "key": "value" or key: value. The key
# must be a word of its own, outside a path such as /etc/passwd, and quoted on both
# sides or on neither. A quote or colon that ends other text is then no pair.
_ASSIGNMENT = re.compile(
    rf"(?<![\w./\\])(?P<open>['\"])?(?P<name>\b(?:{_SECRET_NAMES}))"
    r"(?(open)(?P=open)|(?!['\"\w]))"
    r"(?P<sep>\s*(?P<op>[:=])\s*)"
    r"(?:(?P<quote>['\"])(?P<quoted>[^'\"\n]+)(?P=quote)"
    r"|(?P<value>[^'\"\s,&;}\])]+)(?P<after>\s+[A-Za-z])?)"
)
# A 30-character secret near the word "secret" (for example "secret is 0a1B...").
_NEAR_SECRET = re.compile(
    r"(?P<name>(?i:secret)[^A-Za-z0-9\n]{0,12}(?:(?i:is|was)\s+)?)"
    r"(?P<value>[A-Za-z0-9]{30})\b"
)
# dict keys whose values scrub() removes. NextToken and similar paging tokens are not
# secrets, so "token" alone is matched only as a whole key.
_SECRET_KEY = re.compile(
    r"(?i)(secret|password|passwd|securitytoken|security_token|x-acs-security-token"
    r"|^authorization$|^token$|^signature$|^credentials?$)"
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Record a secret value so that every later log message has it masked."""
    global _pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so that a secret containing another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(item) for item in ordered))


def registered_count() -> int:
    """Return how many secrets are registered (the values stay private)."""
    with _lock:
        return len(_secrets)


def scrub_text(text: str) -> str:
    """Return ``text`` with registered secrets and secret-shaped values masked."""
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _ASSIGNMENT.sub(_mask_assignment, text)
    text = _NEAR_SECRET.sub(lambda m: f"{m['name']}{MASK}", text)
    return text


def _mask_assignment(match: re.Match[str]) -> str:
    """Mask the value of one ``_ASSIGNMENT`` match, or keep the text of prose.

    After a colon, a value of letters only that more words follow is a sentence
    ("passwd: is required for console login"), not a pair, so it is kept.
    """
    # NOTE: a password of letters only, written "Password: word more words", is
    # therefore left visible unless register_secret recorded it.
    text = match.group(0)
    value = match["value"]
    if value is None:
        start, end = match.span("quoted")
    elif match["op"] == ":" and value.isalpha() and match["after"]:
        return text
    else:
        start, end = match.span("value")
    offset = match.start()
    return text[: start - offset] + MASK + text[end - offset :]


def scrub(obj: Any) -> Any:
    """Return a copy of ``obj`` without secrets, for reports and artifacts.

    Values under secret-named keys become ``***``, except numbers and booleans: a
    count such as ``GetSecretValue: 3`` holds no secret and the report schema needs
    the number. Strings anywhere are passed through ``scrub_text``. Dicts, lists and
    tuples are copied; other values are returned as is.
    """
    if isinstance(obj, dict):
        cleaned = {}
        for key, value in obj.items():
            secret_named = isinstance(key, str) and _SECRET_KEY.search(key)
            countable = isinstance(value, int | float)  # bool is an int
            if secret_named and value and not countable:
                cleaned[key] = MASK
            else:
                cleaned[key] = scrub(value)
        return cleaned
    if isinstance(obj, list):
        return [scrub(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(scrub(item) for item in obj)
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


class RedactingFilter(logging.Filter):
    """Mask secrets in a record's message and traceback text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string; leave it for the handler to report
            return True
        cleaned = scrub_text(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install(logger_names: tuple[str, ...] = DEFAULT_LOGGERS) -> RedactingFilter:
    """Attach the redacting filter to the named loggers and all of their handlers.

    A logger's own filters see only records logged on that logger, while a handler's
    filters see every record that reaches it, so both are covered. Calling this again
    is harmless and picks up handlers added since (for example by Prefect's logging
    setup or pytest's caplog).
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    return _FILTER
