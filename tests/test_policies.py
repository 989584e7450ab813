"""Ready-made use_jit policies."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from conftest import run_threads

from smart_jit import Action, jit
from smart_jit.policies import after_calls, always, by_type, min_size


def test_always():
    assert always(Action.INTERPRETER)(1, 2) is Action.INTERPRETER
    with pytest.raises(TypeError, match="takes an Action"):
        always("JIT")


def test_min_size_on_arrays_and_sequences():
    policy = min_size(100)
    assert policy(np.zeros(99)) is Action.INTERPRETER
    assert policy(np.zeros((10, 10))) is Action.JIT
    assert policy([0] * 100) is Action.JIT
    assert min_size(3, arg=1)(None, (1, 2)) is Action.INTERPRETER
    with pytest.raises(TypeError):
        min_size(-1)


def test_min_size_is_the_seed_sum_fast_rule():
    @jit(use_jit=min_size(100_001))
    def total(a):
        return a.sum()

    total(np.zeros(1000))
    assert total.signatures == []
    total(np.zeros(1_000_000))
    assert len(total.signatures) == 1


def test_after_calls_interprets_n_calls_per_signature_then_jits():
    f = jit(lambda a: a + 1, use_jit=after_calls(3))
    for i in range(3):
        assert f(i) == i + 1 and f(float(i)) == i + 1.0
    assert f.signatures == []
    f(10)
    assert [tuple(map(str, s)) for s in f.signatures] == [("int64",)]
    assert {r.calls for r in f.fallbacks()} == {3}


def test_after_calls_counts_exactly_across_threads():
    policy = after_calls(50)
    answers, barrier = [], threading.Barrier(8)

    def work():
        barrier.wait()
        answers.extend(policy(1) for _ in range(20))

    run_threads(8, lambda _: work())
    assert answers.count(Action.INTERPRETER) == 50
    assert answers.count(Action.JIT) == 110


def test_after_calls_pickles_with_a_fresh_count():
    policy = after_calls(1)
    policy(1)
    clone = pickle.loads(pickle.dumps(policy))
    assert clone(1) is Action.INTERPRETER and clone(1) is Action.JIT


def test_by_type_is_the_seed_double_rule():
    policy = by_type(jit=(int,), raise_exception=(str,), otherwise=Action.INTERPRETER)

    @jit(use_jit=policy)
    def double(a):
        return a + a

    assert double(3) == 6 and double(4.4) == 8.8
    assert [tuple(map(str, s)) for s in double.signatures] == [("int64",)]
    with pytest.raises(TypeError, match="No matching definition"):
        double("hello")


def test_by_type_composes_with_another_policy():
    policy = by_type(raise_exception=(str,), otherwise=min_size(10))
    assert policy(np.zeros(20)) is Action.JIT
    assert policy(np.zeros(2)) is Action.INTERPRETER
    assert policy("x") is Action.RAISE_EXCEPTION
    assert by_type()(1.0) is Action.RAISE_EXCEPTION
    with pytest.raises(TypeError, match="tuples of types"):
        by_type(jit=("int",))
