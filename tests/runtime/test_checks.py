"""``check_task_id``: the handle's ``remove``/``cancel`` refuse what is not a ``TaskId``."""

from __future__ import annotations

import pytest

import taskvisor as tv
from taskvisor.runtime._checks import check_task_id


def test_a_task_id_passes_through() -> None:
    tid = tv.TaskId(3)
    assert check_task_id(tid, "remove") is tid


@pytest.mark.parametrize("value", [5, None, 3.0, ("x",), object()])
def test_anything_else_is_a_type_error_naming_the_method(value: object) -> None:
    with pytest.raises(TypeError, match=r"^cancel\(\) takes a TaskId, got ") as info:
        check_task_id(value, "cancel")
    assert "by_name" not in str(info.value)


def test_a_name_points_to_the_by_name_form() -> None:
    with pytest.raises(TypeError, match=r"call remove_by_name\(\)"):
        check_task_id("poller", "remove")
