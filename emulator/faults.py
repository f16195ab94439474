"""Fault injection: rules that make matching calls fail, slow down or drop.

A rule matches calls by service and action and fires either for the first ``count``
matching calls or with probability ``rate`` (from a random generator seeded with
``seed``, so runs repeat). Without ``count`` or ``rate`` it fires on every matching
call. Faults apply after authentication and before the handler, so a faulted call
changes nothing.

Kinds:

* ``throttle`` returns ``Throttling.User`` (400), with ``x-acs-retry-after`` when
  ``retry_after_ms`` is set.
* ``error`` returns 503 ``ServiceUnavailable`` unless ``status``, ``code`` or
  ``message`` override it.
* ``latency`` waits ``latency_ms`` and then serves the call.
* ``drop`` closes the connection without a response.

SLS calls get SLS error bodies: ``ReadQuotaExceed`` (403) for throttle and
``ServerBusy`` (503) for error.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import AlibabaError, SlsError, ThrottlingUser, make_error

SERVICES = ("ram", "sts", "actiontrail", "bss", "ecs", "sls", "*")
KINDS = ("throttle", "error", "latency", "drop")
RULE_FIELDS = {
    "service",
    "action",
    "kind",
    "count",
    "rate",
    "seed",
    "status",
    "code",
    "message",
    "retry_after_ms",
    "latency_ms",
}


class FaultRuleError(ValueError):
    """An invalid fault rule; the message names the field and the allowed values."""


@dataclass
class FaultRule:
    service: str
    action: str
    kind: str
    count: int | None = None
    rate: float | None = None
    seed: int | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after_ms: int | None = None
    latency_ms: int | None = None
    fired: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, service: str, action: str) -> bool:
        return self.service in ("*", service) and self.action in ("*", action)

    def fire(self) -> bool:
        """Decide whether this matching call is faulted, and count it if so."""
        if self.count is not None and self.fired >= self.count:
            return False
        if self.rate is not None and self._random.random() >= self.rate:
            return False
        self.fired += 1
        return True

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service,
            "action": self.action,
            "kind": self.kind,
        }
        for name in (
            "count",
            "rate",
            "seed",
            "status",
            "code",
            "message",
            "retry_after_ms",
            "latency_ms",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data["fired"] = self.fired
        return data

    def pop_error(self) -> AlibabaError:
        """Build the POP error response of this rule."""
        headers = {}
        if self.retry_after_ms:
            headers["x-acs-retry-after"] = str(self.retry_after_ms)
        if self.kind == "throttle":
            error = ThrottlingUser(self.message, headers=headers)
            if self.code or self.status:
                error = make_error(
                    self.code or error.code,
                    self.status or error.status,
                    self.message or error.message,
                    headers=headers,
                )
            return error
        return make_error(
            self.code or "ServiceUnavailable",
            self.status or 503,
            self.message
            or "The request has failed due to a temporary failure of the server.",
            headers=headers,
        )

    def sls_error(self) -> SlsError:
        """Build the SLS error response of this rule."""
        if self.kind == "throttle":
            return SlsError(
                self.code or "ReadQuotaExceed",
                self.status or 403,
                self.message or "Project read quota exceed.",
            )
        return SlsError(
            self.code or "ServerBusy",
            self.status or 503,
            self.message or "The server is busy, please try again later.",
        )


def _optional_int(
    data: dict[str, Any], name: str, where: str, minimum: int
) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultRuleError(
            f"{where}.{name} must be an integer >= {minimum}, got {value!r}"
        )
    return value


def parse_rule(data: Any, where: str = "fault") -> FaultRule:
    """Validate one rule given as JSON and build it."""
    if not isinstance(data, dict):
        raise FaultRuleError(
            f"{where} must be a JSON object, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - RULE_FIELDS)
    if unknown:
        raise FaultRuleError(
            f"unknown field {where}.{unknown[0]}; allowed fields are: "
            f"{', '.join(sorted(RULE_FIELDS))}"
        )

    service = data.get("service", "*")
    if service not in SERVICES:
        raise FaultRuleError(
            f"invalid {where}.service {service!r}; use one of: {', '.join(SERVICES)}"
        )
    action = data.get("action", "*")
    if not isinstance(action, str) or not action:
        raise FaultRuleError(
            f"invalid {where}.action {action!r}; give an API action name or *"
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultRuleError(
            f"invalid {where}.kind {kind!r}; use one of: {', '.join(KINDS)}"
        )

    rate = data.get("rate")
    if rate is not None and (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not 0.0 <= rate <= 1.0
    ):
        raise FaultRuleError(
            f"invalid {where}.rate {rate!r}; use a number from 0.0 to 1.0"
        )
    if rate is not None and data.get("count") is not None:
        raise FaultRuleError(f"{where} sets both count and rate; choose one")

    status = _optional_int(data, "status", where, 400)
    if status is not None and status > 599:
        raise FaultRuleError(
            f"invalid {where}.status {status}; use an HTTP status from 400 to 599"
        )
    for text_field in ("code", "message"):
        value = data.get(text_field)
        if value is not None and (not isinstance(value, str) or not value):
            raise FaultRuleError(f"{where}.{text_field} must be a non-empty string")

    latency_ms = _optional_int(data, "latency_ms", where, 0)
    if kind == "latency" and latency_ms is None:
        raise FaultRuleError(
            f"{where} has kind latency but no latency_ms; give milliseconds"
        )
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FaultRuleError(f"{where}.seed must be an integer, got {seed!r}")

    return FaultRule(
        service=service,
        action=action,
        kind=kind,
        count=_optional_int(data, "count", where, 1),
        rate=None if rate is None else float(rate),
        seed=seed,
        status=status,
        code=data.get("code"),
        message=data.get("message"),
        retry_after_ms=_optional_int(data, "retry_after_ms", where, 1),
        latency_ms=latency_ms,
        _random=random.Random(seed),
    )


def parse_rules(data: Any) -> list[FaultRule]:
    """Validate rules (a list, ``{"rules": [...]}`` or one rule) and build them."""
    if isinstance(data, dict) and "rules" in data and "kind" not in data:
        data = data["rules"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise FaultRuleError("faults must be a JSON list of rules or one rule object")
    return [parse_rule(item, f"faults[{index}]") for index, item in enumerate(data)]


class FaultInjector:
    """The active rules of one emulator, consulted once per authenticated call."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def pick(self, service: str, action: str) -> FaultRule | None:
        """Return the first rule that fires for this call, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, action) and rule.fire():
                    return rule
        return None
