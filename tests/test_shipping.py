"""Pickled dispatchers carry their compiled code to worker processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.reduction import ForkingPickler

import cloudpickle
import distributed
import kernels
import numba
import numpy as np
import pytest
from conftest import PATIENCE, compiles_during
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
    assert clone._incoming.incompatible is not None and not clone._incoming.code
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


UNPICKLED_POLICIES = []


class CountedPolicy:
    """A policy that notes each time it is unpickled."""

    def __call__(self, *args):
        return Action.JIT

    def __reduce__(self):
        return (_unpickle_counted, ())


def _unpickle_counted():
    UNPICKLED_POLICIES.append(1)
    return CountedPolicy()


def test_a_receiver_that_has_the_dispatcher_unpickles_nothing_else():
    f = jit(use_jit=CountedPolicy())(lambda x: x * 11)
    f(1)
    UNPICKLED_POLICIES.clear()
    for data in (pickle.dumps(f), cloudpickle.dumps(f), bytes(ForkingPickler.dumps(f))):
        assert pickle.loads(data) is f
    assert UNPICKLED_POLICIES == []
    states = f._reduce_states()  # as __reduce__ packs them, for a process without f
    uuid = "elsewhere-" + states.pop("uuid")
    clone = SmartDispatcher._rebuild(uuid=uuid, packed=cloudpickle.dumps(states))
    assert clone is not f and clone(2) == 22 and UNPICKLED_POLICIES == [1]


def test_functions_that_refer_to_themselves_pickle_and_run(spawned):
    """A function calling itself travels compiled; mutual recursion, which
    Numba links at run time in the compiling process, compiles again."""
    fact, is_even, _ = kernels.recursive_functions(jit(use_jit=always_jit))
    assert (fact(6), is_even(7)) == (720, False)
    data = cloudpickle.dumps(fact)
    assert pickle.loads(data) is fact
    assert spawned.submit(unpickle_counting_compiles, data, 6).result() == (0, 720, 0)
    cres = is_even.overloads[(numba.int64,)]
    assert "calls itself through another function" in compiled_code.why_not_portable(cres)
    assert "code" not in is_even._reduce_states()
    data = cloudpickle.dumps(is_even)
    assert pickle.loads(data) is is_even
    at_unpickling, result, compiles = spawned.submit(unpickle_counting_compiles, data, 8).result()
    assert (at_unpickling, result) == (0, True) and compiles >= 1


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


# -- processes of this machine: multiprocessing's pickler sends a reference --


def test_multiprocessing_sends_a_reference_and_other_picklers_the_code():
    f = jit(use_jit=always_jit)(kernels.slow_to_compile)
    f(np.arange(3.0))
    embedded = pickle.dumps(f)
    local = bytes(ForkingPickler.dumps(f))
    assert len(local) < 2_000 < len(embedded)
    kind, path, digest = shipping._reference(f._outgoing, f._reduce_states()["code"])
    assert kind == "file" and digest in local.decode("latin-1")
    with open(path, "rb") as src:
        assert hashlib.sha256(src.read()).hexdigest() == digest
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0, "a private directory"
    assert bytes(ForkingPickler.dumps(f)) == local, "written once, the same reference"
    assert len(cloudpickle.dumps(f)) > 30_000


def test_a_worker_reads_the_code_once_by_reference(spawned):
    f = jit(use_jit=always_jit)(lambda x: x * 5 + 1)
    f(2)
    data = bytes(ForkingPickler.dumps(f))
    assert spawned.submit(unpickle_counting_compiles, data, 3).result() == (0, 16, 0)


@pytest.mark.parametrize("damage", ["removed", "changed"])
def test_a_reference_to_a_file_gone_or_changed_is_not_used(spawned, damage):
    f = jit(use_jit=always_jit)(lambda x: x * 6 + 1)
    f(2)
    data = bytes(ForkingPickler.dumps(f))
    path = f._outgoing.published[2][1]
    if damage == "removed":
        os.remove(path)
    else:
        with open(path, "r+b") as out:
            out.write(b"\x80\x04N.")  # another pickle: would unpickle to None
    assert spawned.submit(unpickle_counting_compiles, data, 3).result() == (0, 19, 1)
    fresh = bytes(ForkingPickler.dumps(f))  # a removed file is written again
    if damage == "removed":
        assert os.path.exists(path) and fresh == data


def test_where_the_file_cannot_be_written_the_code_itself_goes(monkeypatch, spawned):
    f = jit(use_jit=always_jit)(lambda x: x * 9 + 1)
    f(2)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shipping.tempfile, "NamedTemporaryFile", full)
    monkeypatch.setattr(shipping, "_directory", [])
    monkeypatch.setattr(shipping.tempfile, "mkdtemp", full)
    data = bytes(ForkingPickler.dumps(f))
    assert len(data) > len(f._reduce_states()["code"]) and f._outgoing.published is None
    assert spawned.submit(unpickle_counting_compiles, data, 3).result() == (0, 28, 0)


def test_without_the_switch_no_reference_either(monkeypatch):
    monkeypatch.setenv(shipping.SWITCH, "0")
    f = jit(use_jit=always_jit)(lambda x: x * 8)
    f(1)
    assert len(bytes(ForkingPickler.dumps(f))) < 2_000
    assert f._outgoing.published is None


def test_the_directory_is_removed_at_exit_and_not_by_a_forked_child():
    script = textwrap.dedent(
        """
        import os, sys, threading
        from multiprocessing.reduction import ForkingPickler
        from smart_jit import Action, jit

        f = jit(use_jit=lambda *a: Action.JIT)(lambda x: x + 1)
        f(1)
        stop = threading.Event()

        def pickle_until_stopped():
            while not stop.is_set():
                ForkingPickler.dumps(f)

        busy = threading.Thread(target=pickle_until_stopped)
        busy.start()  # pickling on another thread while the main thread forks
        ForkingPickler.dumps(f)
        parent_path = f._outgoing.published[2][1]
        pid = os.fork()
        if pid == 0:
            ForkingPickler.dumps(f)
            child_path = f._outgoing.published[2][1]
            assert os.path.dirname(child_path) != os.path.dirname(parent_path)
            print(os.path.dirname(child_path), flush=True)
            sys.exit(0)  # runs the exit handlers of a forked child
        _, status = os.waitpid(pid, 0)
        assert status == 0, "the child's checks passed"
        stop.set()
        busy.join()
        assert os.path.exists(parent_path), "the child's exit left the parent's directory"
        print(os.path.dirname(parent_path), flush=True)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=PATIENCE, check=True
    )
    child_dir, parent_dir = out.stdout.split()
    assert not os.path.exists(parent_dir), "removed when the parent exited"
    assert not os.path.exists(child_dir), "the child removed its own"


