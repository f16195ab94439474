"""The emulator's clock: it starts at the scenario's ``now`` and runs with real time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """A wall clock that starts at a chosen moment and can be moved forward.

    ``frozen=True`` stops it from running with real time, so that only ``advance``
    moves it; tests that compare exact timestamps use that.
    """

    def __init__(self, start: datetime, *, frozen: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError(f"clock start {start!r} has no time zone; give a UTC time")
        self._start = start.astimezone(UTC)
        self._started_at = time.monotonic()
        self._offset = timedelta()
        self.frozen = frozen
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            running = (
                timedelta()
                if self.frozen
                else timedelta(seconds=time.monotonic() - self._started_at)
            )
            return self._start + running + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError(
                f"cannot move the clock backwards (seconds={seconds}); "
                "give a positive number"
            )
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
