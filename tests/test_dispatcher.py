"""The per-call decision of SmartDispatcher, path by path."""

from __future__ import annotations

import threading
import warnings

import numba
import numpy as np
import pytest
from conftest import (
    PATIENCE,
    Policy,
    compiles_during,
    run_threads,
    smart_frames_during,
    uses_python_objects,
)
from numba import _dispatcher

import smart_jit
from smart_jit import Action, NumbaInterpreterModeWarning, SmartDispatcher, jit
from smart_jit.interpreted import COMPILE_FAILED, REASON_BACKGROUND, REASON_POLICY


def bump(a):
    a[0] += 1
    return a[0]


# -- the fast path ---------------------------------------------------------


def test_dispatcher_is_numbas_own_with_no_python_call():
    assert issubclass(SmartDispatcher, numba.core.registry.CPUDispatcher)
    assert "__call__" not in vars(SmartDispatcher)
    assert SmartDispatcher.__call__ is _dispatcher.Dispatcher.__call__


def test_matched_call_runs_no_python_code_of_ours_and_skips_the_policy(call_path):
    policy = Policy(Action.JIT)
    f = jit(lambda a, b: a + b, use_jit=policy)
    assert f(1, 2) == 3
    assert f(5, 6) == 11  # on the Python path, the record learns of the new overload
    frames = smart_frames_during(lambda: f(3, 4))
    if call_path == "c_table":
        assert frames == []
    else:
        assert frames == ["_compile_for_args", "_run_compiled"]
    assert f(3, 4) == 7
    assert len(policy.calls) == 1


def test_miss_reaches_our_hook():
    f = jit(lambda a: a, use_jit=Policy(Action.INTERPRETER))
    assert "_compile_for_args" in smart_frames_during(lambda: f(1))


# -- the three actions -----------------------------------------------------


def test_jit_compiles_adds_the_signature_and_runs_once(call_path):
    policy = Policy(Action.JIT)
    f = jit(bump, use_jit=policy)
    a = np.zeros(1)
    assert f(a) == 1.0
    assert a[0] == 1.0
    assert [tuple(map(str, s)) for s in f.signatures] == [("array(float64, 1d, C)",)]
    assert f(a) == 2.0 and len(policy.calls) == 1


def test_interpreter_runs_python_once_and_compiles_nothing():
    policy = Policy(Action.INTERPRETER)
    f = jit(bump, use_jit=policy)
    a = np.zeros(1)
    assert f(a) == 1.0
    assert a[0] == 1.0
    assert f.signatures == []
    f(a)
    assert len(policy.calls) == 2, "the policy is asked on every miss"


def test_raise_exception_is_numbas_type_error_and_runs_nothing():
    f = jit(bump, use_jit=Policy(Action.RAISE_EXCEPTION))
    a = np.zeros(1)
    with pytest.raises(TypeError, match=r"No matching definition for argument type\(s\) array"):
        f(a)
    assert a[0] == 0.0


@pytest.mark.parametrize("bad", [None, "JIT", 1, True, Action])
def test_a_bad_policy_value_names_the_function_and_value(bad):
    f = jit(bump, use_jit=lambda a: bad)
    a = np.zeros(1)
    with pytest.raises(TypeError, match=rf"use_jit of .*bump returned {bad!r}") as info:
        f(a)
    assert "Action.JIT" in str(info.value)
    assert a[0] == 0.0


def test_policy_exception_propagates_unchanged():
    boom = ValueError("from the policy")

    def policy(a):
        raise boom

    f = jit(bump, use_jit=policy)
    a = np.zeros(1)
    with pytest.raises(ValueError) as info:
        f(a)
    assert info.value is boom and a[0] == 0.0


@pytest.mark.parametrize("action", [Action.JIT, Action.INTERPRETER])
def test_function_exception_propagates_on_both_paths(action, call_path):
    @jit(use_jit=Policy(action))
    def fails(a):
        if a > 0:
            raise ZeroDivisionError("user error")
        return a

    with pytest.raises(ZeroDivisionError, match="user error"):
        fails(1)


