"""The driver: holds the core's state, feeds it inputs, executes its effects on the event loop.

Owns: ``Driver``, the one synchronous chokepoint ``feed(input)`` (``fsm.step`` then the effects,
in order; inputs that arrive while effects run wait in a deque, so there is no re-entrancy), the
one timer re-armed for ``fsm.next_deadline`` (aioquic's pattern), commands (stepped at once
while nothing is queued, else through the bounded command queue and its actor), replies matched
by ticket, outcome watches (driven by ``Finished``, never by events:
rule 6), the admission controller's own bounded intake (``ControllerConfig.queue_capacity``) and
its actor, what a signal means (a graceful shutdown), and the orderly stop (core done, commands
and submissions drained, subscribers drained, background tasks stopped). It decides nothing
about tasks (rule 5): every *whether* and *when* comes from the core. Must not import the
public ``Supervisor`` (``_supervisor``) or the handle (``_handle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, assert_never

import anyio
import anyio.abc
import anyio.lowlevel

from taskvisor._errors import CommandQueueFull, ShuttingDown
from taskvisor.fsm import (
    NS_PER_S,
    TICK,
    Abandon,
    AddReply,
    ControllerConfig,
    Effect,
    Escalate,
    Event,
    EventKind,
    EventsConsumed,
    Finished,
    ForceCancel,
    Heartbeat,
    Input,
    Publish,
    RemoveReply,
    RequestCancel,
    Shutdown,
    ShutdownDone,
    StartAttempt,
    Stepper,
    SubmitReply,
    SubscriberPanicked,
    SubscriberRecovered,
    SupervisorState,
    TaskDefaults,
    TaskId,
    TaskOutcome,
)
from taskvisor.runtime._attempt import AsyncioLauncher, Attempt, Launcher, TrioLauncher, describe
from taskvisor.runtime._bus import EventBus
from taskvisor.runtime._clock import LoopClock, bind
from taskvisor.runtime._config import SupervisorConfig
from taskvisor.runtime._context import TaskContext, body_of
from taskvisor.runtime._signals import listen_for_signals
from taskvisor.runtime._timer import CallbackTimer, TaskTimer, Timer

__all__ = ["Driver", "Watch", "new_task_id"]

#: One process-wide sequence: a TaskId is never reused within a process (docs/spec/api.md section
# 4).
new_task_id: Callable[[], int] = itertools.count(1).__next__

Reply = AddReply | RemoveReply | SubmitReply


class _Pending:
    """A command waiting for its reply effect (matched by ticket).

    ``event`` exists only for a queued command, whose caller waits; an inline command reads
    ``value`` right after its step.
    """

    __slots__ = ("event", "value")

    def __init__(self, event: anyio.Event | None) -> None:
        self.event = event
        self.value: Reply | None = None

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()


class _Queued:
    """One input in a command queue. ``taken``: the actor received it (and fed it at once);
    ``withdrawn``: its sender gave up before that (cancelled, or the queue was closed), so it
    is never fed. Either way it no longer counts as queued (see ``Driver._queued``)."""

    __slots__ = ("inp", "taken", "withdrawn")

    def __init__(self, inp: Input) -> None:
        self.inp = inp
        self.taken = False
        self.withdrawn = False


class Watch:
    """The outcome of one task, once it has left the registry (``Finished``, rule 6).

    The wake-up event is created only when somebody waits: ``run()`` watches every task of its
    batch, and an ``anyio.Event`` per task nobody awaits cost about 1 KB each (benchmarks).
    """

    __slots__ = ("error", "event", "outcome")

    def __init__(self) -> None:
        self.event: anyio.Event | None = None
        self.outcome: TaskOutcome | None = None
        self.error: BaseException | None = None

    def resolve(self, outcome: TaskOutcome) -> None:
        self.outcome = outcome
        if self.event is not None:
            self.event.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        if self.event is not None:
            self.event.set()

    async def wait(self) -> TaskOutcome:
        if self.outcome is None and self.error is None:
            if self.event is None:
                self.event = anyio.Event()
            await self.event.wait()
        if self.outcome is None:
            assert self.error is not None
            raise self.error
        return self.outcome


class Driver:
    """One supervisor session on a running event loop (created inside it)."""

    def __init__(
        self,
        config: SupervisorConfig,
        subscribers: Sequence[object],
        defaults: TaskDefaults,
        rng: Any,
        controller: ControllerConfig | None = None,
    ) -> None:
        self.config = config
        self._rng = rng
        self.bus = EventBus(
            subscribers,
            on_consumed=self._on_consumed,
            on_panic=self._on_panic,
            on_recovered=self._on_recovered,
        )
        # The one stepping loop (architecture rule 8); production runs it without a checker.
        self.core = Stepper(config.core_config(self.bus.infos, defaults, controller), rng)
        self._now = 0  # the last `now` fed: the core's time never goes backwards
        self._pending: deque[Input] = deque()
        self._unconsumed = [0] * len(self.bus.infos)  # see _on_consumed
        self._any_unconsumed = False
        self._feeding = False
        self._armed: int | None = None  # the deadline the timer is armed for
        # Attempts by task (attempts of one task never overlap, I3); abandoned ones are kept
        # referenced until they end on their own (never silently leaked, I7).
        self.attempts: dict[TaskId, Attempt] = {}
        self.abandoned: set[Attempt] = set()
        self._replies: dict[int, _Pending] = {}
        self._watches: dict[TaskId, Watch] = {}
        self._tickets = itertools.count(1).__next__
        self._send, self._recv = anyio.create_memory_object_stream[_Queued](
            config.registry_queue_capacity
        )
        # Inputs sent to each queue (commands, intake) and not yet taken by its actor: a
        # command steps the core inline only when its queue holds nothing (see ``command``).
        self._queued = [0, 0]
        # Submissions have their own bounded intake and actor (docs/spec/api.md section 6: the
        # controller's bounded intake), so a burst of them never delays add/remove/shutdown.
        self.controller = controller
        self._intake_send, self._intake_recv = anyio.create_memory_object_stream[_Queued](
            1 if controller is None else controller.queue_capacity
        )
        self.accepting = True  # commands are taken (False once the core is done)
        self.shutdown_requested = False
        self.stopped_by: str | None = None  # the signal that caused the shutdown ("SIGTERM")
        self.stuck: tuple[str, ...] = ()
        self.grace_reported = False  # a shutdown() caller already got GraceExceeded
        self.crash: BaseException | None = None  # a KeyboardInterrupt/SystemExit from a task
        self.escalation: Escalate | None = (
            None  # the core shut down on its own (docs/spec/api.md 8)
        )
        # Attempts whose body called ctx.heartbeat() since the core last heard (watchdog).
        self._beats: list[TaskContext] = []
        self._now_ns: Callable[[], int] = lambda: 0  # bound to the backend's clock below
        self.failure: BaseException | None = None  # a bug: the core or an effect raised
        self._core_done = anyio.Event()  # ShutdownDone: every task is gone
        self.stopped = anyio.Event()  # and subscribers drained, background tasks stopped
        self._actor_done = anyio.Event()
        self._intake_done = anyio.Event()
        self._closed = False
        self._bg: list[anyio.CancelScope] = []
        self.host_scope: anyio.CancelScope | None = None
        # run(): the batch still running, and what wakes run() (batch done, or a shutdown).
        self.batch: set[TaskId] | None = None
        self.run_wake = anyio.Event()
        # The backend, once: how attempts are started and cancelled, how time is read.
        context = contextvars.copy_context()  # every attempt runs in a copy of the caller's
        clock = config.make_clock()
        self._launcher: Launcher
        self._timer: Timer
        if anyio.get_cancelled_exc_class() is asyncio.CancelledError:
            loop = asyncio.get_running_loop()
            self._clock = bind(clock, loop.time)
            self._launcher = AsyncioLauncher(self._attempt_done, self._crashed, context)
            if type(clock) is LoopClock:
                self._timer = CallbackTimer(loop, self._due)
            else:
                self._timer = TaskTimer(self._clock, self._due)
        else:
            import trio

            self._clock = bind(clock, trio.current_time)
            self._launcher = TrioLauncher(self._attempt_done, self._crashed, context)
            self._timer = TaskTimer(self._clock, self._due)
        self._now_ns = self._clock.now_ns

    def now_ns(self) -> int:
        """The supervisor's clock now (never before the core's last step)."""
        return max(self._now, self._clock.now_ns())

    @property
    def state(self) -> SupervisorState:
        """The core's live state: read it only to copy out of it (``list()``, ``snapshot()``)."""
        return self.core.state

    # -- the chokepoint -------------------------------------------------------------------------

    def feed(self, inp: Input) -> None:
        """Step the core with ``inp`` at the current time and execute its effects, in order."""
        pending = self._pending
        pending.append(inp)
        if self._feeding or self.failure is not None:
            return  # the running feed takes it next (no re-entrancy)
        self._feeding = True
        try:
            clock = self._clock
            core = self.core
            while pending:
                inp = pending.popleft()
                now = clock.now_ns()
                if now < self._now:
                    now = self._now
                else:
                    self._now = now
                if self._any_unconsumed:
                    self._flush_consumed(now)
                for eff in core.feed(inp, now):
                    self._execute(eff)
            self._rearm()
        except Exception as exc:  # a bug in the core or in an effect: stop everything, loudly
            pending.clear()
            self._fail(exc)
        finally:
            self._feeding = False

    def _flush_consumed(self, now: int) -> None:
        self._any_unconsumed = False
        counts = self._unconsumed
        for index, count in enumerate(counts):
            if count:
                counts[index] = 0
                self.core.feed(EventsConsumed(index, count), now)

    def _execute(self, eff: Effect) -> None:
        # Most frequent first: every step publishes; attempts start and end all the time.
        if isinstance(eff, Publish):
            # Even with no recipient: the bus counts it as dropped for everyone else.
            self.bus.publish(eff.event, eff.recipients)
        elif isinstance(eff, StartAttempt):
            ctx = self._launcher.context(
                eff.task_id, eff.name, eff.attempt, self._now_ns, self._beats
            )
            rec = Attempt(ctx, body_of(eff.spec.task))
            self.attempts[eff.task_id] = rec
            self._launcher.start(rec)
        elif isinstance(eff, Finished):
            self._finished(eff.task_id, eff.outcome)
        elif isinstance(eff, AddReply | RemoveReply | SubmitReply):
            pending = self._replies.pop(eff.ticket, None)
            if pending is not None:
                pending.value = eff
                pending.wake()
        elif isinstance(eff, RequestCancel):
            running = self._attempt(eff.task_id, eff.attempt)
            if running is not None:
                running.ctx._request_cancel()
        elif isinstance(eff, ForceCancel):
            running = self._attempt(eff.task_id, eff.attempt)
            if running is not None:
                running.ctx._request_cancel(cooperative=False)
                self._launcher.force(running)
        elif isinstance(eff, Abandon):
            running = self._attempt(eff.task_id, eff.attempt)
            if running is not None:
                del self.attempts[eff.task_id]
                self.abandoned.add(running)
        elif isinstance(eff, ShutdownDone):
            if not self._core_done.is_set():
                self.stuck = eff.stuck
                self._core_done.set()
        elif isinstance(eff, Escalate):
            # The core shut itself down (a critical task, the restart intensity): stop the
            # caller's block like a signal would, and raise once everything is down.
            self.escalation = eff
            self._note_shutdown()
            if self.host_scope is not None:
                self.host_scope.cancel()
        else:  # pragma: no cover - mypy proves every effect is handled
            assert_never(eff)

    def _attempt(self, tid: TaskId, attempt: int) -> Attempt | None:
        rec = self.attempts.get(tid)
        return rec if rec is not None and rec.ctx.attempt == attempt else None

    def _finished(self, tid: TaskId, outcome: TaskOutcome) -> None:
        watch = self._watches.pop(tid, None)
        if watch is not None:
            watch.resolve(outcome)
        batch = self.batch
        if batch is not None and tid in batch:
            batch.discard(tid)
            if not batch:
                self.run_wake.set()

    # -- time ----------------------------------------------------------------------------------

    def _rearm(self) -> None:
        deadline = self.core.next_deadline()
        if deadline != self._armed:
            self._armed = deadline
            self._timer.arm(deadline, self._now)

    def _due(self, deadline: int) -> None:
        """The timer reached ``deadline``: feed ``TICK`` at ``max(deadline, clock)`` (aioquic),
        so an early wake-up never runs the core before its deadline. Heartbeats are reported
        first: a watchdog deadline is the only thing they can change."""
        self._armed = None
        if deadline > self._now:
            self._now = deadline
        beats = self._beats
        if beats:  # coalesced: a body may beat in a hot loop; the core hears the latest time
            pending = list(beats)
            beats.clear()
            for ctx in pending:
                ctx._beat_pending = False
                self.feed(Heartbeat(ctx.task_id, ctx.attempt, ctx._beat_at))
        self.feed(TICK)

    # -- attempts ------------------------------------------------------------------------------

    def _attempt_done(self, rec: Attempt, end: Any) -> None:
        tid = rec.ctx.task_id
        if self.attempts.get(tid) is rec:
            del self.attempts[tid]
        else:
            self.abandoned.discard(rec)
        if not self._closed:
            self.feed(end)  # a late end of an abandoned attempt is ignored by the core

    def _crashed(self, exc: BaseException) -> None:
        """A task raised KeyboardInterrupt/SystemExit: shut down, then re-raise it."""
        if self.crash is None:
            self.crash = exc
        self.request_shutdown()
        if self.host_scope is not None:
            self.host_scope.cancel()

    # -- bus callbacks (on the loop thread) -----------------------------------------------------

    def _on_consumed(self, index: int, count: int) -> None:
        # Batched: the core needs the true queue depths only when it offers an event, which
        # happens only inside a step, so the counts are fed just before the next input (and
        # the trace is the same as feeding each one at once). Saves a step per event.
        if count:
            self._unconsumed[index] += count
            self._any_unconsumed = True

    def _on_panic(self, index: int, reason: str, kind: EventKind) -> None:
        self.feed(SubscriberPanicked(index, reason, kind))

    def _on_recovered(self, index: int) -> None:
        # The core reports a subscriber's panics once per episode (docs/spec/api.md section 9).
        self.feed(SubscriberRecovered(index))

    # -- commands --------------------------------------------------------------------------------

    async def command(
        self, build: Callable[[int], Input], *, nowait: bool, intake: bool = False
    ) -> Reply:
        """Step the core with a command (``intake``: a submission) and return its reply effect.

        When its queue holds nothing (no step can be running: a step never awaits), the
        command is stepped here and now, then the caller yields once, as it did when every
        command went through the actor; a caller already cancelled gets ``Cancelled`` and
        nothing is done. Otherwise the command is queued behind the others and the actor steps
        it. Either way the core sees one queue's commands in the order they were issued.

        Raises:
            CommandQueueFull: ``nowait`` and the queue is full.
            ShuttingDown: the supervisor no longer takes commands.
        """
        self._check_accepting()
        index = 1 if intake else 0
        if self._can_inline(index):
            await anyio.lowlevel.checkpoint_if_cancelled()
            if self._can_inline(index):  # (if that check yielded, other commands may be queued)
                reply = self._inline(build)
                await anyio.lowlevel.checkpoint()
                return reply
        ticket = self._tickets()
        pending = self._replies[ticket] = _Pending(anyio.Event())
        try:
            await self._enqueue(build(ticket), nowait, intake)
        except BaseException:
            del self._replies[ticket]
            raise
        assert pending.event is not None
        await pending.event.wait()
        if pending.value is None:
            raise self.failure or ShuttingDown("the supervisor stopped")
        return pending.value

    def _can_inline(self, index: int) -> bool:
        return not self._queued[index] and not self._feeding and self.accepting

    def _inline(self, build: Callable[[int], Input]) -> Reply:
        """Step the core with the command now; its reply comes in the same step."""
        ticket = self._tickets()
        pending = self._replies[ticket] = _Pending(None)
        self.feed(build(ticket))
        self._replies.pop(ticket, None)  # answered (popped already) unless the step failed
        if pending.value is None:
            raise self.failure or ShuttingDown("the supervisor stopped")
        return pending.value

    async def send_shutdown(self) -> None:
        """Queue a ``Shutdown`` (behind earlier commands); ShutdownDone answers it."""
        self._check_accepting()
        await self._enqueue(Shutdown(), nowait=False, intake=False)

    def _check_accepting(self) -> None:
        if not self.accepting:
            raise self.failure or ShuttingDown("the supervisor has shut down")

    async def _enqueue(self, inp: Input, nowait: bool, intake: bool) -> None:
        """Put ``inp`` in its queue: at once if there is room (so the queue's order is the
        order of the calls), else wait for room (``nowait``: raise ``CommandQueueFull``)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        send = self._intake_send if intake else self._send
        index = 1 if intake else 0
        item = _Queued(inp)
        self._queued[index] += 1
        try:
            try:
                send.send_nowait(item)
            except anyio.WouldBlock:
                if nowait:
                    raise
                await send.send(item)
        except BaseException as exc:
            # Not sent (full, closed, or the sender was cancelled while waiting for room):
            # it no longer holds back inline commands, and if the actor gets it after all it
            # skips it. Taken already (anyio hands an item over, then the sender may still see
            # a cancellation): the actor fed it and counted it off.
            if not item.taken:
                item.withdrawn = True
                self._queued[index] -= 1
            if isinstance(exc, anyio.WouldBlock):
                if intake:
                    assert self.controller is not None
                    capacity = self.controller.queue_capacity
                    raise CommandQueueFull(
                        f"the controller's intake is full ({capacity} submissions)"
                    ) from None
                raise CommandQueueFull(
                    f"the command queue is full ({self.config.registry_queue_capacity} commands)"
                ) from None
            if isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError):
                raise ShuttingDown("the supervisor has shut down") from None
            raise

    async def _actor(self, intake: bool = False) -> None:
        """The one consumer of the command queue (or of the intake): feeds each, in order."""
        recv, done = (
            (self._intake_recv, self._intake_done) if intake else (self._recv, self._actor_done)
        )
        index = 1 if intake else 0
        try:
            async for item in recv:
                if item.withdrawn:
                    continue
                item.taken = True
                self._queued[index] -= 1
                inp = item.inp
                if type(inp) is Shutdown:
                    self._note_shutdown()
                self.feed(inp)
                if self.failure is not None:
                    self._abort_replies()
        finally:
            recv.close()
            done.set()

    def request_shutdown(self, cause: str | None = None) -> None:
        """Shut down now, ahead of queued commands (signals, leaving ``serve``, a crash).

        ``cause``: the signal's name when a signal asked for it (``Supervisor.stopped_by``; the
        core names it in SHUTDOWN_REQUESTED and in the cancelled tasks' outcome reasons).
        """
        if not self.shutdown_requested and self.failure is None:
            self.stopped_by = cause
            self._note_shutdown()
            self.feed(Shutdown(cause))

    def _note_shutdown(self) -> None:
        self.shutdown_requested = True
        self.run_wake.set()

    # -- watches -------------------------------------------------------------------------------

    def watch(self, tid: TaskId) -> Watch:
        """The outcome watch of ``tid`` (shared by every caller watching it)."""
        watch = self._watches.get(tid)
        if watch is None:
            watch = self._watches[tid] = Watch()
        return watch

    def unwatch(self, tid: TaskId) -> None:
        self._watches.pop(tid, None)

    def is_live(self, tid: TaskId) -> bool:
        """``tid`` is registered, or queued in a controller slot (it has yet to finish)."""
        return tid in self.state.tasks or tid in self.state.slot_of

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(
        self, tg: anyio.abc.TaskGroup, *, signals: tuple[signal.Signals, ...] = ()
    ) -> None:
        """Start the background tasks in ``tg``; each of ``signals`` starts a graceful shutdown."""
        self._now = self._clock.now_ns()
        tg.start_soon(self._guard, self.bus.run, name="taskvisor bus")
        tg.start_soon(self._guard, self._actor, name="taskvisor commands")
        if self.controller is not None:
            intake = functools.partial(self._actor, intake=True)
            tg.start_soon(self._guard, intake, name="taskvisor submissions")
        else:
            self._intake_recv.close()  # no controller, no intake (the handle refuses submits)
            self._intake_done.set()
        tg.start_soon(self._guard, self._timer.run, name="taskvisor timer")
        tg.start_soon(self._guard, self._closer, name="taskvisor closer")
        if signals:
            await tg.start(self._listen_signals, signals, name="taskvisor signals")

    async def _guard(self, work: Callable[[], Awaitable[None]]) -> None:
        # Shielded: when the code around `serve` is cancelled, the graceful shutdown that
        # follows still needs the bus, the actor and the timer. The closer stops them (I7).
        with anyio.CancelScope(shield=True) as scope:
            self._bg.append(scope)
            try:
                await work()
            except Exception as exc:
                self._fail(exc)

    async def _closer(self) -> None:
        """After the core's ShutdownDone: drain commands, drain subscribers, stop."""
        try:
            await self._core_done.wait()
            self.accepting = False
            self._send.close()  # the actor feeds what is queued (the core rejects it), then ends
            self._intake_send.close()  # likewise: queued submissions CONTROLLER_SHUTTING_DOWN
            await self._actor_done.wait()
            await self._intake_done.wait()
            await self.bus.aclose(self.config.subscriber_shutdown_timeout)
        finally:
            self._closed = True
            self._timer.close()
            for scope in self._bg:
                scope.cancel()
            self.stopped.set()

    async def stop(self) -> None:
        """Shut down (if nobody did) and wait until everything is stopped."""
        self.request_shutdown()
        await self.stopped.wait()

    async def _listen_signals(
        self, signals: tuple[signal.Signals, ...], *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        with anyio.CancelScope(shield=True) as scope:  # stopped by the closer, like the rest
            self._bg.append(scope)
            await listen_for_signals(
                self.request_shutdown, signals=signals, task_status=task_status
            )

    def _fail(self, exc: BaseException) -> None:
        """A bug (the core or an effect raised): abort everything and surface ``exc``."""
        first = self.failure is None
        if first:
            self.failure = exc
            self._report_failure(exc)
        self.accepting = False
        for rec in list(self.attempts.values()):
            with contextlib.suppress(Exception):  # best effort: we are already failing
                self._launcher.force(rec)
        self._abort_replies()
        for watch in self._watches.values():
            watch.fail(exc)
        self._watches.clear()
        self.run_wake.set()
        if self.host_scope is not None:
            self.host_scope.cancel()
        self._core_done.set()

    def _report_failure(self, exc: BaseException) -> None:
        """Publish RUNTIME_FAILURE (docs/spec/api.md section 5) before run()/serve() raise ``exc``.

        The core is the one that failed, so it cannot decide this event: the runtime offers
        it to every subscriber's queue directly (best-effort, like every event, rule 6).
        """
        with contextlib.suppress(Exception):  # reporting must not hide the failure itself
            state = self.core.state
            event = Event(
                state.seq,
                self._now / NS_PER_S,
                EventKind.RUNTIME_FAILURE,
                reason=describe(exc),
            )
            state.seq += 1
            self.bus.publish(event, tuple(range(len(self.bus.infos))))

    def _abort_replies(self) -> None:
        for pending in self._replies.values():
            pending.wake()
        self._replies.clear()
