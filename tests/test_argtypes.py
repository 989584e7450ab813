"""Argument typing: the per-class memo and the tuple memo answer exactly what
Numba's dispatcher answers, value by value, and never mix up values whose
type depends on their contents."""

from __future__ import annotations

import sys

import numba
import numpy as np
import pytest
from conftest import Policy, run_threads
from hypothesis import given
from hypothesis import strategies as st
from numba.core import types
from numba.extending import typeof_impl
from numba.typed import List

from smart_jit import Action, argtypes, jit
from smart_jit.argtypes import class_key, numba_typeof, typeof_arg


class Opaque:
    """A class Numba knows nothing of."""


class Slotted:
    __slots__ = ("x",)


class CarriesItsOwnType:
    """Numba honours ``_numba_type_`` on an instance."""

    def __init__(self, numba_type=None):
        if numba_type is not None:
            self._numba_type_ = numba_type


class AnswersForItself:
    """A class-level ``_numba_type_`` (as typed List and Dict, jitclass and
    structref instances have): Numba asks each instance."""

    def __init__(self, numba_type):
        self.numba_type = numba_type

    @property
    def _numba_type_(self):
        if self.numba_type is TypeError:
            raise TypeError("untyped")
        return self.numba_type


def record(fields):
    return np.zeros(1, dtype=fields)[0]


def numba_answer(value):
    """What plain Numba's dispatcher answers (its Python typeof_pyval)."""
    return numba.njit(lambda a: a).typeof_pyval(value)


VALUES = {
    "str": "hello",
    "empty str": "",
    "empty tuple": (),
    "bytes": b"ab",
    "bytearray": bytearray(b"ab"),
    "dict": {"k": 1},
    "instance": Opaque(),
    "slotted": Slotted(),
    "own type": CarriesItsOwnType(types.float64),
    "no own type": CarriesItsOwnType(),
    "set of int": {1, 2},
    "set of float": {1.5},
    "empty set": set(),
    "tuple str int": ("a", 1),
    "tuple str float": ("a", 1.5),
    "tuple str uint64": ("a", 2**63),
    "tuple str huge": ("a", 2**70),
    "nested tuple": (("a", 1), (b"x", None)),
    "tuple with list": ("a", [1]),
    "list": [1, 2],
    "empty list": [],
    "typed List int": List([1, 2]),
    "typed List float": List([1.5]),
    "record xy": record([("x", "f8"), ("y", "i4")]),
    "record z": record([("z", "i8")]),
    "unicode array": np.array(["ab", "c"]),
    "unicode array U3": np.array(["abc"]),
    "unicode array 2d F": np.asfortranarray(np.array([["ab", "c"], ["d", "e"]])),
    "unicode array strided": np.array(["ab", "c", "d"])[::2],
    "unicode array read-only": np.array(["ab"]).view(),  # made read-only below
    "unicode array 0d": np.array("ab"),
    "unicode array big-endian": np.array(["ab"], dtype=">U2"),
    "bytes array": np.array([b"ab"]),
    "datetime array ns": np.array([1], dtype="M8[ns]"),
    "datetime array s": np.array([1], dtype="M8[s]"),
    "object array": np.array([None, 1], dtype=object),
    "record array": np.zeros(2, dtype=[("x", "f8")]),
    "tuple of str": ("a", "b"),
    "tuple bool None complex": (True, None, 1j),
    "tuple str array": ("a", np.arange(2.0)),
    "tuple str typed List": ("a", List([1])),
    "tuple str object": ("a", Opaque()),
    "tuple str negative huge": ("a", -(2**63) - 1),
    "deep tuple": ((("a", 1), 2.5), ((b"x",), ("y", "z"))),
    "answers for itself int": AnswersForItself(types.int16),
    "answers for itself float": AnswersForItself(types.float32),
    "answers for itself None": AnswersForItself(None),
    "int": 3,
    "uint64 int": 2**63,
    "huge int": 2**70,
    "float": 1.5,
    "array": np.arange(3.0),
    "None": None,
}