# -- without a policy: plain numba.jit ---------------------------------------


def test_no_policy_compiles_like_numba():
    f = jit(lambda a: a * 2)
    assert f(3) == 6 and f(1.5) == 3.0
    assert [tuple(map(str, s)) for s in f.signatures] == [("int64",), ("float64",)]


def test_no_policy_with_signatures_raises_numbas_error():
    mine = jit("int32(int32, int32)")(lambda a, b: a)
    theirs = numba.njit("int32(int32, int32)")(lambda a, b: a)
    with pytest.raises(TypeError) as ours:
        mine("hello", "world")
    with pytest.raises(TypeError) as numbas:
        theirs("hello", "world")
    assert str(ours.value) == str(numbas.value)


# -- explicit signatures -----------------------------------------------------


def test_explicit_signatures_as_the_seed_shows(call_path):
    policy = Policy(Action.INTERPRETER)

    @jit(["int64(int64, int64)", "float64(float64, float64)"], use_jit=policy)
    def add(a, b):
        return a + b

    assert [tuple(map(str, s)) for s in add.signatures] == [
        ("int64", "int64"),
        ("float64", "float64"),
    ]
    assert add(2, 3) == 5 and add(2.2, 4.4) == 2.2 + 4.4
    assert policy.calls == []
    assert add("hello", ", world") == "hello, world"
    assert policy.calls == [("hello", ", world")]
    assert len(add.signatures) == 2


def test_conversions_use_an_overload_without_asking_the_policy(call_path):
    policy = Policy(Action.INTERPRETER)
    f = jit(["float64(float64)"], use_jit=policy)(lambda a: a / 2)
    assert f(3) == 1.5 and f(np.float32(3)) == 1.5
    assert policy.calls == []
    if call_path == "c_table":
        assert smart_frames_during(lambda: f(5)) == [], "the conversion is in the C table"
    assert f(5) == 2.5 and policy.calls == []
    assert len(f.signatures) == 1


def test_jit_action_adds_a_signature_beyond_the_explicit_ones(call_path):
    f = jit(["float64(float64)"], use_jit=Policy(Action.JIT))(lambda a: a)
    assert f(1j) == 1j
    assert [tuple(map(str, s)) for s in f.signatures] == [("float64",), ("complex128",)]
    assert f._can_compile is False, "Numba still sees compilation as disabled"


# -- the decision, as a table -----------------------------------------------

_UNTYPEABLE = object()  # a global Numba cannot type: compiling a function that reads it fails


def plus_one(x):
    return x + 1


def plus_one_uncompilable(x):
    _ = _UNTYPEABLE
    return x + 1


COMPILED, INTERPRETED, TYPE_ERROR, COMPILE_ERROR = "compiled", "interpreted", "TypeError", "error"

# (policy's action, background=, on_compile_error=, compiles?) ->
#     (what the first call does, its fallback reason, what a later call does)
DECISIONS = [
    (None, False, None, True, COMPILED, None, COMPILED),
    (None, False, None, False, COMPILE_ERROR, None, COMPILE_ERROR),
    (None, False, Action.INTERPRETER, False, INTERPRETED, COMPILE_FAILED, INTERPRETED),
    (Action.JIT, False, None, True, COMPILED, None, COMPILED),
    (Action.JIT, False, None, False, COMPILE_ERROR, None, COMPILE_ERROR),
    (Action.JIT, False, Action.INTERPRETER, False, INTERPRETED, COMPILE_FAILED, INTERPRETED),
    (Action.JIT, True, None, True, INTERPRETED, REASON_BACKGROUND, COMPILED),
    (Action.BACKGROUND_JIT, False, None, True, INTERPRETED, REASON_BACKGROUND, COMPILED),
    (Action.BACKGROUND_JIT, False, None, False, INTERPRETED, REASON_BACKGROUND, INTERPRETED),
    (Action.INTERPRETER, False, None, True, INTERPRETED, REASON_POLICY, INTERPRETED),
    (Action.INTERPRETER, True, None, True, INTERPRETED, REASON_POLICY, INTERPRETED),
    (Action.RAISE_EXCEPTION, False, None, True, TYPE_ERROR, None, TYPE_ERROR),
]


