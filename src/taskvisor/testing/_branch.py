"""Branching a checked core: an independent copy of ``CheckedCore`` for each successor.

Owns: ``fork_model`` and ``independent_copy``. ``explore`` steps every successor of a state
from a copy of the checked core that reached it, and ``CheckedCore.fork`` and
``ContractModel.fork`` hand out such copies too, so a copy must share nothing mutable with the
original: the state is forked (``state.clone()``), the random source replaced, and the model's
history (dicts, lists, deques and sets of ids, attempts, deadlines, at any depth: a task's
intensity window is a list inside a dict) copied, while the immutable values it holds (events,
specs, ids, outcomes) are shared. What is copied is decided by type, not by attribute name, so
the copy keeps working when the contract model gains fields or parts. Plain Python, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from taskvisor import fsm

__all__ = ["fork_model", "independent_copy"]

_T = TypeVar("_T")


def fork_model(model: _T, draws: object, fork: Callable[[Any], Any]) -> _T:
    """An independent copy of a checked core (``CheckedCore``) that steps with ``draws``.

    Objects of the test kit's own classes, the stepping loop and the builtin containers are
    copied; everything else (the core's immutable values: events, specs, ids) is shared. The
    state is forked with ``fork`` and the random source replaced by ``draws`` wherever the
    model refers to them.
    """
    state: Any = model.state  # type: ignore[attr-defined]
    _COPY_KIND[type(state)] = _STATE
    rng = model.rng  # type: ignore[attr-defined]
    return independent_copy(model, {id(state): fork(state), id(rng): draws})


def independent_copy(value: _T, substitutes: dict[int, Any] | None = None) -> _T:
    """A copy of ``value`` sharing nothing mutable with it, at any depth (see ``fork_model``).

    ``substitutes`` maps ``id(obj)`` to what ``obj`` becomes in the copy (it is used as the
    copy's memo, so it grows).
    """
    copied: _T = _copy(value, {} if substitutes is None else substitutes)
    return copied


_COPY_KIND: dict[type, int] = {}
_SHARE, _DICT, _SEQ, _SET, _OBJECT, _STATE, _TUPLE = range(7)
#: The core's mutable helpers a checked core may hold (its stepping loop and checkers).
_STEPPING = (fsm.Stepper, fsm.InvariantChecker, fsm.CheckerChain)


def _kind(t: type) -> int:
    kind = _COPY_KIND.get(t)
    if kind is None:
        if issubclass(t, dict):
            kind = _DICT
        elif issubclass(t, list | deque):
            kind = _SEQ
        elif t is tuple:  # a plain tuple may hold mutable parts; the core's NamedTuples do not
            kind = _TUPLE
        elif issubclass(t, set):
            kind = _SET
        elif t.__module__.startswith("taskvisor.testing") or issubclass(t, _STEPPING):
            kind = _OBJECT
        else:
            kind = _SHARE
        _COPY_KIND[t] = kind
    return kind


def _shared(types: set[type]) -> bool:
    """Whether values of all these types are shared, not copied (one lookup per type)."""
    for t in types:
        kind = _COPY_KIND.get(t)
        if (kind if kind is not None else _kind(t)) != _SHARE:
            return False
    return True


def _flat(t: type, item: Any) -> bool:
    """Whether ``item`` (of type ``t``) is a set, or a dict or list of shared values only."""
    if t is set:
        return True
    if t is dict:
        return not item or _shared(set(map(type, item.values())))
    return t is list and (not item or _shared(set(map(type, item))))


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    kind = _COPY_KIND.get(type(value))
    if kind is None:
        kind = _kind(type(value))
    if kind == _SHARE:
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    if kind == _TUPLE:  # shared unless it holds something to copy (a checker chain's checkers)
        if _shared(set(map(type, value))):
            return value
        items = [_copy(item, memo) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value  # only immutable tuples inside (a log entry and its effects)
        new: Any = tuple(items)
    elif kind == _SET:
        new = value.copy()
    elif kind == _SEQ:
        new = value.copy()
        if not _shared(set(map(type, value))):
            for i, item in enumerate(value):
                new[i] = _copy(item, memo)
    elif kind == _DICT:
        new = value.copy()
        if not _shared(set(map(type, value.values()))):
            for k, item in value.items():
                new[k] = _copy(item, memo)
    elif kind == _STATE:  # a state the memo does not know: not the model's own; keep it
        new = value
    else:
        cls: Any = type(value)
        new = cls.__new__(cls)
        memo[id(value)] = new
        has_dict, slots = _layout(cls)
        if has_dict:
            fields = vars(value).copy()
            for name, item in fields.items():
                t = type(item)
                if t in _PLAIN:
                    continue
                # The common cases inline (a checked core has ~40 containers): a dict or list
                # of immutable values is copied shallowly, a set always is.
                if id(item) in memo:
                    fields[name] = memo[id(item)]
                elif _flat(t, item):
                    fields[name] = memo[id(item)] = item.copy()
                else:
                    fields[name] = _copy(item, memo)
            vars(new).update(fields)
        for name in slots:
            item = getattr(value, name, _UNSET)
            if item is not _UNSET:
                object.__setattr__(new, name, _copy(item, memo))
        return new
    memo[id(value)] = new
    return new


_LAYOUTS: dict[type, tuple[bool, tuple[str, ...]]] = {}
_UNSET = object()


def _layout(cls: type) -> tuple[bool, tuple[str, ...]]:
    """Whether instances of ``cls`` have a ``__dict__``, and their slot names (cached)."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        slots = tuple(
            name
            for klass in cls.__mro__
            for name in getattr(klass, "__slots__", ())
            if name not in ("__dict__", "__weakref__")
        )
        layout = _LAYOUTS[cls] = (hasattr(cls, "__dict__") and "__dict__" in dir(cls), slots)
    return layout


#: Attribute values copied by reference without a lookup (the common immutable scalars).
_PLAIN = frozenset({int, str, bool, float, type(None)})