VALUES["unicode array read-only"].flags.writeable = False


def outcome(typing, value):
    """The type *typing* gives *value*, or the class of what it raises (Numba
    0.59 and 0.60 raise NotImplementedError for a big-endian unicode array;
    later releases answer pyobject)."""
    try:
        return typing(value)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_memo_answers_what_numba_answers_every_time(name):
    value = VALUES[name]
    want = outcome(numba_answer, value)
    assert [outcome(numba_typeof, value) for _ in range(3)] == [want] * 3
    dispatcher = jit(lambda a: a)
    assert [outcome(dispatcher.typeof_pyval, value) for _ in range(3)] == [want] * 3


@pytest.mark.parametrize("name", sorted(VALUES))
def test_typeof_arg_is_the_c_dispatchers_view(name):
    value = VALUES[name]
    expected = types.intp if type(value) is int else outcome(numba_answer, value)
    assert outcome(typeof_arg, value) == expected


def test_values_of_one_class_with_different_types_are_never_mixed():
    pairs = [
        (List([1]), List([1.5])),
        (("a", 1), ("a", 1.5)),
        (("a", 1), ("a", 2**63)),
        ({1}, {1.5}),
        (record([("x", "f8")]), record([("y", "i4")])),
        (CarriesItsOwnType(types.float64), CarriesItsOwnType(types.int32)),
        (CarriesItsOwnType(), CarriesItsOwnType(types.int32)),
    ]
    for first, second in pairs:
        for _ in range(2):
            assert numba_typeof(first) == numba_answer(first)
            assert numba_typeof(second) == numba_answer(second)
            assert numba_typeof(first) != numba_typeof(second)


def test_an_array_whose_flags_change_is_typed_anew():
    value = np.array(["ab", "c"])
    writeable = numba_typeof(value)
    value.flags.writeable = False
    assert numba_typeof(value) == numba_answer(value) != writeable
    value.flags.writeable = True
    assert numba_typeof(value) == writeable


def test_arrays_of_one_kind_share_a_type_and_others_do_not():
    kinds = [
        np.array(["ab"]),
        np.array(["abc"]),
        np.array([["ab"]]),
        np.array([["ab", "c"], ["d", "e"]]).T,
        np.array([b"ab"]),
        np.array([1], dtype="M8[ns]"),
        np.array([1], dtype="M8[us]"),
        np.array([b"abc"]),
    ]
    answers = [numba_typeof(value) for value in kinds]
    assert answers == [numba_answer(value) for value in kinds]
    assert len(set(map(str, answers))) == len(kinds)
    assert numba_typeof(np.array(["xy", "z"])) == answers[0]


def test_a_class_that_answers_for_itself_is_asked_each_time():
    values = [AnswersForItself(t) for t in (types.int8, types.float64, None, types.int8)]
    for _ in range(2):
        assert [numba_typeof(v) for v in values] == [numba_answer(v) for v in values]
    late = AnswersForItself(types.int8)
    late.numba_type = types.complex128  # the same instance, another answer
    assert numba_typeof(late) == types.complex128
    untyped = AnswersForItself(TypeError)  # as an empty numba.typed.List raises
    with pytest.raises(TypeError, match="untyped"):
        numba_answer(untyped)
    with pytest.raises(TypeError, match="untyped"):
        numba_typeof(untyped)


def test_a_typeof_impl_for_a_class_that_answered_for_itself_is_honoured():
    class Answers(AnswersForItself):
        pass

    assert numba_typeof(Answers(types.int8)) == types.int8
    assert numba_typeof(Answers(types.int8)) == types.int8

    @typeof_impl.register(Answers)
    def _typeof_answers(val, c):
        return types.float32

    assert numba_typeof(Answers(types.int8)) == types.float32


_leaves = st.one_of(
    st.text(max_size=3),
    st.binary(max_size=3),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.sampled_from([Opaque(), np.arange(2.0), np.array(["ab"]), List([1])]),
)
_tuples = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4).map(tuple), max_leaves=8)


