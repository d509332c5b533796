"""Random input scripts for the supervisor machine, as plain data (for invariants and I8).

A script is a tuple of commands that do not depend on the state: "end the k-th running attempt
with FAILED" is resolved against the state when it is played. So one script can be replayed
with any seed, and Hypothesis can shrink it. ``play`` feeds it through ``Driver`` (which checks
every step) and then shuts the supervisor down and drives it until every task is gone.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from taskvisor import BackoffPolicy, JitterPolicy, RestartPolicy, TaskSpec
from taskvisor.fsm import (
    AttemptEnded,
    EndKind,
    EventsConsumed,
    Phase,
    ShutdownDone,
    SubscriberInfo,
    SubscriberPanicked,
    TaskId,
)

from .driver import Driver, fn, s

__all__ = ["Config", "Script", "configs", "play", "scripts", "specs"]

Command = tuple[Any, ...]
Script = tuple[Command, ...]
Config = dict[str, Any]

BACKOFFS = [
    BackoffPolicy.constant(0),
    BackoffPolicy.constant(0.5),
    BackoffPolicy.exponential(0.1, 2.0, 1.0),
    BackoffPolicy(first=0.1, max=2.0, jitter=JitterPolicy.FULL),
    BackoffPolicy(first=0.1, max=2.0, jitter=JitterPolicy.EQUAL),
    BackoffPolicy(first=0.2, max=3.0, jitter=JitterPolicy.DECORRELATED, floor=0.3),
]
RESTARTS = [
    RestartPolicy.NEVER,
    RestartPolicy.ON_FAILURE,
    RestartPolicy.always(),
    RestartPolicy.always(0.4),
]

specs = st.builds(
    lambda name, restart, backoff, timeout, retries: TaskSpec(
        fn(name), restart=restart, backoff=backoff, timeout=timeout, max_retries=retries
    ),
    st.sampled_from("abcdefghij"),
    st.sampled_from(RESTARTS),
    st.sampled_from(BACKOFFS),
    st.sampled_from([None, 0.7, 2.0]),
    st.sampled_from([None, 1, 2]),
)

batch = st.one_of(st.lists(specs, min_size=1, max_size=1), st.lists(specs, min_size=2, max_size=3))
add = st.tuples(st.just("add"), batch.map(tuple))
end = st.tuples(st.just("end"), st.integers(0, 7), st.sampled_from(EndKind))
tick = st.just(("tick",))
advance = st.tuples(st.just("advance"), st.sampled_from([1, 10**6, 10**8, 5 * 10**8, 3 * 10**9]))
remove = st.one_of(
    st.tuples(st.just("remove id"), st.integers(0, 15)),
    st.tuples(st.just("remove name"), st.sampled_from("abcdefghijk")),
)
rare = st.one_of(
    st.tuples(st.just("stale"), st.integers(0, 7), st.sampled_from([-1, 1])),
    st.tuples(st.just("panic"), st.integers(0, 1)),
    st.tuples(st.just("consume"), st.integers(0, 1), st.integers(0, 8)),
)
# one_of picks a branch uniformly: repeating a branch weights it (adds and ends are the life).
commands = st.one_of(add, add, end, end, end, tick, tick, advance, remove, rare)
after_shutdown = st.one_of(end, end, tick, advance, remove, add, rare)

#: A main phase, a shutdown, then what may still happen while it is in progress.
scripts = st.builds(
    lambda main, post: (*main, ("shutdown",), *post),
    st.lists(commands, min_size=8, max_size=50),
    st.lists(after_shutdown, max_size=10),
)

configs = st.fixed_dictionaries(
    {
        "grace": st.sampled_from([0.0, 0.5, 2.0]),
        "force_wait": st.sampled_from([0.0, 0.3]),
        "max_concurrent": st.sampled_from([None, 1, 2]),
        "capacities": st.sampled_from([(1024,), (3, 1024), (2, 1)]),
        "auto_ack": st.booleans(),
    }
)


def driver_for(config: Config, seed: int) -> Driver:
    subs = [SubscriberInfo(f"sub{i}", cap) for i, cap in enumerate(config["capacities"])]
    return Driver.make(
        grace=config["grace"],
        force_wait=config["force_wait"],
        max_concurrent=config["max_concurrent"],
        subscribers=subs,
        seed=seed,
        auto_ack=config["auto_ack"],
    )


_HOLDING = (Phase.RUNNING, Phase.STOPPING)


def holding(d: Driver) -> list[TaskId]:
    """Tasks whose attempt runs (RUNNING or STOPPING), by id."""
    return sorted(
        t.id for t in d.state.tasks.values() if t.phase in (Phase.RUNNING, Phase.STOPPING)
    )


def step_command(d: Driver, cmd: Command) -> None:
    """Resolve one command against the current state and feed it."""
    kind = cmd[0]
    if kind == "add":
        d.add_batch(cmd[1])
    elif kind == "end":
        live = holding(d)
        if live:
            d.end(live[cmd[1] % len(live)], cmd[2], "scripted")
    elif kind == "stale":
        live = holding(d)
        if live:
            tid = live[cmd[1] % len(live)]
            d.feed(AttemptEnded(tid, d.state.tasks[tid].attempt + cmd[2], EndKind.FAILED))
    elif kind == "remove id":
        d.remove(TaskId(1 + cmd[1]))
    elif kind == "remove name":
        d.remove(name=cmd[1])
    elif kind == "tick":
        if d.next_deadline() is not None:
            d.fire_next()
    elif kind == "advance":
        d.advance(cmd[1] / 1e9)
    elif kind == "shutdown":
        if d.state.shutdown is None:
            d.shutdown()
    elif kind == "panic":
        index = cmd[1] % len(d.state.config.subscribers)
        d.feed(SubscriberPanicked(index, "scripted"))
    elif kind == "consume":
        index = cmd[1] % len(d.state.config.subscribers)
        d.feed(EventsConsumed(index, min(cmd[2], d.state.bus.depths[index])))
    else:  # pragma: no cover - the strategy makes no other command
        raise AssertionError(cmd)


def play(config: Config, script: Script, seed: int) -> Driver:
    """Play ``script``, then shut down and drive until every task is gone (I7 bound checked)."""
    d = driver_for(config, seed)
    for cmd in script:
        step_command(d, cmd)
    if d.state.shutdown is None:
        d.shutdown()
    sd = d.state.shutdown
    assert sd is not None
    bound = sd.requested_at + s(config["grace"]) + s(config["force_wait"])
    while d.state.tasks:
        d.fire_next()  # after shutdown every live task is STOPPING, with a deadline
    assert d.state.shutdown is not None
    assert d.state.shutdown.done
    done_at = [
        now for now, _, effects in d.log if any(isinstance(e, ShutdownDone) for e in effects)
    ]
    assert len(done_at) == 1
    assert done_at[0] <= bound  # I7
    return d
