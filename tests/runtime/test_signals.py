"""SIGINT/SIGTERM: ``run`` and ``serve`` shut down gracefully and restore the previous handlers.

Real signals: to a child process running ``Supervisor.run`` or ``serve`` on asyncio, uvloop and
trio (it must exit 0 after a graceful shutdown), and to this process while a test handler guards
it (so a handler that was not installed fails the test instead of killing pytest).
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
from taskvisor.runtime._signals import is_default_handler

CHILD = Path(__file__).with_name("signal_child.py")


def _signal_child(backend: str, mode: str, sig: signal.Signals) -> list[str]:
    """Run signal_child.py, send ``sig`` once both tasks run; its lines (it must exit 0)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), backend, mode],
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
    return out.splitlines()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("backend", ["asyncio", "uvloop", "trio"])
def test_a_signal_to_a_process_in_run_shuts_it_down_gracefully(
    backend: str, sig: signal.Signals
) -> None:
    lines = _signal_child(backend, "run", sig)
    assert sorted(lines[:2]) == ["cleaned up a", "cleaned up b"]
    # The outcomes' reason names the signal (the core's, from the driver's Shutdown(reason)).
    assert lines[2:] == [
        f"a CANCELED: canceled: {sig.name}",
        f"b CANCELED: canceled: {sig.name}",
        f"stopped_by {sig.name}",
        "exited",
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("backend", ["asyncio", "uvloop", "trio"])
def test_a_signal_to_a_process_in_serve_stops_the_tasks_then_cancels_the_body(
    backend: str, sig: signal.Signals
) -> None:
    lines = _signal_child(backend, "serve", sig)
    # The tasks' `finally` ran first (graceful shutdown), then the body was cancelled with no
    # task left, then the block exited normally and the program went on.
    assert sorted(lines[:2]) == ["cleaned up a", "cleaned up b"]
    assert lines[2:] == [
        "body cancelled, live tasks: 0",
        "left the block",
        f"stopped_by {sig.name}",
        "exited",
    ]


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
    async with tv.Supervisor(subscribers=[]).serve():
        assert signal.getsignal(signal.SIGTERM) is guard
    assert signal.getsignal(signal.SIGTERM) is guard


@pytest.fixture
def default_sigterm() -> object:
    saved = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, saved)


@pytest.mark.anyio
@pytest.mark.usefixtures("default_sigterm")
async def test_serve_takes_a_default_signal_and_puts_the_default_back() -> None:
    async with tv.Supervisor(subscribers=[]).serve():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.anyio
@pytest.mark.usefixtures("default_sigterm")
async def test_serve_takes_only_the_signals_nobody_handles(guard: Guard) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # SIGINT stays with the guard
    async with tv.Supervisor(subscribers=[]).serve():
        assert signal.getsignal(signal.SIGINT) is guard
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.anyio
@pytest.mark.usefixtures("default_sigterm")
async def test_signals_false_opts_out_in_serve_and_run() -> None:
    seen: list[object] = []

    async def job(ctx: tv.TaskContext) -> None:
        seen.append(signal.getsignal(signal.SIGTERM))

    sup = tv.Supervisor(subscribers=[])
    async with sup.serve(signals=False) as h:
        seen.append(signal.getsignal(signal.SIGTERM))
        _, waiter = await h.add_and_watch(tv.TaskSpec.once(job))
        await waiter.wait()
    await tv.Supervisor(subscribers=[]).run([tv.TaskSpec.once(job)], signals=False)
    assert seen == [signal.SIG_DFL] * 3
    assert sup.stopped_by is None  # left the block: not a signal


@pytest.mark.anyio
async def test_stopped_by_is_none_before_and_after_a_shutdown_no_signal_caused() -> None:
    sup = tv.Supervisor(subscribers=[])
    assert sup.stopped_by is None
    async with sup.serve() as h:
        await h.shutdown()
    assert sup.stopped_by is None


@pytest.mark.parametrize(
    ("sig", "handler", "default"),
    [
        (signal.SIGTERM, signal.SIG_DFL, True),
        (signal.SIGINT, signal.SIG_DFL, True),
        (signal.SIGINT, signal.default_int_handler, True),
        (signal.SIGTERM, signal.default_int_handler, False),  # not what SIGTERM starts with
        (signal.SIGTERM, signal.SIG_IGN, False),  # ignoring it is a choice
        (signal.SIGINT, Guard(), False),
    ],
)
def test_what_counts_as_a_default_handler(
    sig: signal.Signals, handler: object, default: bool
) -> None:
    assert is_default_handler(sig, handler) is default


def test_asyncio_runs_and_trio_runs_own_sigint_handlers_count_as_default() -> None:
    import asyncio

    import trio

    seen: list[bool] = []

    async def check() -> None:
        seen.append(is_default_handler(signal.SIGINT, signal.getsignal(signal.SIGINT)))

    saved = signal.signal(signal.SIGINT, signal.default_int_handler)  # so the runners install
    try:
        asyncio.run(check())
        trio.run(check)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, saved)
    assert seen == [True, True]


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
