"""Module-level smart-jitted functions, importable by worker processes."""

from __future__ import annotations

import numpy as np

from smart_jit import Action, jit


def big_arrays_only(a):
    return Action.JIT if np.size(a) >= 100 else Action.INTERPRETER


@jit(use_jit=big_arrays_only, warn_on_fallback=False, on_compile_error=Action.INTERPRETER)
def total(a):
    acc = 0.0
    for x in a:
        acc += x
    return acc


def ints_only(a):
    return Action.JIT if isinstance(a, int) else Action.INTERPRETER


@jit(["float64(float64)"], use_jit=ints_only)
def halve(a):
    return a / 2


def run_total_in_worker(a):
    """In a worker: run ``total``; report the result, its signatures and fallbacks."""
    result = total(a)
    signatures = [tuple(map(str, s)) for s in total.signatures]
    interpreted = sum(f.calls for f in total.fallbacks())
    return result, signatures, interpreted


def policy_of_total():
    return total.use_jit is big_arrays_only, total.on_compile_error


def queued_state_in_worker(payload):
    """In a worker: whether an unpickled dispatcher has compiles queued, and a call."""
    import pickle

    f = pickle.loads(payload)
    return f.wait_compiled(timeout=0), f(3)
