"""Compiling in the background while the interpreter serves."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from conftest import PATIENCE, Policy, compiles_during, run_threads, uses_python_objects
from numba.core.compiler_lock import global_compiler_lock

from smart_jit import Action, NumbaInterpreterModeWarning, SmartDispatcher, jit
from smart_jit.interpreted import REASON_BACKGROUND


@pytest.fixture(autouse=True, params=["process", "thread"])
def compile_in(request, monkeypatch):
    """Every test here runs with compiles in the compile process and on the
    worker thread (subprocesses inherit the setting)."""
    monkeypatch.setenv("SMART_JIT_COMPILE", request.param)
    return request.param


def square(a):
    return a * a


def test_background_jit_interprets_then_hands_over(record):
    policy = Policy(Action.BACKGROUND_JIT)
    f = jit(square, use_jit=policy)
    with global_compiler_lock:  # hold the compile back: it stays queued
        with record() as rec:
            assert [f(3) for _ in range(5)] == [9] * 5
        assert rec.kinds() == {"interpreter_execution": 5}
        assert len(policy.calls) == 1, "pending types do not ask the policy again"
        assert f.wait_compiled(timeout=0.05) is False
        assert f.signatures == []
    assert f.wait_compiled(timeout=PATIENCE) is True
    assert [tuple(map(str, s)) for s in f.signatures] == [("int64",)]
    with record() as rec:
        assert f(4) == 16
    assert rec.kinds() == {"jit_execution": 1}
    [fallback] = f.fallbacks()
    assert (fallback.reason, fallback.calls) == (REASON_BACKGROUND, 5)


def test_one_compile_per_signature_however_many_calls():
    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))

    def calls():
        for _ in range(50):
            f(2)
            f(2.5)
        f.wait_compiled(PATIENCE)

    assert compiles_during(calls) == 2


def test_background_option_turns_jit_into_background_jit():
    f = jit(background=True)(square)
    assert f(3) == 9 and f.signatures == []
    assert f.wait_compiled(PATIENCE) and len(f.signatures) == 1
    g = jit(square, use_jit=Policy(Action.JIT), background=True)
    assert g(3) == 9 and g.signatures == []
    assert g.wait_compiled(PATIENCE) and len(g.signatures) == 1


def test_failed_background_compile_is_not_retried_and_warned_once(compile_in):
    f = jit(uses_python_objects, use_jit=Policy(Action.BACKGROUND_JIT), warn_on_fallback=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def calls():
            f(1)
            f.wait_compiled(PATIENCE)
            for _ in range(5):
                assert f(1) == 1
            f.wait_compiled(PATIENCE)

        # A failure in the compile process is confirmed on the thread: two compiles.
        assert compiles_during(calls) == (2 if compile_in == "process" else 1)
    background_warnings = [w for w in caught if "background compile failed" in str(w.message)]
    assert len(background_warnings) == 1
    assert issubclass(background_warnings[0].category, NumbaInterpreterModeWarning)
    reasons = {r.reason for r in f.fallbacks()}
    assert any(r.startswith("compile failed: TypingError") for r in reasons)


def test_foreground_compile_waits_for_the_background_lock():
    slow = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    other = jit(lambda a: a + 1, use_jit=Policy(Action.JIT))
    slow(1.5)
    assert other(1) == 2, "no deadlock with a background compile queued or running"
    assert slow.wait_compiled(PATIENCE)


def test_policy_that_calls_the_function_itself_does_not_deadlock():
    def policy(a):
        if a > 0:
            reentrant(a - 1)
        return Action.BACKGROUND_JIT

    reentrant = jit(square, use_jit=policy)
    assert reentrant(3) == 9
    assert reentrant.wait_compiled(PATIENCE)


def test_sixteen_threads_with_new_types_during_background_compiles():
    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    values = [np.int8(3), np.int16(3), np.int32(3), 3, np.float32(3), 3.0, 3j, np.uint8(3)]
    results, errors, barrier = [], [], threading.Barrier(16)

    def work(i):
        barrier.wait()
        try:
            for k in range(40):
                v = values[(i + k) % len(values)]
                results.append(f(v) == v * v)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def run():
        run_threads(16, work)
        f.wait_compiled(PATIENCE)

    assert compiles_during(run) == len(values)
    assert errors == [] and len(results) == 16 * 40 and all(results)
    assert len(f.signatures) == len(values)


def test_rebuilt_dispatcher_starts_with_nothing_queued():
    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    with global_compiler_lock:
        f(2)
        states = f._reduce_states()
        states["uuid"] = "fresh"
        clone = SmartDispatcher._rebuild(**states)
        assert clone.wait_compiled(timeout=0) is True
        assert pickle.loads(pickle.dumps(f)) is f
    assert f.wait_compiled(PATIENCE)


def _child_calls(f, queue):
    queue.put((f(4), f(2.5), f.wait_compiled(PATIENCE), len(f.signatures)))


def test_fork_while_a_compile_is_queued_starts_afresh():
    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    slow = threading.Thread(target=lambda: [f(np.float32(i)) for i in range(3)])
    f(7)
    slow.start()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_calls, args=(f, queue))
    child.start()
    result = queue.get(timeout=PATIENCE)
    child.join(timeout=PATIENCE)
    slow.join()
    assert result[0] == 16 and result[1] == 6.25 and result[2] is True
    assert result[3] >= 2, "the child compiled in its own worker"
    assert child.exitcode == 0
    assert f.wait_compiled(PATIENCE)


def run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=dict(os.environ, **env),
    )


def test_worker_starts_lazily_and_exit_does_not_hang():
    out = run_python(
        """
        import threading
        import smart_jit
        from smart_jit import jit
        names = lambda: [t.name for t in threading.enumerate()]
        @jit(background=True)
        def f(a):
            return a + 1
        print("smart_jit-background-compiler" in names())
        f(1)
        f.wait_compiled()
        print("smart_jit-background-compiler" in names())
        for t in (1.5, 1j, True):
            f(t)
        print("exiting with compiles queued")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False", "True", "exiting with compiles queued"]


