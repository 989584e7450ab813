"""Pickled dispatchers carry their compiled code to worker processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import cloudpickle
import distributed
import kernels
import numba
import numpy as np
import pytest
from conftest import compiles_during
from kernels import call_counting_compiles, unpickle_counting_compiles

from smart_jit import Action, SmartDispatcher, compiled_code, jit, shipping


def always_jit(*args):
    return Action.JIT


@pytest.fixture(scope="module")
def spawned():
    """Two spawn workers, shared by the tests here (each dispatcher is new)."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def in_a_worker(pool, f, *args):
    return pool.submit(call_counting_compiles, f, *args).result()


def test_a_worker_runs_what_the_parent_compiled_without_compiling(spawned):
    f = jit(use_jit=always_jit)(kernels.slow_to_compile)
    a = np.arange(100.0)
    expected = f(a)
    result, compiles, signatures = in_a_worker(spawned, f, a)
    assert (result, compiles) == (expected, 0)
    assert signatures == [("array(float64, 1d, C)",)]
    assert in_a_worker(spawned, f, a.astype(np.float32))[1] > 0, "new types compile as usual"


def test_without_the_switch_a_worker_compiles(spawned, monkeypatch):
    monkeypatch.setenv(shipping.SWITCH, "0")
    f = jit(use_jit=always_jit)(lambda x: x * 2)
    f(2)
    assert "code" not in f._reduce_states()
    assert in_a_worker(spawned, f, 2) == (4, 1, [("int64",)])


def test_a_closure_sent_with_cloudpickle(spawned):
    k = 3
    f = jit(use_jit=always_jit)(lambda x: x + k)
    f(1.5)
    data = cloudpickle.dumps(f)
    assert spawned.submit(unpickle_counting_compiles, data, 1.5).result() == (0, 4.5, 0)


def test_explicit_signatures_arrive_compiled(spawned):
    f = jit(["float64(float64)", "int64(int64)"], use_jit=always_jit)(lambda x: x)
    f((1, 2))  # the policy compiles one more overload in the parent
    data = cloudpickle.dumps(f)
    # Numba's rebuild compiles every declared signature: here none compiles.
    assert spawned.submit(unpickle_counting_compiles, data, 2.5).result() == (0, 2.5, 0)
    assert spawned.submit(unpickle_counting_compiles, data, (1, 2)).result() == (0, (1, 2), 0)
    assert spawned.submit(unpickle_counting_compiles, data, np.int32(7)).result() == (0, 7, 0)


def test_explicit_signatures_stay_the_only_ones_converted_to():
    f = jit(["float64(float64)"], use_jit=always_jit)(lambda x: x)
    f((1, 2))  # the policy compiles a tuple overload in the parent
    states = f._reduce_states()
    states["uuid"] = "explicit-" + states["uuid"]
    clone = SmartDispatcher._rebuild(**states)
    assert clone._declared == {(numba.float64,)}
    assert compiles_during(lambda: clone((3, 4))) == 0 and len(clone.signatures) == 2
    assert clone._declared == {(numba.float64,)}, "arrived, not declared"


def fails_to_compile(x):
    return [x, "a"]


def test_a_compile_the_parent_knows_fails_is_not_retried(spawned):
    f = jit(use_jit=always_jit, on_compile_error=Action.INTERPRETER)(fails_to_compile)
    assert f(1) == [1, "a"]
    result, compiles, signatures = in_a_worker(spawned, f, 1)
    assert (result, compiles, signatures) == ([1, "a"], 0, [])


def test_code_for_another_target_is_not_used():
    f = jit(use_jit=always_jit)(lambda x: x - 1)
    f(5)
    states = f._reduce_states()
    target, overloads = shipping.unseal(states["code"])
    elsewhere = shipping.seal(("0.0", *target[1:]), overloads)
    states.update(uuid="elsewhere-" + states["uuid"], code=elsewhere)
    clone = SmartDispatcher._rebuild(**states)
    assert clone._arrived.incompatible is not None and not clone._arrived.code
    assert compiles_during(lambda: clone(5)) == 1