def test_a_pickled_function_never_enters_a_disk_cache_its_file_no_longer_defines(tmp_path):
    """Version 1 (``x + 1``) is pickled; the file then says ``x + 100``.
    The receiver runs what it was sent (as a plain Numba dispatcher does),
    but writes none of it under the new file's stamp: later processes get
    what the file says, as with plain ``numba.njit(cache=True)``."""
    env = cached_module(tmp_path, "versioned_mod", "incr", "x + 1", "cache")
    pickled = tmp_path / "incr.pickle"
    send = (
        "import pickle\nfrom versioned_mod import incr\n"
        f"print(incr(1)); open({str(pickled)!r}, 'wb').write(pickle.dumps(incr))\n"
    )
    receive = f"import pickle\nprint(pickle.loads(open({str(pickled)!r}, 'rb').read())(1))\n"
    later = "from versioned_mod import incr\nprint(incr(1))\n"

    def run(code):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run(send) == "2"
    cached_module(tmp_path, "versioned_mod", "incr", "x + 100", "cache")  # a deployment
    assert run(receive) == "2"
    assert run(later) == "101"
    assert run(receive) == "2" and run(later) == "101"


def test_a_receiver_with_the_switch_off_uses_no_code_that_arrives(monkeypatch):
    f = jit(use_jit=always_jit)(lambda x: x * 4 + 3)
    f(2)
    sent = f._reduce_states()
    assert "code" in sent
    sent["uuid"] = "switched-off-" + sent["uuid"]
    monkeypatch.setenv(shipping.SWITCH, "0")
    relay = SmartDispatcher._rebuild(**sent)
    assert compiles_during(lambda: relay(2)) == 1 and relay(2) == 11


def test_a_file_published_for_local_workers_is_replaced_when_the_code_changes():
    f = jit(use_jit=always_jit)(lambda x: x + 1)
    paths = set()
    numbers = (np.int8, np.int16, np.uint16, np.uint32, np.float32, np.complex64)
    for value in (1, 1.5, 1j, True, *(kind(1) for kind in numbers)):
        f(value)
        ForkingPickler.dumps(f)
        paths.add(f._outgoing.published[2][1])
    assert len(f.signatures) == len(paths) == 10
    (current,) = [p for p in paths if os.path.exists(p)]  # the nine stale ones are gone
    with open(current, "rb") as src:
        assert src.read() == f._reduce_states()["code"]
