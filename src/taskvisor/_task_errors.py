"""Exceptions a task body raises to tell the supervisor how its attempt ended.

The table of docs/spec/api.md section 2 says what each one means.

Owns: ``TaskError`` and its three kinds. Pure: imported by the core and the runtime.
"""

from __future__ import annotations

from datetime import timedelta

from taskvisor._errors import ConfigTypeError

__all__ = ["Canceled", "Fail", "Fatal", "TaskError"]


class TaskError(Exception):
    """Base of the outcomes a task raises on purpose.

    Attributes:
        reason: a human-readable reason.
        exit_code: an optional numeric code, carried into events and outcomes.
    """

    def __init__(self, reason: str = "", exit_code: int | None = None) -> None:
        if exit_code is not None and (
            isinstance(exit_code, bool) or not isinstance(exit_code, int)
        ):
            raise ConfigTypeError(f"{type(self).__name__}.exit_code", "an int or None", exit_code)
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code

    def __repr__(self) -> str:
        extra = "" if self.exit_code is None else f", exit_code={self.exit_code}"
        return f"{type(self).__name__}({self.reason!r}{extra})"


class Fail(TaskError):
    """A retryable failure: restarted if the policy and the retry budget allow.

    Attributes:
        retry_after: when given (seconds, or a ``timedelta``), the delay before the retry is
            exactly this (an HTTP ``Retry-After``): no jitter, not capped by the backoff's
            ``max``, raised to its ``floor``; ``0`` retries at once. The failure still counts
            toward the streak and ``max_retries``. Reported in float seconds.
    """

    def __init__(
        self,
        reason: str = "",
        exit_code: int | None = None,
        retry_after: float | timedelta | None = None,
    ) -> None:
        super().__init__(reason, exit_code)
        # Imported here: the core imports this module, and _duration's package is the core.
        from taskvisor.fsm._duration import ns_to_s, to_ns

        self.retry_after_ns = (
            None if retry_after is None else to_ns(retry_after, "Fail.retry_after")
        )
        self.retry_after = None if self.retry_after_ns is None else ns_to_s(self.retry_after_ns)

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.retry_after is None:
            return text
        return f"{text[:-1]}, retry_after={self.retry_after!r})"


class Fatal(TaskError):
    """A permanent failure: never restarted, under any restart policy."""


class Canceled(TaskError):
    """The attempt gave up because cancellation was requested."""
