"""Checks of what users hand the handle's methods, at the public boundary.

Owns: ``check_task_id``. A wrong type is a ``TypeError`` raised where the user called, never a
``False`` from deep inside (docs/spec/api.md section 4: ``remove("name")`` is a mistake, not
an unknown task). Must not import the driver or a backend.
"""

from __future__ import annotations

from taskvisor.fsm import TaskId

__all__ = ["check_task_id"]


def check_task_id(task_id: object, method: str) -> TaskId:
    """``task_id`` if it is a ``TaskId``; ``TypeError`` naming ``method`` otherwise.

    Args:
        task_id: what the user passed.
        method: the handle method called, e.g. ``"remove"``; a name points to its
            ``*_by_name`` form.
    """
    if type(task_id) is TaskId:
        return task_id
    hint = f"; for a name, call {method}_by_name()" if isinstance(task_id, str) else ""
    raise TypeError(f"{method}() takes a TaskId, got {task_id!r}{hint}")
