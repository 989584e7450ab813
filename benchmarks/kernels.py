"""Kernels the benchmarks compile and run: scalar code, loops, ufuncs, NumPy
library functions, array methods, a jitted callee, ``parallel=True``, and one
that cannot compile.  Plain functions: each benchmark decorates them as it
needs (``compile_costs.py`` with ``numba.njit``, ``policies.py`` with each
policy), and ``tests/test_kernels.py`` checks that smart_jit gives each one's
answers, so that what the benchmarks time is what the tests check."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def add(a, b):
    return a + b


def sum_fast(A):
    acc = 0.0
    for x in A:
        acc += np.sqrt(x)
    return acc


def slow_kernel(a):
    acc = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        if x > 0:
            acc += np.sqrt(x) * np.sin(x)
        else:
            acc -= np.cos(x)
    srt = np.sort(a)
    return acc + np.mean(a) + np.std(a) + srt[len(srt) // 2]


def loop_arithmetic(a):
    acc = 0.0
    m = 0.0
    for i in range(a.shape[0]):
        x = a[i] * 3.0 + 1.0
        if x > m:
            m = x
        acc += x * x - m / (1.0 + abs(x))
    return acc + m


def sort(a):
    return np.sort(a)[0]


def std(a):
    return np.std(a)


def mean(a):
    return np.mean(a)


def median(a):
    return np.median(a)


def cumsum_argmax(a):
    return np.cumsum(a)[-1] + np.argmax(a)


def nested_loops(a):
    n = a.shape[0]
    acc = 0.0
    for i in range(min(n, 50)):
        for j in range(min(n, 50)):
            acc += a[i] * a[j]
    return acc


@njit
def _square_plus_one(x):
    return x * x + 1.0


def calls_a_jitted_helper(a):
    acc = 0.0
    for x in a:
        acc += _square_plus_one(x)
    return acc


def histogram(a):
    h, e = np.histogram(a, bins=10)
    return h[0] + e[0]


def unique(a):
    return np.unique(a)[0]


def convolve(a):
    return np.convolve(a, a[:3])[0]


def interp(a):
    return np.interp(0.5, a, a)


def array_methods(a):
    return np.sqrt(a).sum() + (a * 2.0).max()


def many_ufuncs(a):
    return np.sum(np.sin(a) + np.cos(a) * np.exp(-a) + np.log1p(np.abs(a)) + np.tanh(a))


def sort_std_median_var(a):
    return np.sort(a)[0] + np.std(a) + np.median(a) + np.var(a)


def collatz(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def parallel_sum(a):
    acc = 0.0
    for i in prange(a.shape[0]):
        acc += np.sqrt(a[i])
    return acc


def cannot_compile(a):
    label = str(type(a))  # no nopython implementation: the compile fails
    return len(label) + a[0]


# The kernels benchmarks/compile_costs.py predicts and measures.
KERNELS = [
    add, sum_fast, slow_kernel, loop_arithmetic, sort, std, mean, median, cumsum_argmax,
    nested_loops, calls_a_jitted_helper, histogram, unique, convolve, interp, array_methods,
    many_ufuncs, sort_std_median_var, collatz, parallel_sum,
]  # fmt: skip
PARALLEL = {"parallel_sum"}


def arguments(name: str) -> tuple[object, ...]:
    """What the benchmarks and the tests call the kernel *name* with."""
    return {"add": (1.0, 2.0), "collatz": (27,)}.get(name, (np.arange(1.0, 100.0),))
