"""Module-level smart-jitted functions, importable by worker processes."""

from __future__ import annotations

import time

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


def slow_to_compile(a):
    """About 1.5 s to compile (a loop, np.sort, np.std), 0.4 ms interpreted on
    1,000 elements: the kernel of benchmarks/background.py."""
    acc = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        if x > 0:
            acc += np.sqrt(x) * np.sin(x)
        else:
            acc -= np.cos(x)
    srt = np.sort(a)
    return acc + np.mean(a) + np.std(a) + srt[len(srt) // 2]


class Stall(int):
    """Numba types it as an int; unpickling it sleeps for an hour, so a
    compile process that receives it is stuck in that compile."""

    def __reduce__(self):
        return (time.sleep, (3600,))


STALL = Stall(4)


def adds_stall(x):
    return x + STALL


def call_counting_compiles(f, *args):
    """In a worker: call *f*; its result, how many compiles Numba started
    meanwhile, and the signatures *f* then has."""
    from numba.core import event

    recorder = event.RecordingListener()
    with event.install_listener("numba:compile", recorder):
        result = f(*args)
    compiles = sum(1 for _, e in recorder.buffer if e.is_start)
    return result, compiles, [tuple(map(str, s)) for s in f.signatures]


def unpickle_counting_compiles(data, *args):
    """In a worker: unpickle a dispatcher (cloudpickle's bytes load with
    pickle) and call it with *args*; the compiles Numba started while
    unpickling, the result, and the compiles the call started."""
    import pickle

    from numba.core import event

    recorder = event.RecordingListener()
    with event.install_listener("numba:compile", recorder):
        f = pickle.loads(data)
    at_unpickling = sum(1 for _, e in recorder.buffer if e.is_start)
    result, at_call, _ = call_counting_compiles(f, *args)
    return at_unpickling, result, at_call


def recursive_functions(decorate):
    """A function calling itself, and two calling each other, made by
    *decorate* (closures: cloudpickle sends them by value)."""

    @decorate
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    @decorate
    def is_even(n):
        return True if n == 0 else is_odd(n - 1)

    @decorate
    def is_odd(n):
        return False if n == 0 else is_even(n - 1)

    return fact, is_even, is_odd


@jit
def square(a):
    """No policy of its own: what it does on a miss is the stance's."""
    return a * a


def set_stance_here(name):
    """In a worker: switch this process's stance; the stance now in force."""
    from smart_jit import set_stance
    from smart_jit.stances import current_name

    set_stance(name)
    return current_name()


def square_here(a):
    """In a worker: ``square(a)`` and how many signatures it has compiled there."""
    return square(a), len(square.signatures)
