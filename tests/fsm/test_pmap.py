"""Tests for ``taskvisor.fsm._pmap``: the persistent hash map behind the core's registry."""

from __future__ import annotations

import copy
import pickle
import random
import types
from collections.abc import Hashable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor.fsm._pmap import _COLL, _SUB, PMap


class Collider:
    """A key with a chosen hash, so tests can force full and partial hash collisions."""

    __slots__ = ("h", "name")

    def __init__(self, name: int, h: int) -> None:
        self.name = name
        self.h = h

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collider):
            return NotImplemented
        return self.name == other.name and self.h == other.h

    def __repr__(self) -> str:
        return f"Collider({self.name}, {self.h:#x})"


# Hashes that share low bits, differ only in high bits (deepest trie levels, including the sign
# bit), and equal the hashes of small ints (hash(-1) == hash(-2) == -2 collides for free).
HASHES = [
    0,
    1,
    -2,
    31,
    32,
    33,
    7,
    7 + (1 << 35),
    7 + (1 << 60),
    7 - (1 << 63),
    (1 << 40) | 1,
    -(1 << 62),
]


def check_invariants(m: PMap[Any, Any]) -> None:
    """Walk the trie and assert its layout: bitmaps, slot order, hash paths, canonical shape."""
    count = 0

    def path_ok(h: int, slots: list[int]) -> bool:
        return all((h >> (5 * depth)) & 31 == s for depth, s in enumerate(slots))

    def walk(node: list[Any], slots: list[int]) -> None:
        nonlocal count
        bitmap = node[0]
        assert isinstance(bitmap, int)
        assert 0 <= bitmap < (1 << 32)
        used = [s for s in range(31, -1, -1) if bitmap >> s & 1]  # descending slot order
        assert len(node) == 2 * len(used) + 1
        if slots:  # below the root: never a lone plain entry or lone collision bucket
            assert len(used) >= 2 or node[1] is _SUB
        for n, s in enumerate(used):
            k, v = node[2 * n + 1], node[2 * n + 2]
            here = [*slots, s]
            if k is _SUB:
                assert isinstance(v, list)
                walk(v, here)
            elif k is _COLL:
                chash = v[0]
                keys = v[1::2]
                assert len(v) % 2 == 1
                assert len(keys) >= 2
                assert all(hash(key) == chash for key in keys)
                assert len(set(keys)) == len(keys)
                assert path_ok(chash, here)
                count += len(keys)
            else:
                assert path_ok(hash(k), here)
                count += 1

    walk(m._root, [])
    assert count == len(m)


def assert_same(m: PMap[Any, Any], d: dict[Any, Any]) -> None:
    assert m == d
    assert d == m
    assert (m != d) is False
    assert len(m) == len(d)
    assert bool(m) == bool(d)
    keys = list(m)
    assert len(keys) == len(d)
    assert set(keys) == set(d)
    items = list(m.items())
    assert len(items) == len(d)
    assert dict(items) == d
    assert sorted(map(repr, m.values())) == sorted(map(repr, d.values()))
    for k, v in d.items():
        assert k in m
        assert m[k] == v
        assert m.get(k) == v
        twin = equal_twin(k)  # an equal key that is not the stored object
        assert twin in m
        assert m[twin] == v
        assert m.get(twin) == v
    check_invariants(m)


def equal_twin(key: Hashable) -> Hashable:
    """A distinct object equal to ``key`` (where the type allows one), for ``==`` lookups."""
    if isinstance(key, Collider):
        return Collider(key.name, key.h)
    if isinstance(key, str):
        return "".join(["", *key])
    if isinstance(key, int):
        return float(key) if abs(key) < 2**53 else int(str(key))
    return key


# -- unit tests ------------------------------------------------------------------------------


def test_empty() -> None:
    e: PMap[int, str] = PMap()
    assert len(e) == 0
    assert not e
    assert e == {}
    assert list(e) == []
    assert PMap.empty() is PMap.empty()
    assert PMap.empty() == e
    assert repr(e) == "PMap({})"
    assert hash(e) == hash(PMap.empty())
    assert e.get(1) is None
    assert 1 not in e
    with pytest.raises(KeyError):
        e[1]


def test_set_get_contains() -> None:
    m0: PMap[Hashable, str] = PMap.empty()
    m1 = m0.set(1, "a")
    m2 = m1.set("x", "b").set(None, "n")
    assert m1[1] == "a"
    assert m2[None] == "n"
    assert m2["x"] == "b"
    assert m2.get("missing", "dflt") == "dflt"
    assert "x" in m2
    assert "x" not in m1
    assert len(m0) == 0
    assert len(m1) == 1
    assert len(m2) == 3
    with pytest.raises(KeyError):
        m1["x"]


def test_set_existing_identical_value_returns_self() -> None:
    value = object()
    m = PMap[str, object].empty().set("k", value)
    assert m.set("k", value) is m
    equal_not_identical = [1, 2]
    m2 = PMap[str, list[int]].empty().set("k", [1, 2])
    m3 = m2.set("k", equal_not_identical)
    assert m3 is not m2
    assert m3["k"] is equal_not_identical


