"""Whole input scripts through the checked core: every step checked, and determinism (I8).

``strategies.input_scripts`` draws scripts of arbitrary inputs (unknown and stale ids included)
that the runtime could feed; ``CheckedCore.play`` runs them under every check, and the same
script with the same seed must give the same trace, bit for bit.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from taskvisor.fsm import CoreConfig
from taskvisor.testing import CheckedCore, strategies


@st.composite
def configs_and_scripts(draw: st.DrawFn) -> tuple[CoreConfig, list[strategies.ScriptStep]]:
    config = draw(strategies.core_configs())
    return config, draw(strategies.input_scripts(config, max_steps=40))


@settings(max_examples=100)
@given(configs_and_scripts(), st.integers(0, 2**32 - 1))
def test_any_script_keeps_every_invariant_and_replays_identically(
    case: tuple[CoreConfig, list[strategies.ScriptStep]], seed: int
) -> None:
    config, script = case
    runs = []
    for _ in range(2):
        core = CheckedCore(config, random.Random(seed))
        core.play(script)
        core.drain()
        core.verify()
        runs.append(core)
    first, second = runs
    assert first.events == second.events  # I8: same seed, same script, same trace
    assert [(now, inp) for now, inp, _ in first.log] == [(now, inp) for now, inp, _ in second.log]
    assert first.outcomes == second.outcomes
