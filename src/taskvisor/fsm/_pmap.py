"""Persistent hash map: an immutable, structurally shared ``Mapping`` for the pure core.

Owns: ``PMap``, the hash array mapped trie (HAMT) that the core's registry is stored in. Each
``set``/``delete`` returns a new map sharing every untouched node with the old one, so a
transition costs O(log32 n) path copying instead of an O(n) dict copy, and every earlier
version stays valid and unchanged. Must not import anything that does I/O (standard library
data structures only).

Node layout (plain lists, for speed; never mutated once reachable from a ``PMap``):

* A bitmap node is ``[bitmap, k0, v0, k1, v1, ...]``. It covers 5 bits of the hash at its
  depth; bit ``i`` of ``bitmap`` is set when slot ``i`` is used, and the used slots are stored
  in descending slot order, so slot ``i`` sits at list index ``2 * popcount(bitmap >> i) - 1``
  (one shift and one popcount per level, fewer bytecodes than masking the bits below ``i``).
* In a slot, a key that is the ``_SUB`` marker means the value is a child bitmap node one level
  down; a key that is the ``_COLL`` marker means the value is a collision bucket
  ``[full_hash, k0, v0, k1, v1, ...]`` of two or more keys whose full hashes are equal.
  Any other key is a real entry.
* Canonical shape: below the root, a bitmap node never holds just one entry unless that entry
  is a ``_SUB`` child; deletions fold such single entries back into the parent slot.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Any, Final, TypeVar, final, overload

__all__ = ["PMap"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

# The hot paths below spell out the trie's 5-bit step and 0b11111 mask as literals (5, 31).


@final
class _Marker:
    """A unique sentinel with a readable repr (never equal to anything but itself)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_SUB: Final = _Marker("<sub-node>")
_COLL: Final = _Marker("<collision>")
_MISSING: Final = _Marker("<missing>")

_Node = list[Any]


def _pair(shift: int, h1: int, k1: Any, v1: Any, h2: int, k2: Any, v2: Any) -> _Node:
    """A bitmap node at depth ``shift`` holding two slots whose full hashes differ."""
    b1 = (h1 >> shift) & 31
    b2 = (h2 >> shift) & 31
    if b1 == b2:
        return [1 << b1, _SUB, _pair(shift + 5, h1, k1, v1, h2, k2, v2)]
    if b1 > b2:  # descending slot order
        return [(1 << b1) | (1 << b2), k1, v1, k2, v2]
    return [(1 << b1) | (1 << b2), k2, v2, k1, v1]


def _coll_find(coll: _Node, key: object) -> int:
    """Index of ``key`` in a collision bucket, or -1."""
    for i in range(1, len(coll), 2):
        k = coll[i]
        if k is key or k == key:
            return i
    return -1


def _lookup(root: _Node, key: object) -> Any:
    """The value stored under ``key``, or ``_MISSING``. (Inlined again in ``__getitem__``.)"""
    h = hash(key)
    node = root
    hh = h  # the hash bits still to consume, 5 per level
    while True:
        b = node[0] >> (hh & 31)
        if not b & 1:
            return _MISSING
        vi = 2 * b.bit_count()  # index of the slot's value; its key sits just before
        k = node[vi - 1]
        if k is not _SUB:
            break
        node = node[vi]
        hh >>= 5
    if k is key:
        return node[vi]
    if k is _COLL:
        coll = node[vi]
        i = _coll_find(coll, key) if coll[0] == h else -1
        return _MISSING if i < 0 else coll[i + 1]
    if k == key:
        return node[vi]
    return _MISSING


def _iter_keys(node: _Node) -> Iterator[Any]:
    for i in range(1, len(node), 2):
        k = node[i]
        if k is _SUB:
            yield from _iter_keys(node[i + 1])
        elif k is _COLL:
            yield from node[i + 1][1::2]
        else:
            yield k


def _iter_values(node: _Node) -> Iterator[Any]:
    for i in range(1, len(node), 2):
        k = node[i]
        if k is _SUB:
            yield from _iter_values(node[i + 1])
        elif k is _COLL:
            yield from node[i + 1][2::2]
        else:
            yield node[i + 1]


def _iter_items(node: _Node) -> Iterator[tuple[Any, Any]]:
    for i in range(1, len(node), 2):
        k = node[i]
        if k is _SUB:
            yield from _iter_items(node[i + 1])
        elif k is _COLL:
            coll = node[i + 1]
            yield from zip(coll[1::2], coll[2::2], strict=True)
        else:
            yield k, node[i + 1]


class _PMapItems(ItemsView[K, V]):
    __slots__ = ()
    _mapping: PMap[K, V]

    def __iter__(self) -> Iterator[tuple[K, V]]:
        return _iter_items(self._mapping._root)


