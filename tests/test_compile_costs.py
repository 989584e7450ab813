"""The record of compile costs, and the prediction for a compile not run yet."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import PATIENCE
from numba import njit, prange

from smart_jit import Action, jit
from smart_jit import compile_costs as cc


def sort_and_std(a):
    return np.sort(a)[0] + np.std(a)


def ufunc_loop(a):
    acc = 0.0
    for x in a:
        acc += np.sqrt(x)
    return acc


def methods(a):
    return np.sqrt(a).sum() + (a * 2.0).max() + a.shape[0]


@njit
def helper(x):
    return np.cos(x) + np.median(np.ones(3))


def calls_helper(a):
    return helper(a[0])


def parallel_loop(a):
    acc = 0.0
    for i in prange(a.shape[0]):
        acc += a[i]
    return acc


def test_a_top_level_compile_is_recorded_with_its_types_and_time():
    f = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 1)
    f(1.5)
    [record] = cc.compiles_of(f)
    assert tuple(map(str, record.argtypes)) == ("float64",)
    assert 0 < record.seconds < 60 and not record.failed
    assert cc.has_compiled()


def test_callees_compile_inside_their_caller_and_are_not_counted_again():
    @njit
    def inner(x):
        return x * 2

    f = jit(use_jit=lambda a: Action.JIT)(lambda a: inner(a) + 1)
    before = cc.generation()
    f(3.0)
    assert cc.generation() == before + 1  # one top-level compile: f's
    assert len(cc.compiles_of(f)) == 1
    assert cc.compiles_of(inner) == []


def test_a_failed_compile_is_flagged():
    f = jit(use_jit=lambda a: Action.JIT, on_compile_error=Action.INTERPRETER)(
        lambda a: {"k": object(), "v": a}["v"]
    )
    assert f(1) == 1
    [record] = cc.compiles_of(f)
    assert record.failed


def test_a_compile_in_another_thread_is_recorded_there():
    f = jit(use_jit=lambda a: Action.JIT)(lambda a: a - 1)
    thread = threading.Thread(target=f, args=(2.0,))
    thread.start()
    thread.join()
    assert len(cc.compiles_of(f)) == 1


def test_features_count_what_compiles():
    found = cc.features(sort_and_std)
    assert (found.library_functions, found.ufuncs, found.methods) == (2, 0, 0)
    found = cc.features(ufunc_loop)
    assert (found.library_functions, found.ufuncs, found.loops) == (0, 1, 1)
    found = cc.features(methods)
    assert found.methods == 2 and found.ufuncs == 1  # sum, max; shape is data
    found = cc.features(calls_helper)  # the jitted callee's code counts in
    assert (found.library_functions, found.ufuncs) == (2, 1)  # median, ones; cos
    assert cc.features(parallel_loop, parallel=True).parallel
    assert not cc.features(parallel_loop).parallel  # the option, not the memo, decides
    assert (
        cc.features(parallel_loop, parallel=True).predicted()
        > cc.features(parallel_loop).predicted()
    )


def test_features_resolve_closure_cells():
    sort = np.sort

    def closure(a):
        return sort(a)[0]

    assert cc.features(closure).library_functions == 1


def test_more_library_functions_predict_a_longer_compile():
    def scalar(a):
        return a + 1

    assert cc.features(scalar).predicted() < cc.features(ufunc_loop).predicted()
    assert cc.features(ufunc_loop).predicted() < cc.features(sort_and_std).predicted()


def test_estimate_is_measured_after_a_compile_of_the_same_function():
    f = jit(use_jit=lambda a: Action.JIT)(ufunc_loop)
    assert cc.estimate(f).basis.startswith("predicted from bytecode")
    f(np.ones(3))
    took = cc.compiles_of(f)[0].seconds
    measured = cc.estimate(f)
    assert measured.basis.startswith("measured: 1 earlier compile")
    assert measured.seconds <= took


def test_a_fresh_process_knows_it_has_not_compiled_and_adds_the_first_compile_cost():
    code = """
import json
import numpy as np
from smart_jit import Action, jit
from smart_jit import compile_costs as cc

f = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 1)
before = (cc.has_compiled(), cc.estimate(f))
f(1.0)
[record] = cc.compiles_of(f)
print(json.dumps([before[0], before[1].seconds, before[1].basis, record.first_in_process,
                  cc.has_compiled()]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=PATIENCE
    )
    compiled_before, seconds, basis, first, compiled_after = json.loads(out.stdout)
    assert not compiled_before and basis.endswith("first compile in this process")
    assert seconds >= cc.FIRST_IN_PROCESS
    assert first and compiled_after


def test_calibration_is_actual_over_predicted(monkeypatch):
    monkeypatch.setattr(cc, "_ratios", [2.0, 4.0, 100.0])
    assert cc.calibration() == (4.0, 3)
    f = jit(use_jit=lambda a: Action.JIT)(sort_and_std)
    estimate = cc.estimate(f)
    assert estimate.seconds == pytest.approx(4.0 * cc.features(sort_and_std).predicted())
    assert "x4.00 from 3 compile(s)" in estimate.basis


def test_numba_is_failed_is_still_inverted():
    """compile_costs reads the exception itself because Numba's Event.is_failed
    answers the opposite; if Numba fixes it, this fails and failed() can use it."""
    from numba.core import event

    assert event.Event("k", event.EventStatus.END).is_failed
    failed = event.Event("k", event.EventStatus.END, exc_details=(ValueError, ValueError(), None))
    assert not failed.is_failed
    assert cc.failed(failed) and not cc.failed(event.Event("k", event.EventStatus.END))


def test_a_failure_of_ours_never_breaks_a_compile(monkeypatch):
    def broken(*args):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(cc, "_scan", broken)  # e.g. a global whose getattr raises
    f = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 1)
    assert f(1) == 2 and cc.features(f.py_func).instructions == 0
    monkeypatch.setattr(cc, "_record", broken)
    g = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 2)
    assert g(1) == 3 and len(g.signatures) == 1


def test_loops_in_comprehensions_and_inner_functions_are_counted():
    def comprehension(a):
        return sum([x * 2.0 for x in a])

    def generator(a):
        return sum(x * 2.0 for x in a)

    def inner(a):
        def each(x):
            total = 0.0
            for i in range(x):
                total += i
            return total

        return each(a)

    for function in (comprehension, generator, inner):
        assert cc.features(function).loops > 0, function.__name__


def test_a_huge_first_call_looping_in_a_comprehension_is_compiled():
    from smart_jit.policies import adaptive

    @jit(use_jit=adaptive())
    def doubled_sum(a):
        return sum([x * 2.0 for x in a])

    a = np.ones(3_000_000)
    assert doubled_sum(a) == 6_000_000.0
    assert doubled_sum.fallbacks() == [] and len(doubled_sum.signatures) == 1