@given(_tuples.filter(lambda v: type(v) is tuple))
def test_any_tuple_is_typed_as_numba_types_it(value):
    want = numba_answer(value)
    assert numba_typeof(value) == want
    assert numba_typeof(tuple(value)) == want  # a remembered one, or a copy typed anew


def test_a_tuple_holding_a_mutable_value_is_typed_afresh():
    inner = [1]
    value = ("a", inner)
    before = numba_typeof(value)
    inner[0] = 1.5
    assert numba_typeof(value) != before
    assert numba_typeof(value) == numba_answer(value)


def test_class_key_only_where_the_class_decides():
    numba_typeof("x"), numba_typeof({}), numba_typeof(Opaque())
    # Keys are Numba type codes: a key keeps no class alive.
    codes = (types.unicode_type._code, types.pyobject._code, types.pyobject._code)
    assert class_key(("x", {}, Opaque())) == codes
    assert class_key(("x", 1)) is None
    assert class_key(("x", ("a", 1))) is None
    assert class_key((CarriesItsOwnType(types.int64),)) is None
    assert class_key(("x",)) == types.unicode_type._code
    assert class_key((Opaque(),)) == types.pyobject._code
    assert class_key(({},)) == types.pyobject._code  # no __dict__: no type of its own


def test_an_instance_that_carries_its_type_is_never_mixed_with_its_class():
    f = jit(lambda a: a, use_jit=Policy(Action.INTERPRETER))
    plain, typed = CarriesItsOwnType(), CarriesItsOwnType(types.int32)
    for value in (plain, typed, plain, typed):
        assert f.typeof_pyval(value) == numba_answer(value)
        f(value)
    assert {r.signature for r in f.fallbacks()} == {(types.pyobject,), (types.int32,)}


def test_a_typeof_impl_registered_after_the_first_call_is_honoured():
    class Late:
        pass

    policy = Policy(Action.INTERPRETER)
    f = jit(lambda a: a, use_jit=policy)
    f(Late())
    assert [str(t) for t in f.fallbacks()[0].signature] == ["pyobject"]

    @typeof_impl.register(Late)
    def _typeof_late(val, c):
        return types.float32

    assert numba_typeof(Late()) == types.float32
    f(Late())
    assert sorted(str(r.signature[0]) for r in f.fallbacks()) == ["float32", "pyobject"]


def test_a_memo_made_before_a_registration_is_not_used_inside_tuples(monkeypatch):
    """Inside a tuple too: the per-class answer for its items is dropped
    before typing once a typeof_impl was registered (simulated: the memo holds
    another answer for bytearray, made when the registry was smaller)."""
    monkeypatch.setitem(argtypes.by_class, id(bytearray), types.float32)
    monkeypatch.setattr(argtypes, "registry_size", argtypes.registry_size - 1)
    value = ("a", bytearray(b"y"))
    assert numba_typeof(value) == numba_answer(value)
    assert numba_answer(value)[1] != types.float32


def test_memo_is_thread_safe():
    names = sorted(VALUES)
    wrong = []

    def work(i):
        for _ in range(200):
            for name in names[i % 3 :: 3]:
                value = VALUES[name]
                if outcome(numba_typeof, value) != outcome(numba_answer, value):
                    wrong.append(name)

    run_threads(8, work)
    assert wrong == []


@pytest.mark.parametrize(
    "value",
    ["hello", b"ab", {"k": 1}, Opaque(), {1, 2}, ("a", 1), np.array(["ab"])],
    ids=["str", "bytes", "dict", "instance", "set", "tuple", "unicode array"],
)
def test_interpreted_calls_report_numbas_types(value):
    f = jit(lambda a: a, use_jit=Policy(Action.INTERPRETER))
    for _ in range(3):
        assert f(value) is value
    [record_] = f.fallbacks()
    assert record_.signature == (typeof_arg(value),) and record_.calls == 3


