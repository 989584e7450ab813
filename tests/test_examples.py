"""The examples run and say what they claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PATIENCE

pytestmark = pytest.mark.slow  # runs the examples

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=PATIENCE
    )


def test_sum_fast_demo_shows_interpreted_then_compiled():
    out = run("sum_fast.py")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("sum_fast(A_small) = 21065.833111") and "interpreted" in lines[0]
    assert "sum_fast(array(float64, 1d, C)) not using JIT" in lines[1]
    assert lines[2].startswith("sum_fast(A_big)") and lines[2].endswith("JIT-compiled")
    assert lines[3].startswith("sum_fast(A_small)") and lines[3].endswith("JIT-compiled")
    assert "('array(float64, 1d, C)',)" in lines[4]
    adaptive_part = out.stdout.split("use_jit=adaptive()", 1)[1]
    assert "  array(float64, 1d, C): " in adaptive_part
    assert "; switched to JIT at call " in adaptive_part  # 2,000 small calls: compiled
    assert "why: interpreted time reached the compile estimate" in adaptive_part
    assert "  array(float32, 1d, C): 0 calls interpreted (0 s); switched to JIT at call 1" in (
        adaptive_part
    )
    assert "why: that call alone was predicted to cost more than the compile" in adaptive_part


def test_dask_example_takes_both_paths():
    out = run("dask_map.py")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    assert "100 elements" in lines[0] and "(interpreted in its worker)" in lines[0]
    assert "200,000 elements" in lines[3] and "(compiled in its worker)" in lines[3]


def test_dask_compile_once_example_compiles_in_no_worker():
    out = run("dask_compile_once.py")
    assert out.returncode == 0, out.stderr
    without, with_code = out.stdout.splitlines()
    assert without.startswith("pickled without the code (as Numba): compile CPU in the workers")
    assert float(without.split("workers ")[1].split(" s")[0]) > 0.1
    assert with_code.startswith("pickled with the code: compile CPU in the workers 0.00 s")