class _PMapValues(ValuesView[V]):
    __slots__ = ()
    _mapping: PMap[Any, V]

    def __iter__(self) -> Iterator[V]:
        return _iter_values(self._mapping._root)


_new = object.__new__


@final
class PMap(Mapping[K, V]):
    """An immutable hash map; ``set``/``delete``/``update`` return new maps sharing structure.

    ``len`` is O(1); lookups and updates are O(log32 n). Equality is by content with any
    ``Mapping``. The hash is by content and order-independent (the values must be hashable
    too), so a frozen attrs class holding a ``PMap`` stays hashable.

    Iteration order follows the key hashes, not insertion order: it is reproducible for keys
    whose hashes are (ints, tuples and attrs classes of ints), but for ``str``/``bytes`` keys it
    changes with ``PYTHONHASHSEED``; sort where a deterministic order matters.
    """

    __slots__ = ("_hash", "_root", "_size")

    _root: _Node
    _size: int
    _hash: int | None

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._root = _EMPTY_ROOT
        self._size = 0
        self._hash = None
        if items:
            built = self.update(items)
            self._root = built._root
            self._size = built._size

    @classmethod
    def empty(cls) -> PMap[K, V]:
        """The shared empty map."""
        return _EMPTY

    @classmethod
    def from_items(cls, items: Mapping[K, V] | Iterable[tuple[K, V]]) -> PMap[K, V]:
        """A map holding ``items`` (a mapping or pairs); later duplicates win, as in ``dict``."""
        return _EMPTY.update(items)

    @staticmethod
    def _make(root: _Node, size: int) -> PMap[Any, Any]:
        m: PMap[Any, Any] = _new(PMap)
        m._root = root
        m._size = size
        m._hash = None
        return m

    # -- persistent updates ------------------------------------------------------------------

    def set(self, key: K, value: V) -> PMap[K, V]:
        """A map with ``key`` bound to ``value``; ``self`` if it already was (by identity)."""
        root, added = _assoc(self._root, hash(key), key, value)
        if root is None:
            return self
        return PMap._make(root, self._size + added)

    def discard(self, key: K) -> PMap[K, V]:
        """A map without ``key``; ``self`` if ``key`` is absent."""
        root = _dissoc(self._root, hash(key), key)
        if root is None:
            return self
        if self._size == 1:
            return _EMPTY
        return PMap._make(root, self._size - 1)

    def delete(self, key: K) -> PMap[K, V]:
        """A map without ``key``; raises ``KeyError`` if ``key`` is absent."""
        root = _dissoc(self._root, hash(key), key)
        if root is None:
            raise KeyError(key)
        if self._size == 1:
            return _EMPTY
        return PMap._make(root, self._size - 1)

    def update(self, items: Mapping[K, V] | Iterable[tuple[K, V]]) -> PMap[K, V]:
        """A map with every pair of ``items`` (a mapping or ``(key, value)`` pairs) set."""
        pairs = items.items() if isinstance(items, Mapping) else items
        root = self._root
        size = self._size
        for key, value in pairs:
            new_root, added = _assoc(root, hash(key), key, value)
            if new_root is not None:
                root = new_root
                size += added
        if root is self._root:
            return self
        return PMap._make(root, size)

    # -- Mapping protocol --------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        # The body of ``_lookup``, inlined: this is the hottest path of the registry.
        h = hash(key)
        node = self._root
        hh = h
        while True:
            b = node[0] >> (hh & 31)
            if not b & 1:
                raise KeyError(key)
            vi = 2 * b.bit_count()
            k = node[vi - 1]
            if k is not _SUB:
                break
            node = node[vi]
            hh >>= 5
        if k is key:
            return node[vi]  # type: ignore[no-any-return]
        if k is _COLL:
            coll = node[vi]
            i = _coll_find(coll, key) if coll[0] == h else -1
            if i < 0:
                raise KeyError(key)
            return coll[i + 1]  # type: ignore[no-any-return]
        if k == key:
            return node[vi]  # type: ignore[no-any-return]
        raise KeyError(key)

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V | T, /) -> V | T: ...
    def get(self, key: K, default: object = None, /) -> object:
        """The value for ``key``, or ``default``."""
        v = _lookup(self._root, key)
        return default if v is _MISSING else v

    def __contains__(self, key: object) -> bool:
        return _lookup(self._root, key) is not _MISSING

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size != 0

    def __iter__(self) -> Iterator[K]:
        return _iter_keys(self._root)

    def items(self) -> ItemsView[K, V]:
        return _PMapItems(self)

    def values(self) -> ValuesView[V]:
        return _PMapValues(self)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(other) != self._size:
            return False
        if isinstance(other, PMap):
            if other._root is self._root:
                return True
            if self._hash is not None and other._hash is not None and self._hash != other._hash:
                return False
            root = other._root
            for k, v in _iter_items(self._root):
                w = _lookup(root, k)
                if w is not v and (w is _MISSING or w != v):
                    return False
            return True
        for k, v in _iter_items(self._root):
            w = other.get(k, _MISSING)
            if w is not v and (w is _MISSING or w != v):
                return False
        return True

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash(frozenset(_iter_items(self._root)))
        return h

    def __repr__(self) -> str:
        body = ", ".join(f"{k!r}: {v!r}" for k, v in _iter_items(self._root))
        return f"PMap({{{body}}})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from pairs: the nodes hold process-local marker objects.
        return (PMap.from_items, (list(_iter_items(self._root)),))


