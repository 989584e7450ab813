"""Differential property tests: for every generated input and every Action,
the smart-jitted result equals its oracle exactly (an interpreted call the
plain Python function's result, a compiled call plain ``numba.njit``'s on the
same function), and exactly one execution event of the right kind fired.

Examples are derandomized (see conftest): the same inputs on every run.
``pytest --hypothesis-profile=explore tests/test_differential.py`` draws fresh
ones.

Hypothesis generates 50 inputs per kernel; each is checked under four actions
and ``policies.adaptive()`` (14 kernels x 50 x 5 = 3,500 cases per run), once
with event listeners installed (matched calls routed through Python) and once
without (Numba's C fast path; not for adaptive, whose way is known only from
the event).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from conftest import PATIENCE, recording
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from smart_jit import Action, jit
from smart_jit.policies import adaptive

EXAMPLES = 50
ACTIONS = (Action.JIT, Action.INTERPRETER, Action.BACKGROUND_JIT, Action.RAISE_EXCEPTION)
EXPECTED_KIND = {
    Action.JIT: "jit_execution",
    Action.INTERPRETER: "interpreter_execution",
    Action.RAISE_EXCEPTION: None,
}


def arith(a, b):
    return a * b + a - b


def poly(x, c0=1.0, c1=-2.0, c2=0.5):
    return c0 + c1 * x + c2 * x * x


def total(a):
    acc = a.dtype.type(0) if hasattr(a, "dtype") else 0
    for i in range(a.shape[0]):
        acc += a[i]
    return acc


def rows_sum(m):
    out = np.zeros(m.shape[0])
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[i] += m[i, j]
    return out


def array_sum(a):
    return a.sum()


def maximum(a):
    best = a[0]
    for x in a:
        if x > best:
            best = x
    return best


def dot(a, b):
    acc = 0.0
    for i in range(min(a.shape[0], b.shape[0])):
        acc += a[i] * b[i]
    return acc


def cumulative(a):
    return np.cumsum(a)


def norm2(z):
    return (z * z.conjugate()).real


def pair(t):
    return t[0] * 2 + t[1]


def clip_count(a, low=0.0, high=1.0):
    n = 0
    for x in a:
        if low <= x <= high:
            n += 1
    return n


def text_len(s, t):
    return len(s) * 2 + len(t)


def labelled(pair):
    return len(pair[0]) + pair[1]


def mixed(n, x, flag):
    acc = 0.0
    for _i in range(n):
        acc += x if flag else -x
    return acc


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
small_ints = st.integers(-(2**20), 2**20)
dtypes = st.sampled_from([np.int32, np.int64, np.float32, np.float64])


@st.composite
def vectors(draw, dtype=None, min_size=1):
    dtype = dtype or draw(dtypes)
    elements = finite if np.dtype(dtype).kind == "f" else small_ints
    if np.dtype(dtype) == np.float32:
        elements = st.floats(-1e3, 1e3, width=32, allow_nan=False)
    a = draw(hnp.arrays(dtype, st.integers(min_size, 40), elements=elements))
    layout = draw(st.sampled_from(["C", "strided", "reversed"]))
    if layout == "strided":
        a = np.repeat(a, 2)[::2]
    elif layout == "reversed":
        a = a[::-1]
    return a


@st.composite
def matrices(draw):
    dtype = draw(dtypes)
    elements = finite if np.dtype(dtype).kind == "f" else small_ints
    if np.dtype(dtype) == np.float32:
        elements = st.floats(-1e3, 1e3, width=32, allow_nan=False)
    m = draw(hnp.arrays(dtype, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=elements))
    return m.T if draw(st.booleans()) else m


KERNELS = {
    "arith": (arith, st.tuples(st.one_of(small_ints, finite), st.one_of(small_ints, finite)), {}),
    "poly": (poly, st.tuples(finite), {"kw": st.fixed_dictionaries({}, optional={"c1": finite})}),
    "total": (total, st.tuples(vectors()), {}),
    "rows_sum": (rows_sum, st.tuples(matrices()), {}),
    "array_sum": (array_sum, st.tuples(vectors()), {}),
    "maximum": (maximum, st.tuples(vectors()), {}),
    "dot": (dot, st.tuples(vectors(np.float64), vectors(np.float64)), {}),
    "cumulative": (cumulative, st.tuples(vectors()), {}),
    "norm2": (
        norm2,
        st.tuples(st.complex_numbers(max_magnitude=1e6, allow_nan=False, allow_infinity=False)),
        {},
    ),
    "pair": (pair, st.tuples(st.tuples(small_ints, st.one_of(small_ints, finite))), {}),
    "clip_count": (
        clip_count,
        st.tuples(vectors(np.float64)),
        {"kw": st.fixed_dictionaries({}, optional={"high": finite})},
    ),
    "mixed": (mixed, st.tuples(st.integers(0, 50), finite, st.booleans()), {}),
    "text_len": (text_len, st.tuples(st.text(max_size=20), st.text(max_size=5)), {}),
    "labelled": (
        labelled,
        st.tuples(st.tuples(st.text(max_size=8), st.one_of(small_ints, finite))),
        {},
    ),
}


def assert_same(got, want):
    """Equal to the last bit (NaNs equal), and of the same type."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, strict=True)
    elif isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    else:
        np.testing.assert_equal(got, want)


def make_dispatchers(func):
    dispatchers = {
        action: jit(use_jit=lambda *a, _action=action: _action)(func) for action in ACTIONS
    }
    # A learning policy that interprets a few calls of each signature and then
    # compiles: whichever way a call ran, it agrees with that way's oracle.
    dispatchers["adaptive"] = jit(use_jit=adaptive(compile_cost=2e-5))(func)
    return dispatchers


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_smart_jit_agrees_with_python(name):
    func, args_strategy, extra = KERNELS[name]
    dispatchers = make_dispatchers(func)
    compiled_oracle = numba.njit(func)
    kwargs_strategy = extra.get("kw", st.just({}))
    seen = {"examples": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(args=args_strategy, kwargs=kwargs_strategy)
    def check(args, kwargs):
        seen["examples"] += 1
        oracle = {
            "interpreter_execution": func(*args, **kwargs),
            "jit_execution": compiled_oracle(*args, **kwargs),
        }
        for action, f in dispatchers.items():
            with recording() as rec:
                if action is Action.RAISE_EXCEPTION:
                    with pytest.raises(TypeError, match="No matching definition"):
                        f(*args, **kwargs)
                    result = None
                else:
                    result = f(*args, **kwargs)
            kinds = rec.kinds()
            if action == "adaptive":
                [(kind, count)] = kinds.items()
                assert count == 1
                assert_same(result, oracle[kind])
                continue
            if action is Action.BACKGROUND_JIT:
                [(kind, count)] = kinds.items()  # interpreted, or compiled by now
                assert count == 1
            else:
                kind = EXPECTED_KIND[action]
                assert kinds == ({} if kind is None else {kind: 1})
            if kind is not None:
                assert_same(result, oracle[kind])
            if action is not Action.RAISE_EXCEPTION:
                f.wait_compiled(PATIENCE)  # BACKGROUND_JIT: compiled from here on
                kind = "interpreter_execution" if action is Action.INTERPRETER else "jit_execution"
                assert_same(f(*args, **kwargs), oracle[kind])  # no listener: the C fast path

    check()
    assert seen["examples"] >= EXAMPLES * 0.8
    learning = dispatchers["adaptive"]
    assert learning.fallbacks() and learning.signatures  # it took both ways
