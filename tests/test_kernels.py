"""The benchmarks' kernels, checked: what ``make bench`` times is what smart_jit
answers here, compiled as plain Numba answers and interpreted as Python does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numba
import numpy as np
import pytest

from smart_jit import Action, jit

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "kernels.py"
_spec = importlib.util.spec_from_file_location("benchmark_kernels", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

NAMES = [k.__name__ for k in bench.KERNELS]


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b or (a != a and b != b)


@pytest.mark.parametrize("name", NAMES)
def test_a_compiled_benchmark_kernel_answers_as_plain_numba(name):
    kernel, args = getattr(bench, name), bench.arguments(name)
    parallel = name in bench.PARALLEL
    ours = jit(use_jit=lambda *a: Action.JIT, parallel=parallel)(kernel)
    plain = numba.njit(parallel=parallel)(kernel)
    assert same(ours(*args), plain(*args))
    assert len(ours.signatures) == 1


@pytest.mark.parametrize("name", NAMES)
def test_an_interpreted_benchmark_kernel_answers_as_python(name):
    kernel, args = getattr(bench, name), bench.arguments(name)
    ours = jit(use_jit=lambda *a: Action.INTERPRETER)(kernel)
    assert same(ours(*args), kernel(*args))
    assert ours.signatures == []


def test_the_kernel_that_cannot_compile_is_served_by_the_interpreter():
    args = bench.arguments("cannot_compile")
    with pytest.raises(numba.core.errors.TypingError):
        numba.njit(bench.cannot_compile)(*args)
    ours = jit(use_jit=lambda *a: Action.JIT, on_compile_error=Action.INTERPRETER)(
        bench.cannot_compile
    )
    assert ours(*args) == bench.cannot_compile(*args)
    assert [fb.reason.split(":")[0] for fb in ours.fallbacks()] == ["compile failed"]