def test_the_same_dispatcher_arriving_twice_is_installed_once(monkeypatch):
    f = jit(use_jit=always_jit)(lambda x: x * 10)
    f(1)
    rebuilt = []
    real = compiled_code.from_bytes
    monkeypatch.setattr(compiled_code, "from_bytes", lambda *a: rebuilt.append(1) or real(*a))
    states = f._reduce_states()
    states["uuid"] = "twice-" + states["uuid"]
    first = SmartDispatcher._rebuild(**states)
    assert compiles_during(lambda: first(2)) == 0
    second = SmartDispatcher._rebuild(**states)
    assert second is first and second(3) == 30
    assert rebuilt == [1]


def test_bytes_are_made_once_per_overload_however_often_pickled(monkeypatch):
    f = jit(use_jit=always_jit)(lambda x: x + 0.5)
    f(1.0)
    made = []
    real = compiled_code.to_bytes
    monkeypatch.setattr(compiled_code, "to_bytes", lambda c: made.append(1) or real(c))
    sizes = {len(pickle.dumps(f)) for _ in range(5)}
    assert made == [1] and len(sizes) == 1
    blob = f._reduce_states()["code"]
    assert f._reduce_states()["code"] is blob  # sealed once for the same overloads
    f(1)  # a second overload: only it is made, and a new blob
    pickle.dumps(f)
    assert made == [1, 1]
    assert len(shipping.unseal(f._reduce_states()["code"])[1]) == 2


def test_a_receiver_that_has_the_dispatcher_does_not_open_the_code(monkeypatch):
    f = jit(use_jit=always_jit)(lambda x: x * 7)
    f(1)
    data = pickle.dumps(f)
    opened = []
    real = shipping.unseal
    monkeypatch.setattr(shipping, "unseal", lambda blob: opened.append(1) or real(blob))
    assert pickle.loads(data) is f  # Numba's memo by uuid: nothing to open
    assert opened == []


def test_code_that_arrived_can_travel_on():
    f = jit(use_jit=always_jit)(lambda x: x * 3)
    f(2)
    states = f._reduce_states()
    states["uuid"] = "relay-" + states["uuid"]
    relay = SmartDispatcher._rebuild(**states)
    assert relay(2) == 6
    again = relay._reduce_states()
    assert [args for args, _ in shipping.unseal(again["code"])[1]] == [(numba.int64,)]


def cached_module(tmp_path, name, function, body, cache_dir):
    """Write module *name* with a ``cache=True`` smart function; the
    environment a fresh interpreter needs to import it."""
    (tmp_path / f"{name}.py").write_text(
        "from smart_jit import jit, Action\n"
        "@jit(use_jit=lambda x: Action.JIT, cache=True)\n"
        f"def {function}(x):\n"
        f"    return {body}\n"
    )
    return dict(os.environ, PYTHONPATH=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path / cache_dir))


def test_cache_true_worker_installs_and_writes_its_cache(tmp_path):
    env = cached_module(tmp_path, "cached_mod", "tripled", "x * 3", "parent")
    script = f"""
import multiprocessing, os, sys
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, {os.path.dirname(__file__)!r})
from kernels import call_counting_compiles
from cached_mod import tripled
if __name__ == "__main__":
    tripled(2)
    os.environ["NUMBA_CACHE_DIR"] = {str(tmp_path / "worker")!r}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        print(pool.submit(call_counting_compiles, tripled, 2).result())
"""
    (tmp_path / "main.py").write_text(script)
    out = subprocess.run(
        [sys.executable, str(tmp_path / "main.py")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(6, 0, [('int64',)])"
    written = list((tmp_path / "worker").rglob("*.nbi"))
    assert written, "the worker wrote its own disk cache"


def test_dask_workers_run_the_client_s_code_without_compiling():
    f = jit(use_jit=always_jit)(kernels.slow_to_compile)
    a = np.arange(50.0)
    expected = f(a)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        futures = client.map(call_counting_compiles, [f] * 4, [a] * 4, pure=False)
        results = client.gather(futures)
    assert [(r, c) for r, c, _ in results] == [(expected, 0)] * 4


def test_an_overload_loaded_from_the_disk_cache_travels_too(tmp_path):
    env = cached_module(tmp_path, "disk_mod", "plus_two", "x + 2", "cache")
    code = (
        "import pickle, sys; from disk_mod import plus_two; plus_two(1);"
        "print(plus_two.stats.cache_hits, 'code' in plus_two._reduce_states())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == [
        "Counter() True",
        "Counter({(int64,): 1}) True",
    ], [r.stderr for r in runs]
