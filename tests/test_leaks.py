"""Long runs leave memory flat; a policy that re-enters its function is fine."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from smart_jit import Action, jit

CALLS = 100_000


def growth_over(calls, call):
    for _ in range(1_000):  # warm: first-time types, caches, counters
        call()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(calls):
            call()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


@pytest.mark.parametrize("action", [Action.INTERPRETER, Action.JIT])
def test_memory_stays_flat(action):
    f = jit(use_jit=lambda a, b=2: action)(lambda a, b=2: a + b)
    arr = np.ones(3)
    grown = growth_over(CALLS, lambda: (f(1), f(arr, b=3)))
    assert grown < 64 * 1024, f"{grown} bytes after {CALLS:,} calls of each kind"


def test_memory_stays_flat_with_events_and_warnings_filtered(record):
    import warnings

    f = jit(use_jit=lambda a: Action.INTERPRETER, warn_on_fallback=True)(lambda a: a)
    with record(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grown = growth_over(CALLS // 10, lambda: f(1))
    assert grown < 64 * 1024


@pytest.mark.parametrize("action", [Action.INTERPRETER, Action.JIT])
def test_policy_reentering_its_function_does_not_deadlock(action):
    depth = []

    def policy(n):
        if n > 0 and len(depth) < 5:
            depth.append(n)
            assert countdown(n - 1) == n - 1
        return action

    countdown = jit(use_jit=policy)(lambda n: n)
    assert countdown(3) == 3
    assert depth
