"""Type-checked, never run: user code that MUST fail ``mypy --strict`` (the types bite).

Every line marked ``# E: <code>`` must produce a mypy error with that code, and no other line
may produce one; ``tests/typing/test_types_bite.py`` runs mypy on this file and checks both.
``make typecheck`` leaves this file out (it is meant to fail).
"""

from __future__ import annotations

import taskvisor as tv


async def flaky(ctx: tv.TaskContext) -> None:
    raise tv.Fail("boom")


def not_async(ctx: tv.TaskContext) -> None:
    """Forgot ``async``: returns None, not an awaitable."""


async def wrong_context(ctx: int) -> None:
    """Expects something else than the TaskContext every attempt gets."""


class NoSubscriber:
    def on_evnt(self, ev: tv.Event) -> None: ...


async def main(h: tv.SupervisorHandle) -> None:
    tv.TaskSpec.once(flaky, max_retry=3)  # E: call-arg
    tv.TaskSpec.restartable(flaky, timout=5.0)  # E: call-arg
    tv.TaskSpec.periodic(flaky, every=5.0, restart=tv.RestartPolicy.NEVER)  # E: call-arg
    tv.TaskSpec.once(flaky, timeout="5")  # E: arg-type
    tv.TaskSpec.once(flaky, max_retries=2.5)  # E: arg-type
    tv.TaskSpec(42)  # E: arg-type
    tv.TaskSpec(not_async)  # E: arg-type
    tv.TaskFn("x", not_async)  # E: arg-type
    tv.TaskFn("x", wrong_context)  # E: arg-type
    tv.TaskSpec(flaky, backoff=1.0)  # E: arg-type
    tv.Fail("boom", exit_code="75")  # E: arg-type
    sub: tv.Subscriber = NoSubscriber()  # E: assignment
    other: tv.Subscriber = object()  # E: assignment
    await h.remove("flaky")  # E: arg-type
    await h.cancel(5)  # E: arg-type
    print(sub, other)