def test_overwrite_keeps_len_and_old_version() -> None:
    m1 = PMap.from_items([(1, "a"), (2, "b")])
    m2 = m1.set(1, "z")
    assert len(m2) == 2
    assert m2[1] == "z"
    assert m1[1] == "a"


def test_lookup_by_equal_but_distinct_key() -> None:
    big = 10**30
    m = PMap.from_items([(big, "big"), ("task-1", "s"), (Collider(1, 9), "c")])
    assert m[int(str(big))] == "big"
    assert m["-".join(["task", "1"])] == "s"
    assert m[Collider(1, 9)] == "c"
    assert m.get(Collider(1, 9)) == "c"
    assert Collider(1, 9) in m
    assert m.delete(Collider(1, 9)) == {big: "big", "task-1": "s"}


def test_dict_key_semantics() -> None:
    # 1, 1.0 and True are one key in a dict; they are one key here too.
    m = PMap[float, str].empty().set(1, "int").set(1.0, "float").set(True, "bool")
    assert len(m) == 1
    assert m[1] == "bool"
    assert dict(m) == {1: "bool"}


def test_delete_and_discard() -> None:
    m = PMap.from_items([(1, "a"), (2, "b")])
    m1 = m.delete(1)
    assert m1 == {2: "b"}
    assert m == {1: "a", 2: "b"}
    with pytest.raises(KeyError):
        m1.delete(1)
    assert m1.discard(1) is m1
    assert m1.discard(2) is PMap.empty()
    assert m1.delete(2) is PMap.empty()


def test_from_items_update_and_constructor() -> None:
    m = PMap.from_items([(1, "a"), (2, "b"), (1, "c")])
    assert m == {1: "c", 2: "b"}
    assert PMap.from_items({3: "x"}) == {3: "x"}
    assert PMap({3: "x"}) == {3: "x"}
    assert PMap([(3, "x")]) == {3: "x"}
    assert PMap(iter([(3, "x")])) == {3: "x"}
    m2 = m.update({2: "B", 5: "e"})
    assert m2 == {1: "c", 2: "B", 5: "e"}
    assert m.update([(9, "i")]) == {1: "c", 2: "b", 9: "i"}
    assert m.update([]) is m
    assert m.update({1: m[1]}) is m
    assert m == {1: "c", 2: "b"}


def test_equality() -> None:
    m = PMap.from_items([(1, "a"), (2, "b")])
    other_order = PMap.from_items([(2, "b"), (1, "a")])
    assert m == other_order
    assert m == {1: "a", 2: "b"}
    assert m == types.MappingProxyType({1: "a", 2: "b"})
    assert m != {1: "a", 2: "c"}
    assert m != {1: "a", 3: "b"}
    assert m != {1: "a"}
    assert m != m.set(2, "c")
    assert m != [(1, "a"), (2, "b")]
    assert m.__eq__(42) is NotImplemented
    missing_vs_none = PMap.from_items([(1, None)])
    assert missing_vs_none != {2: None}
    assert missing_vs_none != PMap.from_items([(2, None)])


def test_hash_is_content_based_and_order_independent() -> None:
    a = PMap.from_items((i, str(i)) for i in range(200))
    b = PMap.from_items((i, str(i)) for i in reversed(range(200)))
    assert a == b
    assert hash(a) == hash(b)
    assert hash(a) == hash(a)  # cached path
    assert len({a, b, a.delete(5)}) == 2
    assert a != a.set(0, "x")  # equal hashes are not trusted, unequal cached hashes are
    with pytest.raises(TypeError):
        hash(PMap.from_items([(1, [])]))


@attrs.frozen
class _Holder:
    registry: PMap[int, str]


def test_frozen_attrs_class_holding_a_pmap_stays_hashable() -> None:
    h1 = _Holder(PMap.from_items([(1, "a"), (2, "b")]))
    h2 = _Holder(PMap.from_items([(2, "b"), (1, "a")]))
    assert h1 == h2
    assert hash(h1) == hash(h2)
    assert len({h1, h2}) == 1


def test_repr() -> None:
    assert repr(PMap.from_items([(1, "a")])) == "PMap({1: 'a'})"
    m = PMap.from_items([(1, "a"), (2, "b")])
    assert eval(repr(m), {"PMap": PMap}) == m


def test_views() -> None:
    m = PMap.from_items([(1, "a"), (2, "b")])
    assert m.keys() == {1, 2}
    assert m.items() == {(1, "a"), (2, "b")}
    assert sorted(m.values()) == ["a", "b"]
    assert (1, "a") in m.items()
    assert (1, "b") not in m.items()
    assert "b" in m.values()
    assert len(m.keys()) == len(m.items()) == len(m.values()) == 2