def outcome(f, value):
    """What one call of *f* did: compiled, interpreted (by ``fallbacks``), or raised."""
    before = sum(fb.calls for fb in f.fallbacks())
    try:
        result = f(value)
    except numba.core.errors.TypingError:
        return COMPILE_ERROR
    except TypeError:
        return TYPE_ERROR
    assert result == value + 1
    return INTERPRETED if sum(fb.calls for fb in f.fallbacks()) > before else COMPILED


@pytest.mark.parametrize(
    "action, background, on_compile_error, compiles, first, reason, later",
    DECISIONS,
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_the_decision_on_a_miss(
    action, background, on_compile_error, compiles, first, reason, later
):
    func = plus_one if compiles else plus_one_uncompilable
    policy = None if action is None else Policy(action)
    f = jit(use_jit=policy, background=background, on_compile_error=on_compile_error)(func)
    assert outcome(f, 1) == first
    reasons = [fb.reason for fb in f.fallbacks()]
    if reason is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and reasons[0].startswith(reason), reasons
    assert f.wait_compiled(timeout=PATIENCE)
    assert outcome(f, 2) == later
    assert len(f.signatures) == (1 if later == COMPILED else 0)
    if policy is not None and later == COMPILED:
        assert len(policy.calls) == 1, "a compiled signature is not asked about again"


# -- keyword arguments, defaults, *args --------------------------------------


def test_policy_gets_positional_values_with_defaults_filled():
    policy = Policy(Action.INTERPRETER)

    @jit(use_jit=policy)
    def f(a, b=10, *rest):
        return a + b + len(rest)

    assert f(1) == 11 and f(1, b=2) == 3 and f(1, 2, 7, 7) == 5 and f(b=5, a=1) == 6
    assert policy.calls == [(1, 10), (1, 2), (1, 2, 7, 7), (1, 5)]


def test_keywords_on_the_jit_path_and_in_warnings(record):
    @jit(
        use_jit=lambda a, b=1.0: Action.JIT if isinstance(a, int) else Action.INTERPRETER,
        warn_on_fallback=True,
    )
    def scale(a, b=1.0):
        return a * b

    with record() as rec:
        assert scale(2, b=3.0) == 6.0
        assert scale(b=2.0, a=4) == 8.0
        with pytest.warns(
            NumbaInterpreterModeWarning, match=r"scale\(float64, float64\) not using"
        ):
            assert scale(1.5, b=2.0) == 3.0
    assert rec.kinds() == {"jit_execution": 2, "interpreter_execution": 1}


# -- compile failures --------------------------------------------------------


def test_compile_error_propagates_by_default():
    f = jit(uses_python_objects, use_jit=Policy(Action.JIT))
    with pytest.raises(numba.core.errors.TypingError):
        f(1)


def test_compile_error_falls_back_once_and_is_remembered():
    f = jit(
        uses_python_objects,
        use_jit=Policy(Action.JIT),
        on_compile_error=Action.INTERPRETER,
        warn_on_fallback=True,
    )
    with pytest.warns(NumbaInterpreterModeWarning):
        assert compiles_during(lambda: f(1)) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert compiles_during(lambda: [f(i) for i in range(5)]) == 0
    [record] = f.fallbacks()
    assert record.calls == 6 and record.reason.startswith("compile failed: TypingError")


# -- introspection -------------------------------------------------------------


def test_fallbacks_count_per_signature_and_reason():
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    for value in (1, 2, 3.0):
        f(value)
    got = {(tuple(map(str, r.signature)), r.reason, r.calls) for r in f.fallbacks()}
    reason = smart_jit.interpreted.REASON_POLICY
    assert got == {(("int64",), reason, 2), (("float64",), reason, 1)}


# -- Numba features ----------------------------------------------------------


def test_called_from_inside_njit_compiles_without_the_policy():
    policy = Policy(Action.INTERPRETER)
    inner = jit(lambda a: a + 1, use_jit=policy)

    @numba.njit
    def outer(a):
        return inner(a) * 2

    assert outer(3) == 8
    assert policy.calls == []
    assert [tuple(map(str, s)) for s in inner.signatures] == [("int64",)]


def test_parallel_prange():
    @jit(parallel=True, use_jit=lambda a: Action.JIT if a.size > 10 else Action.INTERPRETER)
    def psum(a):
        acc = 0.0
        for i in numba.prange(a.shape[0]):
            acc += a[i]
        return acc

    small, big = np.arange(5.0), np.arange(1000.0)
    assert psum(small) == small.sum() and psum.signatures == []
    assert psum(big) == big.sum()
    diagnostics = psum.get_metadata(psum.signatures[0])["parfor_diagnostics"]
    assert diagnostics.initial_parfors, "prange became a parfor: parallel=True reached Numba"


def test_numba_options_pass_through():
    @jit(error_model="numpy", use_jit=Policy(Action.JIT))
    def div(a, b):
        return a / b

    assert div(1.0, 0.0) == np.inf, "error_model='numpy' reached the compiler"
    assert div.targetoptions["error_model"] == "numpy"


def test_methods_and_introspection_of_a_numba_dispatcher():
    f = jit(lambda a: a + 1, use_jit=Policy(Action.JIT))
    f(1)
    assert f.py_func(1) == 2
    assert list(f.overloads) == f.signatures
    assert "i64" in f.inspect_llvm(f.signatures[0])
    assert f.nopython_signatures[0].return_type == numba.int64


def test_threads_compile_each_signature_once():
    policy = Policy(Action.JIT)
    f = jit(lambda a: a * 2, use_jit=policy)
    results, barrier = [], threading.Barrier(8)

    def work(i):
        barrier.wait()
        results.append(f(i) if i % 2 else f(float(i)))

    def run():
        run_threads(8, work)

    assert compiles_during(run) == 2
    assert sorted(results) == [i * 2 for i in range(8)]
    assert len(f.signatures) == 2


# -- explicit signatures: one answer whatever the call history ---------------


def doubled(a):
    return a * 2


@pytest.mark.parametrize("order", [(1j, 2), (2, 1j), (2, 1j, 2)])
def test_conversion_does_not_depend_on_what_the_policy_compiled(order, call_path):
    """int converts to the declared float64 before and after the policy
    compiled complex128 (which would make the conversion ambiguous)."""
    f = jit(["float64(float64)"], use_jit=Policy(Action.JIT))(doubled)
    results = {value: f(value) for value in order}
    assert results[2] == 4.0 and type(results[2]) is float
    assert results[1j] == 2j
    assert sorted(str(s[0]) for s in f.signatures) == ["complex128", "float64"]


def test_ambiguous_declared_signatures_raise_numbas_error_without_a_policy():
    f = jit(["float64(float64)", "complex128(complex128)"])(doubled)
    with pytest.raises(TypeError, match="Ambiguous overloading"):
        f(2)


def test_ambiguous_declared_signatures_ask_the_policy():
    policy = Policy(Action.INTERPRETER)
    f = jit(["float64(float64)", "complex128(complex128)"], use_jit=policy)(doubled)
    assert f(2) == 4 and policy.calls == [(2,)]


def test_policy_compiled_overloads_do_not_travel_as_declared_ones():
    import pickle

    f = jit(["float64(float64)"], use_jit=Policy(Action.JIT))(doubled)
    f(1j)
    g = SmartDispatcher._rebuild(**{**f._reduce_states(), "uuid": "another-uuid"})
    assert [str(s[0]) for s in g.signatures] == ["float64"]
    assert g(2) == 4.0 and pickle.loads(pickle.dumps(f)) is f


def test_object_mode_signature_converts_like_numba(call_path):
    """Numba runs its object-mode fallback when nothing else matches."""
    via_numba = numba.jit("i4(i4)", forceobj=True)(doubled)
    ours = jit("i4(i4)", forceobj=True)(doubled)
    assert ours(1) == via_numba(1) == 2
    arrays = jit("f8[:](f8[:])", forceobj=True)(doubled)
    np.testing.assert_array_equal(arrays(np.ones(3)), np.full(3, 2.0))
    np.testing.assert_array_equal(arrays(np.ones(6)[::2]), np.full(3, 2.0))
    assert [str(s[0]) for s in arrays.signatures] == ["array(float64, 1d, A)"]


def test_object_mode_fallback_is_not_used_under_nopython():
    f = jit("i4(i4)", nopython=True)(doubled)
    with pytest.raises(TypeError, match="No matching definition"):
        f("x")


# -- typing matches the C dispatcher ---------------------------------------


def test_an_int_too_big_for_int64_is_typed_as_the_c_dispatcher_types_it(call_path):
    """Numba's C dispatcher types every int as int64; 2**70 then fails to
    convert.  A policy-interpreted call before does not poison later ints."""
    policy = Policy(Action.INTERPRETER)
    f = jit(lambda a: a, use_jit=policy)
    assert f(2**70) == 2**70
    assert f(1) == 1
    [record] = f.fallbacks()
    assert [str(t) for t in record.signature] == ["int64"] and record.calls == 2
    f.compile("int64(int64)")
    with pytest.raises(OverflowError):
        f(2**70)


def test_a_failed_compile_of_a_huge_int_does_not_stop_small_ints_compiling():
    f = jit(lambda a: a + 1, use_jit=Policy(Action.JIT), on_compile_error=Action.INTERPRETER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert f(2**70) == 2**70 + 1
    assert f(1) == 2 and [str(s[0]) for s in f.signatures] == ["int64"]


# -- compile failures say what failed -------------------------------------------


def uses_tolist(a):
    return a.tolist()


def formats(a):
    return "%d" % a  # noqa: UP031 (Numba cannot compile it: that is the point)


@pytest.mark.parametrize(
    "func, arg, expected",
    [
        (
            uses_tolist,
            np.ones(3),
            "compile failed: TypingError: Unknown attribute 'tolist' of type array(float64, 1d, C)",
        ),
        (
            formats,
            1,
            "compile failed: TypingError: No implementation of function "
            "Function(<built-in function mod>) found for signature: >>> mod(",
        ),
    ],
)
def test_compile_failure_reason_names_what_failed(func, arg, expected):
    f = jit(func, use_jit=Policy(Action.JIT), on_compile_error=Action.INTERPRETER)
    with pytest.warns(NumbaInterpreterModeWarning) as caught:
        warnings.simplefilter("always")
        f.warn_on_fallback = True
        f(arg)
    [record] = f.fallbacks()
    assert record.reason.startswith(expected)
    assert "\n" not in record.reason and len(record.reason) <= 200
    assert str(caught[0].message).endswith(f" not using JIT: {record.reason}")
    assert expected in str(smart_jit.report(f))


# -- object mode, as Numba's own tests exercise it ------------------------------


def lifted_loop(n):
    acc = 0
    for i in range(n):
        acc += i
    _unused = object()  # object mode outside the loop: the loop is lifted
    return acc


def object_mode_generator(n):
    for i in range(n):
        yield {"i": i}["i"]


@pytest.mark.parametrize("signature", [None, "int64(int64)", "int32(int32)"])
def test_loop_lifting_matches_numba(signature):
    options = {"forceobj": True}
    ours = jit(signature, **options)(lifted_loop) if signature else jit(**options)(lifted_loop)
    want = (
        numba.jit(signature, **options)(lifted_loop)
        if signature
        else numba.jit(**options)(lifted_loop)
    )
    assert ours(10) == want(10) == 45
    assert len(ours.overloads[ours.signatures[0]].lifted) == len(
        want.overloads[want.signatures[0]].lifted
    )


def test_generator_in_object_mode_with_a_signature_converts_like_numba():
    ours = jit("int32(int32)", forceobj=True)(object_mode_generator)
    want = numba.jit("int32(int32)", forceobj=True)(object_mode_generator)
    assert list(ours(4)) == list(want(4)) == [0, 1, 2, 3]
    assert list(ours(np.int16(3))) == list(want(np.int16(3)))


def test_empty_tuple_is_typed_as_numba_types_it():
    """Numba's type of () is Tuple(()), which is falsy: it must not become pyobject."""
    f = jit(lambda t: len(t), use_jit=Policy(Action.INTERPRETER))
    assert f(()) == 0
    assert [str(t) for t in f.fallbacks()[0].signature] == ["Tuple()"]


@pytest.mark.parametrize(
    "declared, value",
    [
        (numba.types.Tuple(())(numba.types.UniTuple(numba.types.int32, 0)), ()),
        (
            numba.types.UniTuple(numba.types.float32, 2)(
                numba.types.UniTuple(numba.types.int32, 2)
            ),
            (4, 5),
        ),
    ],
)
def test_tuple_conversions_to_a_declared_signature_match_numba(declared, value, call_path):
    ours = jit(declared, nopython=True)(lambda a: a)
    want = numba.jit(declared, nopython=True)(lambda a: a)
    assert ours(value) == want(value) == value


def test_recompile_keeps_what_was_interpreted():
    f = jit(use_jit=lambda a: Action.INTERPRETER if isinstance(a, float) else Action.JIT)(
        lambda a: a + 1
    )
    f(1.5), f(2.5), f(1)
    before = f.fallbacks()
    assert [fb.calls for fb in before] == [2]
    f.recompile()
    assert f.fallbacks() == before
    f(3.5)
    assert [fb.calls for fb in f.fallbacks()] == [3] and f(1) == 2


def _deepest(f):
    """The deepest recursion f(n) completes here, by bisection."""
    low, high = 1, 4000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            f(middle)
            low = middle
        except RecursionError:
            high = middle - 1
    return low


def _countdown(n):
    return 0 if n == 0 else 1 + _countdown(n - 1)


def _interpreted_recursion(kind):
    from smart_jit.policies import adaptive

    interpret = (lambda *a: Action.INTERPRETER) if kind != "adaptive" else adaptive(1e9)
    if kind == "default argument":

        def down(n, step=1):
            return 0 if n == 0 else 1 + f(n - step)
    else:

        def down(n):
            return 0 if n == 0 else 1 + f(n - 1)

    f = jit(use_jit=interpret)(down)
    return f


@pytest.mark.parametrize(
    "kind, frames_per_level",
    [("plain", 2), ("default argument", 3), ("adaptive", 3)],
)
def test_interpreted_recursion_holds_no_frame_of_ours_per_level(kind, frames_per_level):
    """Per level: the Python function, Numba's C dispatcher call (2, the
    floor), and with defaults to fill in or calls to time, one callable of
    ours, never the miss path's frames."""
    python = _deepest(_countdown)
    smart = _deepest(_interpreted_recursion(kind))
    assert smart * frames_per_level >= python - 2 * frames_per_level, (smart, python)
    assert smart >= 300


def test_an_interpreted_generator_is_timed_while_it_runs_not_at_its_creation():
    import time

    from smart_jit.policies import adaptive

    policy = adaptive(compile_cost=1e9)

    def steps(n):
        for i in range(n):
            time.sleep(0.05)
            received = yield i
            if received is not None:
                yield received * 10

    f = jit(use_jit=policy)(steps)
    assert list(f(3)) == list(steps(3)) == [0, 1, 2]
    (account,) = policy.signatures()
    assert account.interpreted_calls == 1 and account.interpreted >= 0.15
    gen, expected = f(2), steps(2)
    assert (next(gen), gen.send(4)) == (next(expected), expected.send(4)) == (0, 40)
    with pytest.raises(KeyError, match="thrown"):
        gen.throw(KeyError("thrown"))
    assert account.interpreted_calls == 2 and account.interpreted >= 0.2
    closed = f(5)
    next(closed)
    closed.close()
    assert account.interpreted_calls == 3 and account.interpreted >= 0.25
