"""``tv.Fail``, ``tv.Fatal``, ``tv.Canceled``: what a task raises on purpose.

The contract is docs/spec/api.md section 2.
"""

from __future__ import annotations

import pickle

import pytest

import taskvisor as tv

KINDS = [tv.Fail, tv.Fatal, tv.Canceled]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_reason_and_exit_code_are_carried(kind: type[tv.TaskError]) -> None:
    err = kind("boom", exit_code=75)
    assert (err.reason, err.exit_code, str(err)) == ("boom", 75, "boom")
    assert repr(err) == f"{kind.__name__}('boom', exit_code=75)"
    assert kind().exit_code is None


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("code", ["x", 1.0, True, b"1"])
def test_an_exit_code_that_is_not_an_int_is_a_type_error_naming_it(
    kind: type[tv.TaskError], code: object
) -> None:
    with pytest.raises(TypeError) as info:
        kind("x", exit_code=code)  # type: ignore[arg-type]
    assert isinstance(info.value, tv.ConfigError)
    assert info.value.field == f"{kind.__name__}.exit_code"


def test_a_config_error_survives_pickling_with_its_field() -> None:
    # Sweeps run in worker processes; their errors cross the process boundary.
    for err in (tv.ConfigError("A.b", "bad"), _type_error()):
        back = pickle.loads(pickle.dumps(err))
        assert (type(back), str(back), back.field) == (type(err), str(err), err.field)


def _type_error() -> tv.ConfigError:
    with pytest.raises(tv.ConfigError) as info:
        tv.Fail("x", exit_code="x")  # type: ignore[arg-type]
    return info.value
