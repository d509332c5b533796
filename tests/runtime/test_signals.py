"""SIGINT/SIGTERM: ``run`` shuts down gracefully and restores the previous handlers.

Real signals: to a child process running ``Supervisor.run`` (it must exit 0 after a graceful
shutdown), and to this process while a test handler guards it (so a handler that was not
installed fails the test instead of killing pytest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import anyio
import pytest

import taskvisor as tv

CHILD = Path(__file__).with_name("signal_child.py")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("backend", ["asyncio", "uvloop", "trio"])
def test_a_signal_to_a_process_in_run_shuts_it_down_gracefully(
    backend: str, sig: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert sorted(lines[:2]) == ["cleaned up a", "cleaned up b"]
    assert lines[2:] == ["a CANCELED", "b CANCELED", "exited"]


class Guard:
    """A Python-level handler that records signals (stands in for whatever was there before)."""

    def __init__(self) -> None:
        self.caught: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.caught.append(signum)


@pytest.fixture
def guard() -> object:
    guard = Guard()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in saved:
        signal.signal(s, guard)
    yield guard
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.anyio
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_handles_a_real_signal_and_restores_the_previous_handler(
    guard: Guard, sig: signal.Signals
) -> None:
    started = anyio.Event()
    during: list[object] = []

    async def polite(ctx: tv.TaskContext) -> None:
        during.append(signal.getsignal(sig))
        started.set()
        await ctx.cancelled()

    async def send_signal() -> None:
        await started.wait()
        os.kill(os.getpid(), sig)

    async with anyio.create_task_group() as tg:
        tg.start_soon(send_signal)
        with anyio.fail_after(10):
            out = await tv.Supervisor().run([tv.TaskSpec(polite)])
    assert out["polite"].kind is tv.OutcomeKind.CANCELED
    assert guard.caught == []  # the supervisor's handler took it, not the previous one
    assert during[0] is not guard
    assert signal.getsignal(signal.SIGINT) is guard  # both restored afterwards
    assert signal.getsignal(signal.SIGTERM) is guard


@pytest.mark.anyio
async def test_serve_leaves_signal_handlers_alone(guard: Guard) -> None:
    async with tv.Supervisor().serve():
        assert signal.getsignal(signal.SIGTERM) is guard
    assert signal.getsignal(signal.SIGTERM) is guard


def test_run_outside_the_main_thread_installs_no_handler(guard: Guard) -> None:
    seen: list[object] = []

    async def job(ctx: tv.TaskContext) -> None:
        seen.append(signal.getsignal(signal.SIGTERM))

    def in_thread() -> None:
        out = anyio.run(tv.Supervisor().run, [tv.TaskSpec.once(job)])
        seen.append(out["job"].kind)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert seen == [guard, tv.OutcomeKind.COMPLETED]


def test_run_restores_asyncio_runs_own_sigint_handler() -> None:
    """asyncio's remove_signal_handler resets SIGINT to the default, not to asyncio.run's."""
    import asyncio

    seen: dict[str, object] = {}

    async def main() -> None:
        seen["before"] = signal.getsignal(signal.SIGINT)
        await tv.Supervisor().run([])
        seen["after"] = signal.getsignal(signal.SIGINT)

    saved = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # so asyncio.run installs its own
    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGINT, saved)
    before = seen["before"]
    assert getattr(getattr(before, "func", None), "__name__", None) == "_on_sigint"
    assert seen["after"] == seen["before"]
