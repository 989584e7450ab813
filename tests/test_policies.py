"""Ready-made use_jit policies."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from conftest import run_threads

from smart_jit import Action, jit
from smart_jit.policies import adaptive, after_calls, always, by_type, min_size


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
    with pytest.raises(ValueError):
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
    with pytest.raises(TypeError, match="by_type.. jit must be a type or a tuple of types"):
        by_type(jit=("int",))


class Opaque:
    """A class Numba cannot type."""


UNTYPABLE = [{"k": 1}, Opaque(), 2**64, {1, 2}]


@pytest.mark.parametrize("value", UNTYPABLE, ids=["dict", "instance", "int_2_64", "set"])
def test_after_calls_takes_every_value_the_dispatcher_takes(value):
    policy = after_calls(2)
    f = jit(lambda a: a, use_jit=policy)
    assert [f(value) for _ in range(2)] == [value, value]
    assert policy(value) is Action.JIT


def test_after_calls_types_an_int_as_the_dispatcher_does():
    policy = after_calls(1)
    policy(1)
    assert policy(2**70) is Action.JIT, "every Python int is one int64 signature"


def test_by_type_and_always_take_untypable_values():
    assert by_type(jit=dict, otherwise=Action.INTERPRETER)({"k": 1}) is Action.JIT
    assert always(Action.INTERPRETER)(Opaque()) is Action.INTERPRETER


def test_by_type_accepts_a_single_type():
    policy = by_type(jit=int, interpreter=[float])
    assert policy(1) is Action.JIT and policy(1.5) is Action.INTERPRETER


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: by_type(jit="int"), TypeError, r"by_type\(\) jit must be a type or a tuple"),
        (lambda: by_type(interpreter=(int, 3)), TypeError, r"by_type\(\) interpreter must be"),
        (lambda: by_type(arg="x"), TypeError, r"by_type\(\) arg must be a non-negative int"),
        (
            lambda: by_type(arg=-1),
            ValueError,
            r"by_type\(\) arg must be a non-negative int, got -1",
        ),
        (lambda: by_type(otherwise=5), TypeError, r"by_type\(\) otherwise must be an Action"),
        (lambda: min_size(-3), ValueError, r"min_size\(\) n must be a non-negative int, got -3"),
        (lambda: min_size(-1), ValueError, r"min_size\(\) n must be a non-negative int, got -1"),
        (lambda: min_size(10, arg=1.0), TypeError, r"min_size\(\) arg must be a non-negative"),
        (lambda: after_calls("5"), TypeError, r"after_calls\(\) n must be a non-negative int"),
        (lambda: after_calls(-3), ValueError, r"after_calls\(\) n must be a non-negative int"),
        (lambda: always("JIT"), TypeError, r"always\(\) takes an Action, got 'JIT'"),
    ],
)
def test_constructor_errors_name_the_policy_and_value(make, error, message):
    with pytest.raises(error, match=message) as caught:
        make()
    assert type(caught.value) is error


@pytest.mark.parametrize("policy", [adaptive, min_size, by_type, after_calls, always])
def test_a_policy_class_passed_uncalled_is_refused_at_decoration(policy):
    name = policy.__name__
    with pytest.raises(
        TypeError,
        match=rf"use_jit of .*double is the policy class {name}, "
        rf"not a policy: did you mean {name}\(\)\?",
    ):

        @jit(use_jit=policy)
        def double(a):
            return a + a


@pytest.mark.parametrize(
    "policy", [min_size(10, arg=2), by_type(arg=2), by_type(otherwise=min_size(1, arg=5))]
)
def test_an_argument_the_function_lacks_is_refused_at_decoration(policy):
    with pytest.raises(TypeError, match=r"use_jit of .*<lambda>: .* looks at argument"):
        jit(lambda a, b: a, use_jit=policy)


def test_a_policy_that_cannot_apply_names_policy_function_and_value():
    def kernel(a):
        return a

    f = jit(kernel, use_jit=min_size(10))
    with pytest.raises(TypeError) as caught:
        f(1.5)
    assert str(caught.value) == (
        "use_jit of test_a_policy_that_cannot_apply_names_policy_function_and_value.<locals>."
        "kernel: min_size(10, arg=0) cannot size argument 0, 1.5 (float): "
        "it has neither .size nor len()"
    )
    assert f.fallbacks() == [] and f.signatures == []


def test_a_policy_looking_past_a_short_star_call_names_the_function():
    f = jit(lambda *a: len(a), use_jit=by_type(arg=2, otherwise=Action.INTERPRETER))
    assert f(1, 2, 3) == 3
    with pytest.raises(TypeError, match=r"use_jit of .*<lambda>: by_type.* the call has 1"):
        f(1)