def test_background_compile_writes_the_disk_cache(tmp_path):
    (tmp_path / "mod.py").write_text(
        textwrap.dedent(
            """
        from smart_jit import jit
        @jit(background=True, cache=True)
        def f(a):
            return a * 3
        """
        )
    )
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}
    first = run_python("from mod import f; print(f(2), f.wait_compiled())", **env)
    assert first.stdout.split() == ["6", "True"], first.stderr
    second = run_python("from mod import f; print(f(2), f.signatures, f.fallbacks())", **env)
    assert second.stdout.strip().split(maxsplit=1) == ["6", "[(int64,)] []"], second.stderr


def test_pickled_into_a_spawned_worker_with_compiles_queued():
    import kernels

    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        with global_compiler_lock:  # the parent's compile stays queued while we pickle
            f(2)
            assert f.wait_compiled(timeout=0) is False
            payload = pickle.dumps(f)
            future = pool.submit(kernels.queued_state_in_worker, payload)
        assert future.result(timeout=PATIENCE) == (True, 9)
    assert f.wait_compiled(PATIENCE)


def test_recompile_waits_for_queued_background_compiles():
    """wait_compiled tells the truth after recompile: nothing lands later."""
    f = jit(square, use_jit=Policy(Action.BACKGROUND_JIT))
    results = {}
    with global_compiler_lock:  # the compile stays queued until recompile runs
        assert f(3) == 9
        assert f.wait_compiled(timeout=0.05) is False
        recompiling = threading.Thread(target=lambda: results.update(done=f.recompile()))
        recompiling.start()
        recompiling.join(0.2)
        assert recompiling.is_alive(), "recompile waits for the queued compile"
    recompiling.join(PATIENCE)
    assert not recompiling.is_alive()
    assert f.wait_compiled(0) is True
    signatures = list(f.signatures)
    assert [tuple(map(str, s)) for s in signatures] == [("int64",)]
    assert f(4) == 16 and f.signatures == signatures


def test_a_function_asking_for_literal_arguments_compiles_from_its_next_call(monkeypatch):
    """numba.literally needs the call's values, which a compile from types
    alone does not have: no failure is recorded, and the next call compiles
    as Numba's own miss path does, for the value it is given."""
    import numba
    from numba import literally

    def shifted(a, b):
        return literally(b) + a

    f = jit(background=True, use_jit=lambda a, b: Action.JIT)(shifted)
    plain = numba.njit(shifted)
    assert f(1, 2) == plain(1, 2) == 3
    assert f.wait_compiled(PATIENCE)
    assert f(1, 2) == 3 and f(5, 7) == plain(5, 7) == 12
    assert sorted(map(str, f.signatures)) == sorted(map(str, plain.signatures))
    assert [fb.reason for fb in f.fallbacks()] == ["compiling in the background"]
    assert f._reduce_states()["failures"] == []