def test_pickle_and_copy_roundtrip() -> None:
    m = PMap.from_items([(1, "a"), (Collider(0, 5), "c0"), (Collider(1, 5), "c1")])
    for clone in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):
        assert clone == m
        assert isinstance(clone, PMap)
        check_invariants(clone)
    assert pickle.loads(pickle.dumps(PMap.empty())) is PMap.empty()


def test_generic_alias_at_runtime() -> None:
    alias = PMap[int, str]
    assert alias is not None


def test_full_hash_collisions() -> None:
    keys = [Collider(i, 42) for i in range(6)]
    m: PMap[Collider, int] = PMap.empty()
    d: dict[Collider, int] = {}
    for i, k in enumerate(keys):
        m = m.set(k, i)
        d[k] = i
        assert_same(m, d)
    assert m.set(keys[0], 0) is m
    m = m.set(keys[0], 100)
    d[keys[0]] = 100
    assert_same(m, d)
    assert Collider(99, 42) not in m
    assert m.discard(Collider(99, 42)) is m
    assert m.discard(Collider(99, 43)) is m
    for k in keys:
        m = m.delete(k)
        del d[k]
        assert_same(m, d)
    assert m is PMap.empty()


def test_collision_bucket_pushed_down_by_a_partial_collision() -> None:
    a, b = Collider(0, 7), Collider(1, 7)
    c = Collider(2, 7 + (1 << 60))  # same low 60 bits: forces the deepest level
    e = Collider(3, 7 - (1 << 63))  # differs only in the sign bit
    m = PMap.from_items([(a, 1), (b, 2)])
    m = m.set(c, 3).set(e, 4)
    assert_same(m, {a: 1, b: 2, c: 3, e: 4})
    m2 = m.delete(c).delete(e)
    assert_same(m2, {a: 1, b: 2})
    assert m2._root[1] is _COLL  # folded back up to the root
    m3 = m.delete(a)
    assert_same(m3, {b: 2, c: 3, e: 4})


def test_many_ints_persistent_and_compact() -> None:
    n = 5_000
    m: PMap[int, int] = PMap.empty()
    versions = [m]
    for i in range(n):
        m = m.set(i * 7919, i)
        if i % 1000 == 0:
            versions.append(m)
    assert len(m) == n
    check_invariants(m)
    assert versions[0] == {}
    for j, v in enumerate(versions[1:]):  # version j was taken right after setting i = 1000 * j
        assert v == {i * 7919: i for i in range(1000 * j + 1)}
    for i in range(0, n, 2):
        m = m.delete(i * 7919)
    assert len(m) == n // 2
    check_invariants(m)
    for i in range(1, n, 2):
        m = m.delete(i * 7919)
    assert m is PMap.empty()
    assert versions[-1][0] == 0  # old versions survive


def test_negative_and_big_hashes() -> None:
    keys: list[int] = [-1, -2, -(2**63), 2**63, 2**61 - 1, 0, 2**64 + 5, -(2**100)]
    m = PMap.from_items((k, k) for k in keys)
    assert_same(m, {k: k for k in keys})


# -- property test ---------------------------------------------------------------------------

keys_strategy = st.one_of(
    st.integers(min_value=-40, max_value=40),
    st.text(alphabet="abc", max_size=2),
    st.builds(Collider, st.integers(min_value=0, max_value=3), st.sampled_from(HASHES)),
)
ops_strategy = st.lists(
    st.tuples(
        st.sampled_from(["set", "delete", "discard"]),
        keys_strategy,
        st.integers(min_value=0, max_value=4),
    ),
    max_size=80,
)


@given(ops_strategy)
def test_lockstep_with_dict(ops: list[tuple[str, Hashable, int]]) -> None:
    m: PMap[Hashable, int] = PMap.empty()
    d: dict[Hashable, int] = {}
    history: list[tuple[PMap[Hashable, int], dict[Hashable, int]]] = [(m, dict(d))]
    for op, key, value in ops:
        before = m
        if op == "set":
            m = m.set(key, value)
            d[key] = value
        elif op == "delete":
            if key in d:
                m = m.delete(key)
                del d[key]
            else:
                with pytest.raises(KeyError):
                    m.delete(key)
        else:
            m = m.discard(key)
            if key in d:
                del d[key]
            else:
                assert m is before
        assert_same(m, d)
        history.append((m, dict(d)))
    for old, snapshot in history:  # persistence: no later operation changed an old version
        assert old == snapshot
        assert len(old) == len(snapshot)
        assert set(old) == set(snapshot)
    if not d:
        assert m is PMap.empty()


@given(st.dictionaries(keys_strategy, st.integers(), max_size=40), st.randoms())
def test_hash_and_eq_ignore_insertion_order(d: dict[Hashable, int], rnd: random.Random) -> None:
    items = list(d.items())
    a = PMap.from_items(items)
    rnd.shuffle(items)
    b = PMap.from_items(items)
    assert a == b
    assert hash(a) == hash(b)
    assert_same(b, d)
