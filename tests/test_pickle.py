"""Pickling into worker processes keeps the policy and the options."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import cloudpickle
import kernels
import numpy as np

from smart_jit import Action, SmartDispatcher, jit


def test_round_trip_in_process_returns_the_same_dispatcher():
    clone = pickle.loads(pickle.dumps(kernels.halve))
    assert clone is kernels.halve, "Numba's uuid memo returns the same dispatcher"


def test_rebuild_from_state_keeps_policy_options_and_signatures():
    states = kernels.halve._reduce_states()
    states["uuid"] = "not-in-this-process"
    clone = SmartDispatcher._rebuild(**states)
    assert clone is not kernels.halve
    assert clone.use_jit is kernels.ints_only
    assert [tuple(map(str, s)) for s in clone.signatures] == [("float64",)]
    assert clone._can_compile is False
    assert clone(3) == 1.5, "conversion to the explicit signature"
    assert clone(1j) == 0.5j and len(clone.signatures) == 1, "complex: interpreted"


def test_spawned_workers_take_both_paths():
    small, big = np.arange(10.0), np.arange(1000.0)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        results = list(pool.map(kernels.run_total_in_worker, [small, big]))
        policy_kept = pool.submit(kernels.policy_of_total).result()
    (r_small, sigs_small, interp_small), (r_big, sigs_big, interp_big) = results
    assert r_small == small.sum() and r_big == big.sum()
    assert interp_small >= 1, "small array interpreted in the worker"
    assert ("array(float64, 1d, C)",) in sigs_big, "big array compiled in the worker"
    assert policy_kept == (True, Action.INTERPRETER)


def test_spawned_worker_receives_a_pickled_dispatcher():
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert pool.submit(kernels.halve, 2).result() == 1.0
        assert pool.submit(kernels.halve, 1j).result() == 0.5j


def test_cloudpickle_closure_by_value_keeps_the_policy():
    threshold = 3

    def policy(a):
        return Action.JIT if a > threshold else Action.INTERPRETER

    @jit(use_jit=policy, warn_on_fallback=True)
    def triple(a):
        return a * threshold

    payload = cloudpickle.dumps(triple)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        result = pool.submit(_call_pickled, payload, [1, 10]).result()
    assert result == ([3, 30], [("int64",)], True, True)


def _call_pickled(payload, values):
    f = cloudpickle.loads(payload)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [f(v) for v in values]
    return out, [tuple(map(str, s)) for s in f.signatures], f.warn_on_fallback, callable(f.use_jit)
