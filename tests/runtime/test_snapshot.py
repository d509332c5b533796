"""``h.snapshot()``: every live task's status, read from the core's state.

The contract is docs/spec/api.md section 9.
"""

from __future__ import annotations

import anyio
import pytest
from test_crash_loop_controls import backend, run_virtual  # noqa: F401 - the fixture

import taskvisor as tv

TS = tv.TaskStatus


def test_snapshot_shows_every_status_streak_failure_and_next_start(backend: str) -> None:  # noqa: F811
    seen: dict[str, tuple[tv.TaskSnapshot, ...]] = {}

    async def flaky(ctx: tv.TaskContext) -> None:
        await anyio.sleep(1.0)
        raise tv.Fail(f"boom {ctx.attempt}")

    async def steady(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()

    async def deaf(ctx: tv.TaskContext) -> None:
        await anyio.sleep(100)  # ignores the cooperative request: STOPPING until grace ends

    async def main() -> None:
        config = tv.SupervisorConfig(max_concurrent=3, grace=1.0)
        async with tv.Supervisor(config, subscribers=[]).serve() as h:
            flaky_id = await h.add(
                tv.TaskSpec.restartable(
                    flaky,
                    backoff=tv.BackoffPolicy.constant(5.0),
                    intensity=tv.Intensity(5, 60.0),
                )
            )
            await h.add(tv.TaskSpec(steady))
            deaf_id = await h.add(tv.TaskSpec(deaf))
            await h.add(tv.TaskSpec(steady, name="queued"))  # no permit left: WAITING
            seen["start"] = h.snapshot()
            await anyio.sleep(2.5)  # flaky failed at 1 s; its backoff lasts until 6 s
            seen["backoff"] = h.snapshot()
            await h.remove(deaf_id)
            await anyio.sleep(0.1)
            seen["stopping"] = h.snapshot()
            assert flaky_id in [s.task_id for s in seen["stopping"]]
            await h.remove_by_name("flaky")
            await anyio.sleep(1.5)  # deaf is forced after grace
            seen["after"] = h.snapshot()

    run_virtual(backend, main)
    start = {s.name: s for s in seen["start"]}
    assert [s.task_id for s in seen["start"]] == sorted(s.task_id for s in seen["start"])
    assert start["queued"].status is TS.WAITING
    assert start["queued"].attempt == 0
    assert start["flaky"].status in (TS.STARTING, TS.RUNNING)
    assert start["flaky"].streak == 0
    assert start["flaky"].last_failure is None
    backoff = {s.name: s for s in seen["backoff"]}
    assert backoff["flaky"].status is TS.BACKOFF
    assert backoff["flaky"].streak == 1
    assert backoff["flaky"].last_failure == "boom 1"
    assert backoff["flaky"].next_start == pytest.approx(6.0, abs=1e-6)
    assert backoff["flaky"].restarts_in_window == 1
    assert backoff["steady"].status is TS.RUNNING
    assert backoff["steady"].restarts_in_window is None
    stopping = {s.name: s for s in seen["stopping"]}
    assert stopping["deaf"].status is TS.STOPPING
    after = {s.name for s in seen["after"]}
    assert "flaky" not in after  # removed from backoff at once
    assert "deaf" not in after  # forced after grace
    assert {s.name: s.status for s in seen["after"]}["queued"] is TS.RUNNING  # got a permit


def test_snapshot_is_a_copy(backend: str) -> None:  # noqa: F811
    async def job(ctx: tv.TaskContext) -> None:
        await anyio.sleep(1.0)

    async def main() -> None:
        async with tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).serve() as h:
            await h.add(tv.TaskSpec.once(job))
            first = h.snapshot()
            await anyio.sleep(2.0)
            assert h.snapshot() == ()
            assert len(first) == 1  # what was read earlier does not change under the reader
            assert first[0].name == "job"

    run_virtual(backend, main)
