"""Stances: one switch for every smart-jitted function, as a function, a
context manager and a decorator; each stance's behaviour against Numba's
answers (compiled) and Python's (interpreted)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import Future

import numba
import numpy as np
import pytest
from conftest import PATIENCE, compiles_during, run_threads

from smart_jit import Action, CompileForbidden, background, compile_process, jit, set_stance
from smart_jit.interpreted import REASON_BACKGROUND, REASON_POLICY
from smart_jit.records import Records
from smart_jit.stances import REASON_ADAPTIVE, REASON_INTERPRET, STANCES, current_name


def square(a):
    return a * a


BIG = 2**40  # its square wraps in int64: compiled and interpreted answers differ


@pytest.fixture(autouse=True)
def default_stance():
    assert current_name() == "default", "a test left a stance behind"
    yield
    set_stance("default")


def reasons(f):
    return {(sig, reason): calls for sig, reason, calls in f.fallbacks()}


def test_interpret_runs_the_python_function_even_where_an_overload_is_compiled():
    f = jit(square)
    assert f(BIG) == numba.njit(square)(BIG) != BIG * BIG  # compiled: wraps
    with set_stance("interpret"):
        assert f(BIG) == BIG * BIG  # Python's answer
        assert f(1.5) == 2.25
    assert f(BIG) == numba.njit(square)(BIG)
    assert [fb.reason for fb in f.fallbacks()] == [REASON_INTERPRET, REASON_INTERPRET]
    assert len(f.signatures) == 1, "interpreting compiled nothing"


def test_interpret_applies_to_functions_with_a_policy_of_their_own():
    f = jit(square, use_jit=lambda a: Action.JIT)
    f(3)
    with set_stance("interpret"):
        assert f(BIG) == BIG * BIG


def test_set_stance_called_switches_until_the_next_switch():
    f = jit(square)
    set_stance("interpret")
    assert current_name() == "interpret"
    assert f(BIG) == BIG * BIG
    set_stance("default")
    assert f(BIG) != BIG * BIG


def test_the_context_manager_restores_the_stance_it_replaced():
    set_stance("adaptive")
    with set_stance("interpret"):
        assert current_name() == "interpret"
        with set_stance("fail_on_compile"):
            assert current_name() == "fail_on_compile"
        assert current_name() == "interpret"
    assert current_name() == "adaptive"


def test_the_decorator_switches_for_each_call_not_at_decoration():
    f = jit(square)
    f(2)

    @set_stance("interpret")
    def interpreted_square(a):
        assert current_name() == "interpret"
        return f(a)

    assert current_name() == "default"
    assert interpreted_square(BIG) == BIG * BIG
    assert current_name() == "default"
    assert f(BIG) != BIG * BIG


def test_the_decorator_restores_the_stance_when_the_function_raises():
    @set_stance("interpret")
    def fails():
        raise KeyError("the user's error")

    with pytest.raises(KeyError, match="the user's error"):
        fails()
    assert current_name() == "default"


@pytest.mark.parametrize("name", ["", "Interpret", "eager", None, 3])
def test_an_unknown_stance_is_one_value_error_listing_the_stances(name):
    with pytest.raises(ValueError) as info:
        set_stance(name)
    assert repr(name) in str(info.value)
    for known in STANCES:
        assert known in str(info.value)
    assert current_name() == "default"


def test_adaptive_gives_a_policy_only_to_functions_without_one():
    own = jit(square, use_jit=lambda a: Action.JIT)
    none = jit(square)
    with set_stance("adaptive"):
        assert own(3) == 9 and len(own.signatures) == 1
        assert compiles_during(lambda: none(3)) == 0, "adaptive interprets first"
        assert none(BIG) == BIG * BIG
    assert reasons(none) == {((numba.int64,), REASON_ADAPTIVE): 2}
    assert none(3) == 9 and len(none.signatures) == 1, "the default stance compiles"


def test_adaptive_keeps_one_policy_per_function_across_switches():
    f = jit(square)
    with set_stance("adaptive"):
        f(2)
        first = STANCES["adaptive"].policy_for(f)
    with set_stance("adaptive"):
        assert STANCES["adaptive"].policy_for(f) is first
        f(2)
    assert reasons(f) == {((numba.int64,), REASON_ADAPTIVE): 2}


def test_adaptive_does_not_compile_types_explicit_signatures_refuse():
    f = jit(["float64(float64)"])(square)
    with set_stance("adaptive"):
        with pytest.raises(TypeError, match="No matching definition"):
            f("text")
        assert f(3) == 9.0  # converted to the declared signature, as in Numba
    assert len(f.signatures) == 1


def test_background_serves_misses_in_python_while_they_compile():
    f = jit(square)
    with set_stance("background"):
        assert f(BIG) == BIG * BIG  # served by Python while it compiles
        assert f.wait_compiled(PATIENCE)
        assert f(BIG) == numba.njit(square)(BIG)
    assert reasons(f) == {((numba.int64,), REASON_BACKGROUND): 1}


def test_fail_on_compile_names_the_function_and_the_types():
    f = jit(square)
    f(2)
    with set_stance("fail_on_compile"):
        assert f(3) == 9, "a compiled overload runs"
        with pytest.raises(CompileForbidden) as info:
            f(2.5)
    assert "square" in str(info.value) and "float64" in str(info.value)
    assert len(f.signatures) == 1
    assert f(2.5) == 6.25


def test_fail_on_compile_is_not_turned_into_an_interpreted_call_by_on_compile_error():
    f = jit(square, on_compile_error=Action.INTERPRETER)
    with set_stance("fail_on_compile"), pytest.raises(CompileForbidden):
        f(2)
    assert f.fallbacks() == []


def test_fail_on_compile_forbids_the_compile_a_caller_asks_for():
    callee = jit(square)

    @numba.njit
    def caller(a):
        return callee(a) + 1

    # Numba 0.68 lets the error through the caller's typing as it is; older
    # minors (0.59) wrap it in a TypingError that carries its text.
    refused = (CompileForbidden, numba.core.errors.TypingError)
    with set_stance("fail_on_compile"), pytest.raises(refused, match="square would compile"):
        caller(2)


def test_fail_on_compile_lets_functions_interpreted_by_their_policy_run():
    f = jit(square, use_jit=lambda a: Action.INTERPRETER)
    with set_stance("fail_on_compile"):
        assert f(BIG) == BIG * BIG
    assert reasons(f) == {((numba.int64,), REASON_POLICY): 1}


CACHED = """
import sys
from smart_jit import CompileForbidden, jit, set_stance

