"""cache=True: Numba's on-disk cache is consulted before the policy, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

MODULE = textwrap.dedent(
    """
    from smart_jit import Action, jit

    ACTION = Action.JIT

    def use_jit(a):
        print(f'called "use_jit" with {a}')
        return ACTION

    @jit(use_jit=use_jit, cache=True)
    def incr(a):
        return a + 1
    """
)


@pytest.fixture
def example(tmp_path):
    (tmp_path / "example.py").write_text(MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))

    def run(code):
        out = subprocess.run(
            [sys.executable, "-c", "from example import *\n" + textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        )
        return out.stdout

    return run


def test_seed_cache_example_across_processes(example):
    assert example("print(incr(4))") == 'called "use_jit" with 4\n5\n'
    assert example("print(incr(4)); print(incr(1.23))") == ('5\ncalled "use_jit" with 1.23\n2.23\n')
    assert example("print(incr(1.23)); print(incr.signatures)") == "2.23\n[(float64,)]\n"


def test_a_cache_written_by_another_process_is_found(example, tmp_path):
    code = """
        import subprocess, sys
        ACTION = Action.INTERPRETER
        import example; example.ACTION = Action.INTERPRETER
        print(incr(4))
        print(incr(4))
        subprocess.run([sys.executable, "-c", "from example import incr; incr(4)"], check=True,
                       capture_output=True)
        print(incr(4))
        print(incr.signatures, incr.stats.cache_hits)
    """
    out = example(code).splitlines()
    assert out == [
        'called "use_jit" with 4',
        "5",
        'called "use_jit" with 4',
        "5",
        "5",
        "[(int64,)] Counter({(int64,): 1})",
    ]
