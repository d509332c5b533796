"""A persistent min-heap of deadlines (a pairing heap with shared structure).

Owns: ``TimerHeap``, the core's one ordered store of deadlines (backoff, attempt timeout, grace,
force-wait). Entries are invalidated lazily: the supervisor machine pops an entry whose token no
longer matches its task. Insert is O(1); pop is amortised O(log n). Must not import I/O.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["TimerHeap"]

T = TypeVar("T", bound=Hashable)


class _Cons:
    __slots__ = ("head", "tail")

    def __init__(self, head: _Node, tail: _Cons | None) -> None:
        self.head = head
        self.tail = tail


class _Node:
    __slots__ = ("item", "key", "kids")

    def __init__(self, key: tuple[int, int], item: object, kids: _Cons | None) -> None:
        self.key = key
        self.item = item
        self.kids = kids


def _meld(a: _Node, b: _Node) -> _Node:
    if a.key <= b.key:
        return _Node(a.key, a.item, _Cons(b, a.kids))
    return _Node(b.key, b.item, _Cons(a, b.kids))


def _meld_pairs(kids: _Cons | None) -> _Node | None:
    pairs: list[_Node] = []
    while kids is not None:
        first = kids.head
        kids = kids.tail
        if kids is None:
            pairs.append(first)
            break
        pairs.append(_meld(first, kids.head))
        kids = kids.tail
    if not pairs:
        return None
    root = pairs.pop()
    while pairs:
        root = _meld(pairs.pop(), root)
    return root


class TimerHeap(Generic[T]):
    """Immutable min-heap of ``(deadline_ns, token) -> item``; ties break on the token (FIFO)."""

    __slots__ = ("_root", "_size")

    def __init__(self, root: _Node | None = None, size: int = 0) -> None:
        self._root = root
        self._size = size

    def push(self, deadline: int, token: int, item: T) -> TimerHeap[T]:
        """A heap with one more entry."""
        node = _Node((deadline, token), item, None)
        root = node if self._root is None else _meld(self._root, node)
        return TimerHeap(root, self._size + 1)

    def peek(self) -> tuple[int, int, T] | None:
        """The earliest ``(deadline, token, item)``, or None when empty."""
        root = self._root
        if root is None:
            return None
        item: T = root.item  # type: ignore[assignment]
        return root.key[0], root.key[1], item

    def pop(self) -> TimerHeap[T]:
        """The heap without its earliest entry."""
        root = self._root
        if root is None:
            raise IndexError("pop from an empty TimerHeap")
        return TimerHeap(_meld_pairs(root.kids), self._size - 1)

    def __len__(self) -> int:
        return self._size

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"TimerHeap(size={self._size}, next={self.peek()!r})"