def _assoc(root: _Node, h: int, key: Any, val: Any) -> tuple[_Node | None, bool]:
    """Path-copy ``root`` with ``key -> val``: ``(new root, whether the size grew)``.

    The new root is ``None`` when ``key`` is already bound to ``val`` (by identity).
    """
    node = root
    path: list[Any] = []  # parent node, slot index, parent node, slot index, ...
    shift = 0
    while True:
        bitmap = node[0]
        b = bitmap >> ((h >> shift) & 31)
        if not b & 1:
            idx = 2 * b.bit_count() + 1
            new = node.copy()
            new[0] = bitmap | (1 << ((h >> shift) & 31))
            new.insert(idx, val)
            new.insert(idx, key)
            added = True
            break
        idx = 2 * b.bit_count() - 1
        k = node[idx]
        if k is _SUB:
            path.append(node)
            path.append(idx)
            node = node[idx + 1]
            shift += 5
            continue
        v = node[idx + 1]
        new = node.copy()
        if k is key or (k is not _COLL and k == key):
            if v is val:
                return None, False
            new[idx + 1] = val
            added = False
        elif k is _COLL:
            ch = v[0]
            if ch != h:
                new[idx] = _SUB
                new[idx + 1] = _pair(shift + 5, ch, _COLL, v, h, key, val)
                added = True
            else:
                i = _coll_find(v, key)
                if i < 0:
                    new[idx + 1] = [*v, key, val]
                    added = True
                elif v[i + 1] is val:
                    return None, False
                else:
                    coll = v.copy()
                    coll[i + 1] = val
                    new[idx + 1] = coll
                    added = False
        else:
            kh = hash(k)
            if kh == h:
                new[idx] = _COLL
                new[idx + 1] = [h, k, v, key, val]
            else:
                new[idx] = _SUB
                new[idx + 1] = _pair(shift + 5, kh, k, v, h, key, val)
            added = True
        break
    while path:
        idx = path.pop()
        parent = path.pop().copy()
        parent[idx + 1] = new
        new = parent
    return new, added


def _dissoc(root: _Node, h: int, key: Any) -> _Node | None:
    """Path-copy ``root`` without ``key``; ``None`` if ``key`` is absent.

    If the last key goes, the returned root is empty or stale; callers check the size.
    """
    node = root
    path: list[Any] = []
    shift = 0
    while True:
        bitmap = node[0]
        b = bitmap >> ((h >> shift) & 31)
        if not b & 1:
            return None
        idx = 2 * b.bit_count() - 1
        k = node[idx]
        if k is _SUB:
            path.append(node)
            path.append(idx)
            node = node[idx + 1]
            shift += 5
            continue
        if k is _COLL:
            coll = node[idx + 1]
            i = _coll_find(coll, key) if coll[0] == h else -1
            if i < 0:
                return None
            new = node.copy()
            if len(coll) == 5:  # two keys: the survivor becomes a plain entry
                j = 4 - i
                new[idx] = coll[j]
                new[idx + 1] = coll[j + 1]
            else:
                new[idx + 1] = coll[:i] + coll[i + 2 :]
            break
        if not (k is key or k == key):
            return None
        new = node.copy()
        new[0] = bitmap ^ (1 << ((h >> shift) & 31))
        del new[idx : idx + 2]
        break
    while path:
        idx = path.pop()
        parent = path.pop().copy()
        if len(new) == 3 and new[1] is not _SUB:
            # A single entry (plain or collision bucket) left below: fold it into this slot.
            parent[idx] = new[1]
            parent[idx + 1] = new[2]
        else:
            parent[idx + 1] = new
        new = parent
    return new


_EMPTY_ROOT: Final[_Node] = [0]
_EMPTY: Final[PMap[Any, Any]] = PMap._make(_EMPTY_ROOT, 0)