@jit(cache=True)
def cube(a):
    return a * a * a

if sys.argv[1] == "forbid":
    set_stance("fail_on_compile")
for value in (3, 1.5):
    try:
        print(cube(value))
    except CompileForbidden:
        print("forbidden")
"""


@pytest.mark.slow
def test_a_load_from_the_disk_cache_is_not_a_compile(tmp_path):
    script = tmp_path / "cached.py"
    script.write_text(CACHED)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PATH": ""}

    def run(mode):
        out = subprocess.run(
            [sys.executable, str(script), mode],
            capture_output=True, text=True, env=env, timeout=PATIENCE, cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert run("fill") == ["27", "3.375"]  # both compiled and saved
    assert run("forbid") == ["27", "3.375"], "both loaded from the cache"
    (tmp_path / "cache").rename(tmp_path / "gone")
    assert run("forbid") == ["forbidden", "forbidden"]


def test_a_function_that_cannot_be_interpreted_compiles_under_every_stance():
    @jit(fastmath=True)
    def add_assoc(a, b):
        return (a + b) - b

    plain = numba.njit(fastmath=True)(add_assoc.py_func)
    with set_stance("interpret"):
        assert add_assoc(0.0, np.inf) == plain(0.0, np.inf)
    with set_stance("adaptive"):
        assert add_assoc(1.0, 2.0) == plain(1.0, 2.0)
    assert add_assoc.fallbacks() == []
    assert "fastmath" in add_assoc.why_compiled()


def test_interpret_fastmath_is_the_explicit_option_for_fastmath_functions():
    f = jit(fastmath=True)(square)
    with set_stance("interpret", interpret_fastmath=True):
        assert f.why_compiled() is None
        assert f(BIG) == BIG * BIG
    assert f.why_compiled() is not None


def test_threads_calling_while_the_stance_switches_get_one_of_the_two_answers():
    f = jit(square)
    f(BIG)
    compiled, python = numba.njit(square)(BIG), BIG * BIG
    stop, seen, wrong = threading.Event(), set(), []

    def switch():
        while not stop.is_set():
            with set_stance("interpret"):
                pass

    switcher = threading.Thread(target=switch)
    switcher.start()
    try:

        def call(_):
            for _ in range(3000):
                answer = f(BIG)
                seen.add(answer)
                if answer not in (compiled, python):
                    wrong.append(answer)

        run_threads(3, call)
    finally:
        stop.set()
        switcher.join(PATIENCE)
    assert wrong == []
    assert current_name() == "default"
    assert f(BIG) == compiled, "the table is full again"


def run_python(code, **env):
    import os

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=PATIENCE,
    )


def test_smart_jit_stance_selects_a_stance_for_the_whole_process():
    out = run_python(
        """
        from smart_jit import jit
        from smart_jit.stances import current_name
        f = jit(lambda a: a * a)
        print(current_name(), f(2**40) == 2**80)
        """,
        SMART_JIT_STANCE="interpret",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["interpret", "True"]


def test_an_unknown_smart_jit_stance_fails_the_import_naming_the_variable():
    out = run_python("import smart_jit", SMART_JIT_STANCE="fastest")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: SMART_JIT_STANCE: unknown stance 'fastest'")
    assert "interpret" in last


# -- stances with the compile process ------------------------------------------


def test_background_compiles_in_the_compile_process_what_numba_compiles(monkeypatch):
    monkeypatch.setenv(compile_process.MODE_VARIABLE, "process")
    f = jit(square)
    before = compile_process.outcomes["compiled"]
    with set_stance("background"):
        assert f(BIG) == BIG * BIG  # Python's answer while the server compiles
        assert f.wait_compiled(PATIENCE)
        assert compile_process.outcomes["compiled"] == before + 1, "the server compiled it"
        assert f(BIG) == numba.njit(square)(BIG)
    assert reasons(f) == {((numba.int64,), REASON_BACKGROUND): 1}


@contextlib.contextmanager
def background_worker_held():
    """Hold the background worker in a job of its own until the block ends or
    ``release()`` is called, so that compiles queued meanwhile run only
    after that: a forced schedule."""
    gate = threading.Event()
    done: Future[None] = Future()
    background.submit(Records(), done, gate.wait)

    def release():
        gate.set()
        done.result(PATIENCE)

    try:
        yield release
    finally:
        release()


def test_a_compile_queued_before_fail_on_compile_does_not_run_under_it(compile_mode):
    """Thread or compile process alike: it is not remembered as a failure,
    and the next call, which needs a compile, is refused while the stance
    stands and compiles after it."""
    f = jit(square)
    with background_worker_held() as release:
        with set_stance("background"):
            assert f(BIG) == BIG * BIG  # queued behind the held job
        with set_stance("fail_on_compile"):
            release()
            assert f.wait_compiled(PATIENCE)
            assert f.signatures == [] and f._records.failures() == []
            with pytest.raises(CompileForbidden, match="square"):
                f(BIG)
    assert f(BIG) == numba.njit(square)(BIG)
    assert len(f.signatures) == 1


def test_interpret_while_a_compile_is_pending_runs_python_then_the_overload(compile_mode):
    f = jit(square)
    with background_worker_held() as release:
        with set_stance("background"):
            assert f(BIG) == BIG * BIG
        with set_stance("interpret"):
            assert f(BIG) == BIG * BIG
            release()
            assert f.wait_compiled(PATIENCE)
            assert f(BIG) == BIG * BIG, "interpret skips the overload that arrived"
    assert len(f.signatures) == 1
    assert f(BIG) == numba.njit(square)(BIG)
    assert reasons(f) == {
        ((numba.int64,), REASON_BACKGROUND): 1,
        ((numba.int64,), REASON_INTERPRET): 2,
    }
