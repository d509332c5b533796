"""Retry-After: a rate-limited API says when to come back, and the supervisor listens.

The task calls an API that answers ``429 Too Many Requests`` or ``503 Service Unavailable``
with a ``Retry-After`` header, as delay-seconds or as an HTTP date (RFC 9110, 10.2.3). The
task turns it into ``tv.Fail(reason, retry_after=...)``: the next restart waits exactly that
long (no jitter, not capped by the backoff's ``max``, raised to its ``floor``), and the
failure still counts toward ``max_retries``. A failure without the header uses the backoff.
Each ``BACKOFF_SCHEDULED`` says why (``ev.decision``). Runs on virtual time (an instant).

Run: ``python examples/retry_after.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import taskvisor as tv
from taskvisor.testing import VirtualClock

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)  # the API's clock, for its dates

# What the API answers to each call: (status, Retry-After header or None).
ANSWERS = [
    (429, "45"),  # delay-seconds: more than the backoff's max of 30 s, and obeyed
    (503, format_datetime(NOW + timedelta(seconds=20), usegmt=True)),  # an HTTP date
    (503, None),  # no header: the backoff decides
    (200, None),
]


def retry_after(header: str | None) -> timedelta | None:
    """Parse a Retry-After header: delay-seconds, or an HTTP date relative to ``NOW``."""
    if header is None:
        return None
    if header.isdigit():
        return timedelta(seconds=int(header))
    return max(parsedate_to_datetime(header) - NOW, timedelta(0))


class Why:
    """Prints each restart decision (async: delivered on the event loop)."""

    async def on_event(self, ev: tv.Event) -> None:
        d = ev.decision
        if ev.kind is tv.EventKind.BACKOFF_SCHEDULED and d is not None:
            print(f"  restart in {ev.delay:g}s: rule {d.rule!r}, retry {d.retry}, base {d.base:g}s")


async def main() -> None:
    async def call_api(ctx: tv.TaskContext) -> None:
        status, header = ANSWERS[ctx.attempt - 1]
        print(
            f"attempt {ctx.attempt}: HTTP {status}" + (f", Retry-After: {header}" if header else "")
        )
        if status != 200:
            raise tv.Fail(f"HTTP {status}", retry_after=retry_after(header))

    backoff = tv.BackoffPolicy.exponential(2.0, max=30.0)
    spec = tv.TaskSpec.restartable(call_api, backoff=backoff, max_retries=5)
    out = await tv.Supervisor(tv.SupervisorConfig(seed=1), subscribers=[Why()]).run([spec])
    print(f"outcome: {out['call_api'].kind.name} after {out['call_api'].attempts} attempts")


VirtualClock().run(main())