def test_matched_str_calls_use_the_compiled_overload():
    f = jit(lambda s: len(s), use_jit=Policy(Action.JIT))
    assert f("abc") == 3 and f("hello") == 5
    assert [str(s[0]) for s in f.signatures] == ["unicode_type"]


def test_a_typeof_impl_for_a_memoized_class_is_honoured_on_the_c_path():
    """The C dispatcher's typeof_pyval answers class-memo hits inline; a new
    typeof_impl registration still reaches it."""

    class Text(str):
        pass

    f = jit(lambda a: a, use_jit=Policy(Action.INTERPRETER))
    assert f.typeof_pyval(Text("x")) == numba_answer(Text("x"))

    @typeof_impl.register(Text)
    def _typeof_text(val, c):
        return types.int8

    assert f.typeof_pyval(Text("x")) == types.int8 == numba_answer(Text("x"))


def test_types_kept_for_the_c_side_do_not_pile_up():
    """Numba keeps the types of the call in progress alive (a set from 0.61, a
    list before), emptied by its _compile_for_args; the miss path empties it too."""
    f = jit(lambda a: a, use_jit=Policy(Action.INTERPRETER))
    for length in range(1, 40):
        f(("a", [1]) * length)  # a new type each call, not remembered (holds a list)
    assert len(f._types_active_call) == 0


@pytest.mark.parametrize(
    "value",
    [("a", [1]), [1, 2], np.array(["ab"]), {"k": 1}, Opaque(), List([1]), "text"],
    ids=["tuple with list", "list", "unicode array", "dict", "instance", "typed List", "str"],
)
def test_no_argument_outlives_its_call(value):
    """Numba's own tests check reference counts: typing keeps no argument."""
    interpreted = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    compiled = jit(lambda a: a, use_jit=lambda a: Action.JIT, forceobj=True)
    before = sys.getrefcount(value)
    for _ in range(3):
        interpreted(value)
        compiled(value)
    assert sys.getrefcount(value) == before


def test_a_buffer_that_cannot_be_exported_now_is_pyobject_and_the_call_runs():
    import mmap

    closed = mmap.mmap(-1, 16)
    closed.close()
    expected = numba.njit(lambda a: a).typeof_pyval(closed)
    assert expected == types.pyobject
    assert numba_typeof(closed) == jit(lambda a: a).typeof_pyval(closed) == expected
    assert jit(use_jit=lambda a: Action.INTERPRETER)(lambda a: 7)(closed) == 7
    assert jit(forceobj=True)(lambda a: 8)(closed) == 8
    assert jit(use_jit=lambda a: Action.INTERPRETER)(lambda a: 9)(closed) == 9  # memo or not


def test_the_memo_keeps_no_class_alive():
    import gc
    import weakref

    f = jit(use_jit=lambda a: Action.INTERPRETER)(lambda a: 1)
    g = jit(use_jit=lambda a, b: Action.INTERPRETER)(lambda a, b: 2)
    gc.collect()
    remembered = len(argtypes.by_class), len(argtypes._watched)
    refs = []
    for i in range(500):
        made = type(f"Made{i}", (), {})
        assert f(made()) == 1 and g(made(), "s") == 2
        assert numba_typeof(made()) is types.pyobject
        refs.append(weakref.ref(made))
        del made
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert (len(argtypes.by_class), len(argtypes._watched)) <= remembered


def test_a_dead_class_s_id_reused_by_another_class_is_typed_afresh():
    import gc

    plain = numba.njit(lambda a: a)
    answers = []
    for i in range(60):
        if i % 2:
            made = type(f"Answers{i}", (), {"_numba_type_": types.float64})
        else:
            made = type(f"Opaque{i}", (), {})
        value = made()
        answers.append((numba_typeof(value), plain.typeof_pyval(value)))
        assert jit(lambda a: a).typeof_pyval(value) == answers[-1][1]
        del made, value
        gc.collect()  # its id is free for the next class
    assert all(ours == numbas for ours, numbas in answers)
    assert {str(ours) for ours, _ in answers} == {"pyobject", "float64"}
