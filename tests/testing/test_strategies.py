"""``taskvisor.testing.strategies``: every drawn value is valid and within its bounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taskvisor import fsm
from taskvisor.fsm import INHERIT, NS_PER_S, BackoffPolicy, RestartMode, TaskSpec
from taskvisor.fsm._backoff import RetryStreak, next_delay_ns
from taskvisor.testing import strategies


@given(strategies.backoff_policies(max_delay=1.5), st.integers(0, 100), st.floats(0, 1))
def test_backoff_policies_keep_every_delay_within_max_delay(
    policy: BackoffPolicy, n: int, u: float
) -> None:
    delay, _ = next_delay_ns(policy, RetryStreak(n, None), u)
    assert 0 <= delay <= policy.ceiling_ns <= round(1.5 * NS_PER_S)


@given(strategies.durations(2.0, min_seconds=0.5))
def test_durations_round_trip_to_whole_nanoseconds(seconds: float) -> None:
    ns = fsm.to_ns(seconds, "d")
    assert round(0.5 * NS_PER_S) <= ns <= 2 * NS_PER_S
    assert ns / NS_PER_S == seconds


@given(strategies.task_specs(inherit=False))
def test_task_specs_without_inherit_decide_every_field(spec: TaskSpec) -> None:
    assert INHERIT not in (spec.restart, spec.backoff, spec.timeout, spec.max_retries)
    assert spec.name in strategies.NAMES


@given(strategies.task_specs(restarts=st.just(fsm.RestartPolicy.NEVER)))
def test_task_specs_take_the_callers_policies(spec: TaskSpec) -> None:
    assert spec.restart in (INHERIT, fsm.RestartPolicy.NEVER)


@given(strategies.restart_policies(max_interval=1.0))
def test_restart_policies_cover_the_three_modes(policy: fsm.RestartPolicy) -> None:
    assert policy.mode in RestartMode
    assert policy.interval_ns <= NS_PER_S


@given(strategies.core_configs(controller=True, max_subscribers=2))
def test_core_configs_respect_their_bounds(config: fsm.CoreConfig) -> None:
    assert config.controller is not None
    assert 1 <= config.controller.max_slot_queue <= 3
    assert len(config.subscribers) <= 2
    assert all(1 <= s.capacity <= 4 for s in config.subscribers)
    assert config.max_concurrent is None or 1 <= config.max_concurrent <= 3
    assert config.grace_ns <= 2 * NS_PER_S


@given(strategies.core_configs(controller=False))
def test_core_configs_without_a_controller(config: fsm.CoreConfig) -> None:
    assert config.controller is None


@given(strategies.controller_specs())
def test_controller_specs_name_a_slot(cspec: fsm.ControllerSpec) -> None:
    assert cspec.slot in ("s0", "s1", cspec.task_spec.name)
    assert cspec.admission in fsm.AdmissionPolicy


@given(st.data())
def test_input_scripts_use_fresh_ids_and_move_time_forward(data: st.DataObject) -> None:
    config = data.draw(strategies.core_configs(controller=True))
    script = data.draw(strategies.input_scripts(config, max_steps=20))
    assert len(script) <= 20
    ids = [
        tid
        for _, inp in script
        for tid in (
            [t for t, _ in inp.items]
            if isinstance(inp, fsm.AddTasks)
            else [inp.task_id]
            if isinstance(inp, fsm.Submit)
            else []
        )
    ]
    assert len(ids) == len(set(ids))
    assert all(advance >= 0 for advance, _ in script)
