"""SIGINT and SIGTERM as a graceful shutdown, for ``Supervisor.run`` (api.md section 4).

Owns: listening for the two signals through anyio, and putting back whatever handlers were
installed before. asyncio's ``loop.remove_signal_handler`` resets a signal to its *default*
handler, not to the previous one (losing, e.g., ``asyncio.run``'s own SIGINT handler), so the
previous Python-level handlers are saved with ``signal.getsignal`` and restored with
``signal.signal``. What a signal *means* (a ``Shutdown`` input) is the driver's business. Must
not import the driver.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

import anyio
import anyio.abc

__all__ = ["SHUTDOWN_SIGNALS", "can_listen", "listen_for_signals", "restored_handlers"]

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def can_listen() -> bool:
    """Signal handlers can only be installed from the main thread."""
    return threading.current_thread() is threading.main_thread()


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
    on_signal: Callable[[], None],
    *,
    signals: tuple[signal.Signals, ...] = SHUTDOWN_SIGNALS,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Call ``on_signal()`` for each of ``signals`` received, until cancelled.

    Reports started once the handlers are installed (or once it is clear they cannot be: no
    signal support on this platform or loop), so no signal is missed after ``tg.start``.
    """
    with restored_handlers(signals), contextlib.ExitStack() as stack:
        try:
            received = stack.enter_context(anyio.open_signal_receiver(*signals))
        except (NotImplementedError, ValueError, RuntimeError):
            task_status.started()  # e.g. Windows' asyncio loops: run without signal handling
            return
        task_status.started()
        async for _ in received:
            on_signal()
