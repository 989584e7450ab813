"""The rule a stance asks before it interprets a function: each kind of code
that means something else in Python (from the libraries where each was
found), and code that means the same."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from numba import cfunc, types
from numba.core.extending import intrinsic, overload, register_jitable
from numba.typed import List

from smart_jit import jit, set_stance
from smart_jit.interpretable import why_not


def _stub_solve(a):  # quantecon's _numba_linalg_solve: `pass` in Python
    pass


@overload(_stub_solve)
def _stub_solve_impl(a):
    return lambda a: a * 10


def pdf(x):  # numba-stats: a 0-d array in Python, a float compiled
    return np.asarray(x * 0.5)


@overload(pdf)
def _pdf_impl(x):
    return lambda x: x * 0.5


@intrinsic
def _one(typingctx):
    sig = types.int64()

    def codegen(context, builder, signature, args):
        return context.get_constant(types.int64, 1)

    return sig, codegen


@cfunc("float64(float64)")
def _c_twice(x):
    return 2 * x


@register_jitable
def _helper(a):
    return a + 1


def rule(func, fastmath=False):
    return why_not(func, {"fastmath": getattr(func, "_fastmath", False)}, fastmath)


def test_a_function_that_only_computes_may_be_interpreted():
    def mean(a):
        total = 0.0
        for x in a:
            total += math.sqrt(x)
        return total / len(a) + np.sum(a)

    assert rule(mean) is None


def test_a_call_of_a_stub_whose_body_is_an_overload_is_refused():
    def solve(a):
        return _stub_solve(a)

    assert rule(solve) == (
        "it calls _stub_solve, whose compiled meaning is an @overload in test_interpretable"
    )


def test_a_wrapper_whose_overload_returns_another_type_is_refused():
    def density(x):
        return pdf(x) + 1

    assert "it calls pdf" in rule(density)


def test_an_overload_reached_through_a_module_attribute_is_refused():
    import types as pytypes

    library = pytypes.ModuleType("library")
    library.linalg = pytypes.ModuleType("library.linalg")
    library.linalg.solve_stub = _stub_solve

    def through_module(a):
        return library.linalg.solve_stub(a)

    assert "it calls library.linalg.solve_stub" in rule(through_module)


def test_an_overload_reached_through_the_closure_is_refused():
    stub = _stub_solve

    def closure(a):
        return stub(a)

    assert "it calls stub" in rule(closure)


def test_an_intrinsic_and_a_cfunc_are_refused():
    def uses_intrinsic():
        return _one()

    def uses_cfunc(x):
        return _c_twice(x)

    assert rule(uses_intrinsic) == "it calls the intrinsic _one, which has no Python meaning"
    assert "first-class function _c_twice" in rule(uses_cfunc)


def test_a_register_jitable_helper_means_the_same_in_python():
    def uses_helper(a):
        return _helper(a)

    assert rule(uses_helper) is None


def test_a_refused_jitted_callee_refuses_its_callers_transitively():
    @numba.njit
    def inner(a):
        return _stub_solve(a)

    @numba.njit
    def middle(a):
        return inner(a)

    def outer(a):
        return middle(a)

    assert rule(outer) == (
        "it calls middle, which cannot be interpreted: it calls inner, which cannot be "
        "interpreted: it calls _stub_solve, whose compiled meaning is an @overload in "
        "test_interpretable"
    )


def test_recursion_through_jitted_functions_ends():
    @jit
    def even(n):
        return True if n == 0 else odd(n - 1)

    @jit
    def odd(n):
        return False if n == 0 else even(n - 1)

    assert rule(even.py_func) is None and rule(odd.py_func) is None


def test_numbas_own_functions_are_refused():
    import numba.typed.typedlist as typedlist

    helper = next(v for v in vars(typedlist).values() if hasattr(v, "py_func"))
    assert rule(helper.py_func) == "it is Numba's own"


def test_fastmath_is_refused_unless_asked_for():
    def f(a):
        return a

    assert why_not(f, {"fastmath": True}, False).startswith("it uses fastmath")
    assert why_not(f, {"fastmath": {"reassoc"}}, False).startswith("it uses fastmath")
    assert why_not(f, {"fastmath": True}, True) is None


def test_the_numpy_error_model_is_refused():
    # numba-stats: compiled, 1 / 0.0 is inf; in Python it raises
    def f(a):
        return 1 / a

    assert "error_model='numpy'" in why_not(f, {"error_model": "numpy"}, True)
    assert why_not(f, {"error_model": "python"}, False) is None


def test_overloads_registered_after_a_first_answer_are_seen_by_the_next_function():
    def late(a):
        pass

    def first(a):
        return a

    assert rule(first) is None

    @overload(late)
    def _late_impl(a):
        return lambda a: a

    def second(a):
        return late(a)

    assert "it calls late" in rule(second)


def test_under_interpret_a_refused_function_gives_numbas_answer():
    @jit
    def solve(a):
        return _stub_solve(a)

    @jit
    def uses_list(n):
        items = List()
        for i in range(n):
            items.append(i)
        return len(items)

    with set_stance("interpret"):
        assert solve(2) == 20, "compiled: Python's stub would give None"
        assert uses_list(3) == 3, "interpreted: typed List works from Python"
    assert solve.fallbacks() == []
    assert [fb.reason for fb in uses_list.fallbacks()] == ["the stance is interpret"]
    set_stance("default")


@pytest.mark.parametrize("stance", ["adaptive", "background"])
def test_the_policy_stances_never_interpret_a_refused_function(stance):
    @jit
    def solve(a):
        return _stub_solve(a)

    with set_stance(stance):
        assert solve(2) == 20
    assert solve.fallbacks() == []
