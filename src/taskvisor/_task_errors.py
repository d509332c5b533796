"""Exceptions a task body raises to tell the supervisor how its attempt ended.

The table of docs/spec/api.md section 2 says what each one means.

Owns: ``TaskError`` and its three kinds. Pure: imported by the core and the runtime.
"""

from __future__ import annotations

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
    """A retryable failure: restarted if the policy and the retry budget allow."""


class Fatal(TaskError):
    """A permanent failure: never restarted, under any restart policy."""


class Canceled(TaskError):
    """The attempt gave up because cancellation was requested."""
