"""Per-account API rate limits that return ``Throttling.User`` like the real services.

RAM's limit is a token bucket per action, off by default and set in calls per second
(``--ram-rate-limit`` or ``/__emu/config``). ActionTrail documents LookupEvents at two
calls per second, which the emulator enforces by default. Buckets run on the host's
monotonic clock, not the emulated clock, because callers wait in real time.
"""

from __future__ import annotations

import threading
import time

# ActionTrail's documented limit for LookupEvents, in calls per second.
LOOKUP_EVENTS_RATE = 2.0


class TokenBucket:
    """A bucket that refills ``rate`` tokens per second up to ``capacity``."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        """Take one token; return False when the bucket is empty."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def validate_rate(name: str, value: object) -> float | None:
    """Check a rate: calls per second above 0, or 0/None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"{name} must be a number of calls per second or null, got {value!r}"
        )
    if value < 0:
        raise ValueError(
            f"{name} must not be negative, got {value}; use 0 or null to turn it off"
        )
    return float(value) or None


class RateLimiter:
    """The rate limits of one account; ``allow`` is called after authentication."""

    def __init__(
        self,
        ram_rate: float | None = None,
        lookup_events_rate: float | None = LOOKUP_EVENTS_RATE,
    ) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.ram_rate = validate_rate("ram_rate_limit", ram_rate)
        self.lookup_events_rate = validate_rate(
            "lookup_events_rate_limit", lookup_events_rate
        )

    def configure(
        self, *, ram_rate: object = ..., lookup_events_rate: object = ...
    ) -> None:
        """Change limits at run time; arguments left out keep their value."""
        with self._lock:
            if ram_rate is not ...:
                self.ram_rate = validate_rate("ram_rate_limit", ram_rate)
            if lookup_events_rate is not ...:
                self.lookup_events_rate = validate_rate(
                    "lookup_events_rate_limit", lookup_events_rate
                )
            self._buckets.clear()

    def allow(self, product: str, action: str) -> bool:
        """Return False when the call exceeds its limit and must be throttled."""
        if product == "ram":
            rate = self.ram_rate
        elif product == "actiontrail" and action == "LookupEvents":
            rate = self.lookup_events_rate
        else:
            return True
        if rate is None:
            return True
        with self._lock:
            bucket = self._buckets.get((product, action))
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[(product, action)] = TokenBucket(rate)
            return bucket.take()
