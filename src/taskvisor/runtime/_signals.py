"""SIGINT and SIGTERM as a graceful shutdown, for ``run`` and ``serve``.

The contract: docs/spec/api.md sections 4 and 9.

Owns: which signals a supervisor may take (``signals_to_handle``: the main thread only; for
``serve``, only a signal whose handler is still the default one), listening for them through
anyio, and putting back whatever handlers were installed before. asyncio's
``loop.remove_signal_handler`` resets a signal to its *default* handler, not to the previous one
(losing, e.g., ``asyncio.run``'s own SIGINT handler), so the previous Python-level handlers are
saved with ``signal.getsignal`` and restored with ``signal.signal``. What a signal *means* (a
``Shutdown`` input) is the driver's business. Must not import the driver.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.abc

__all__ = [
    "SHUTDOWN_SIGNALS",
    "can_listen",
    "is_default_handler",
    "listen_for_signals",
    "restored_handlers",
    "signals_to_handle",
]

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def can_listen() -> bool:
    """Signal handlers can only be installed from the main thread."""
    return threading.current_thread() is threading.main_thread()


def _is_loop_runners_sigint_handler(handler: Any) -> bool:
    """The SIGINT handler an event loop runner installs in place of ``default_int_handler``.

    ``asyncio.run`` (3.11+, also with uvloop) installs ``Runner._on_sigint`` and ``trio.run``
    its KeyboardInterrupt handler, each only when SIGINT still had Python's default: both are
    the default behaviour of Ctrl+C under that loop, not a choice made by the application.
    """
    func = getattr(handler, "func", handler)  # asyncio: functools.partial(runner._on_sigint)
    func = getattr(func, "__func__", func)
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", "")
    return (module == "asyncio.runners" and qualname == "Runner._on_sigint") or (
        module == "trio._core._ki" and qualname.startswith("KIManager.install.")
    )


def is_default_handler(sig: signal.Signals, handler: Any) -> bool:
    """Nobody chose how ``sig`` is handled: the OS default, Python's, or the loop runner's.

    ``SIG_IGN`` is a choice (somebody wants the signal ignored), and so is any other handler
    (a web server's, the application's own): ``serve`` leaves those alone.
    """
    if handler is signal.SIG_DFL:
        return True
    if sig is signal.SIGINT:
        return handler is signal.default_int_handler or _is_loop_runners_sigint_handler(handler)
    return False


def signals_to_handle(*, only_default: bool) -> tuple[signal.Signals, ...]:
    """The shutdown signals a supervisor takes here: none outside the main thread; with
    ``only_default`` (``serve``), only those whose handler is still the default one."""
    if not can_listen():
        return ()
    if not only_default:
        return SHUTDOWN_SIGNALS
    return tuple(s for s in SHUTDOWN_SIGNALS if is_default_handler(s, signal.getsignal(s)))


@contextlib.contextmanager
def restored_handlers(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """On exit, put back the Python-level handlers that were installed on entry."""
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: installed outside Python; nothing we can restore
                signal.signal(sig, handler)


async def listen_for_signals(
    on_signal: Callable[[str], None],
    *,
    signals: tuple[signal.Signals, ...] = SHUTDOWN_SIGNALS,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Call ``on_signal(name)`` (``"SIGTERM"``) for each of ``signals`` received, until cancelled.

    Reports started once the handlers are installed (or once it is clear they cannot be: no
    signal support on this platform or loop), so no signal is missed after ``tg.start``.
    """
    if not signals:
        task_status.started()
        return
    with restored_handlers(signals), contextlib.ExitStack() as stack:
        try:
            received = stack.enter_context(anyio.open_signal_receiver(*signals))
        except (NotImplementedError, ValueError, RuntimeError):
            task_status.started()  # e.g. Windows' asyncio loops: run without signal handling
            return
        task_status.started()
        async for signum in received:
            on_signal(signal.Signals(signum).name)
