"""Retries with exponential backoff, jitter and the server's retry-after, and pacing.

The retry loop runs inside each task around the SDK call, not as Prefect task
retries, because a throttled POP call carries ``x-acs-retry-after`` (milliseconds)
and Prefect cannot honour it: ``retry_delay_seconds`` is fixed per attempt before the
failure is known, and ``retry_condition_fn`` only returns whether to retry. A loop
around the call also retries only the request, not the task's logging and
validation, and works the same when a task is called through ``.fn`` in batch code.
Prefect-level retries are therefore off (``task_options()``), so one failed call is
never multiplied by two retry layers.

Settings come from ``AKRESPONDER_RETRY_MAX_ATTEMPTS``, ``AKRESPONDER_RETRY_BASE_DELAY``
and ``AKRESPONDER_RETRY_MAX_DELAY`` (seconds) or from ``set_default_policy`` (the
``ResponderSettings`` block); tests set a base delay of 0.01 s.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from akresponder.errors import CloudError, classify

T = TypeVar("T")

ENV_MAX_ATTEMPTS = "AKRESPONDER_RETRY_MAX_ATTEMPTS"
ENV_BASE_DELAY = "AKRESPONDER_RETRY_BASE_DELAY"
ENV_MAX_DELAY = "AKRESPONDER_RETRY_MAX_DELAY"

_logger = logging.getLogger("akresponder.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a retryable failure.

    The wait before retry ``n`` (1-based) is ``base_delay * 2**(n-1)`` capped at
    ``max_delay``, stretched by a random factor in ``[1, 1 + jitter]``, and never
    shorter than the server's retry-after (itself capped at ``max_retry_after``).
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 0.5
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"max_attempts must be at least 1, got {self.max_attempts}; "
                "1 means no retries"
            )
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(
                f"retry delays must not be negative (base_delay={self.base_delay}, "
                f"max_delay={self.max_delay})"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be from 0 to 1, got {self.jitter}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """Build a policy from the ``AKRESPONDER_RETRY_*`` variables over defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field_name, kind in (
            (ENV_MAX_ATTEMPTS, "max_attempts", int),
            (ENV_BASE_DELAY, "base_delay", float),
            (ENV_MAX_DELAY, "max_delay", float),
        ):
            text = env.get(name, "")
            if not text:
                continue
            try:
                values[field_name] = kind(text)
            except ValueError:
                raise ValueError(
                    f"{name}={text!r} is not a {kind.__name__}; "
                    f"give a number such as {'4' if kind is int else '0.5'}"
                ) from None
        return cls(**values)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Return the seconds to wait before retry ``retry_number`` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        backoff *= 1 + random.uniform(0, self.jitter)
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


_default_policy: RetryPolicy | None = None


def set_default_policy(policy: RetryPolicy | None) -> None:
    """Use ``policy`` for calls that name none; None goes back to the environment."""
    global _default_policy
    _default_policy = policy


def default_policy() -> RetryPolicy:
    """Return the policy from ``set_default_policy``, else one from the environment."""
    return _default_policy or RetryPolicy.from_env()


def should_retry(error: CloudError, *, idempotent: bool) -> bool:
    """Decide whether sending the same request again is safe and can help.

    A request that creates something (``idempotent=False``) is resent only when the
    service certainly did not act on it (throttled, refused), because after a dropped
    connection or a 5xx it may already have created the resource.
    """
    if not error.retryable:
        return False
    return idempotent or not error.processed


def call_with_retry(
    call: Callable[[], T],
    *,
    api: str,
    target: str = "",
    permission: str | None = None,
    policy: RetryPolicy | None = None,
    idempotent: bool = True,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` and retry it per ``policy``; raise ``CloudError`` on failure.

    Every retry is logged at WARNING with the API, attempt, error code and wait.
    """
    policy = policy or default_policy()
    log = logger or _logger
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            error = classify(exc, api=api, target=target, permission=permission)
            if attempt >= policy.max_attempts or not should_retry(
                error, idempotent=idempotent
            ):
                raise error from None
            wait = policy.delay(attempt, error.retry_after)
            log.warning(
                "Retrying api=%s attempt=%d/%d code=%s status=%s wait_s=%.3f%s",
                api,
                attempt + 1,
                policy.max_attempts,
                error.code,
                error.status or "-",
                wait,
                f" {target}" if target else "",
            )
            sleep(wait)
            attempt += 1


class Pacer:
    """Space calls at least ``1 / rate`` seconds apart, across threads.

    ActionTrail documents LookupEvents as limited to two calls per second, so paging
    through many windows must slow down on the client side.
    """

    def __init__(self, rate_per_second: float) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        self.interval = 1.0 / rate_per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next call may start; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        waited = start - now
        if waited > 0:
            time.sleep(waited)
        return waited


_pacers: dict[tuple[str, float], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(api: str, rate_per_second: float) -> Pacer:
    """Return the process-wide pacer for ``api`` at ``rate_per_second``."""
    key = (api, rate_per_second)
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = Pacer(rate_per_second)
        return _pacers[key]


def task_options(**overrides: Any) -> dict[str, Any]:
    """Return the ``@task`` options every cloud task uses.

    No caching and no persisted results: inputs carry credentials, and every call must
    really happen. Prefect retries are off because ``call_with_retry`` retries the
    request itself (see the module docstring).
    """
    from prefect.cache_policies import NO_CACHE

    options: dict[str, Any] = {
        "cache_policy": NO_CACHE,
        "persist_result": False,
        "retries": 0,
        "log_prints": False,
    }
    options.update(overrides)
    return options
