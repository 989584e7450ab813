"""A child forked while other threads use the package can decorate, call,
compile and listen: no lock of ours, nor Numba's compiler lock, is inherited
held, whatever the parent's threads were doing at the fork."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import traceback
import warnings

import pytest
from conftest import PATIENCE
from numba.core import event

from smart_jit import Action, jit
from smart_jit.policies import adaptive, after_calls

pytestmark = pytest.mark.slow  # forks under load

FORKS = 8  # per test; CI runs the suite four times (12 made it 90 s of each run)


class Quiet(event.Listener):
    def on_start(self, event):
        pass

    def on_end(self, event):
        pass


def hammer_listeners(stop):
    listener = Quiet()
    while not stop.is_set():
        with event.install_listener("jit_execution", listener):
            pass


def hammer_decoration(stop):
    while not stop.is_set():
        jit(use_jit=lambda a: Action.INTERPRETER)(lambda a: a)


def adder(n):
    def add(a):
        return a + n

    return add


def hammer_foreground_compiles(stop):
    for n in itertools.count():
        if stop.is_set():
            return
        f = jit(use_jit=lambda a: Action.JIT)(adder(n))
        assert f(1.5) == 1.5 + n


def hammer_background_compiles(stop):
    for n in itertools.count():
        if stop.is_set():
            return
        f = jit(use_jit=lambda a: Action.BACKGROUND_JIT)(adder(n))
        assert f(2) == 2 + n
        assert f.wait_compiled(PATIENCE)


def hammer_policies(stop):
    policy = after_calls(10**9)  # always interprets, always counts
    f = jit(use_jit=policy)(lambda a: a)
    values = [1, 2.5, "s", (1, 2)]
    while not stop.is_set():
        for value in values:
            f(value)


def hammer_adaptive(stop):
    # Interpreted calls timed into the policy's account (its lock), and
    # compiles recorded by compile_costs (its lock, inside the compiler lock).
    learning = jit(use_jit=adaptive(compile_cost=10**9))(lambda a: a)
    for n in itertools.count():
        if stop.is_set():
            return
        learning(n)
        compiling = jit(use_jit=adaptive(compile_cost=0))(adder(n))
        assert compiling(0.5) == 0.5 + n


def hammer_profiles(stop):
    # adaptive() across runs: a profile read for each new function (the
    # profiles lock) and every profile written (it, then a file lock).
    import tempfile

    from numba.core import config

    from smart_jit import profiles

    saved = os.environ.get("SMART_JIT_PROFILE"), config.CACHE_DIR
    os.environ["SMART_JIT_PROFILE"] = "1"
    config.CACHE_DIR = tempfile.mkdtemp(prefix="smartjit-fork-")
    try:
        for n in itertools.count():
            if stop.is_set():
                return
            f = jit(use_jit=adaptive(compile_cost=10**9))(adder(n))
            assert f(0.5) == 0.5 + n
            profiles.write_all()
    finally:
        os.environ["SMART_JIT_PROFILE"], config.CACHE_DIR = saved[0] or "0", saved[1]


def hammer_stances(stop):
    # Every switch takes the stance lock and, into and out of interpret, the
    # table lock while it refills every live table.
    from smart_jit import set_stance

    f = jit(adder(1))
    while not stop.is_set():
        for name in ("interpret", "adaptive", "default"):
            with set_stance(name):
                assert f(2) == 3


HAMMERS = [
    hammer_listeners,
    hammer_decoration,
    hammer_foreground_compiles,
    hammer_background_compiles,
    hammer_policies,
    hammer_adaptive,
    hammer_profiles,
    hammer_stances,
]


def child_work():
    """Everything the package does, in the child; its exit status says how it went."""
    from smart_jit import set_stance

    set_stance("default")  # the stance lock is free; the parent's stance is inherited
    f = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 1)
    assert f(1) == 2
    g = jit(use_jit=after_calls(1))(lambda a: a - 1)
    assert g(5) == 4 and g(5) == 4 and len(g.signatures) == 1
    recorder = event.RecordingListener()
    with event.install_listener("jit_execution", recorder):
        assert f(2) == 3
    assert len(recorder.buffer) == 2
    k = jit(use_jit=adaptive(compile_cost=0))(lambda a: a * 2)
    assert k(4) == 8 and len(k.signatures) == 1 and "switched to JIT" in k.use_jit.report()
    h = jit(background=True)(lambda a: a * 3)
    assert h(2) == 6
    assert h.wait_compiled(PATIENCE) and len(h.signatures) == 1
    from smart_jit import profiles

    profiles.write_all()  # the profiles lock, and the files', are free


class Hammering:
    """Runs hammers on daemon threads until the block ends; none may fail."""

    def __init__(self, hammers):
        self.stop = threading.Event()
        self.errors = []
        self.threads = [
            threading.Thread(target=self._run, args=(hammer,), daemon=True) for hammer in hammers
        ]

    def _run(self, hammer):
        try:
            hammer(self.stop)
        except BaseException:
            self.errors.append(f"{hammer.__name__}: {traceback.format_exc()}")

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(0.2)  # let them get going
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self.threads:
            thread.join(PATIENCE)
        assert self.errors == []


def fork_and_check():
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            child_work()
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "hung"


def fork_repeatedly():
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a multi-threaded process: that is the test.
        warnings.simplefilter("ignore", DeprecationWarning)
        results = []
        for _ in range(FORKS):
            results.append(fork_and_check())
            time.sleep(0.005)
    return results


@pytest.mark.parametrize("hammer", HAMMERS, ids=lambda h: h.__name__)
def test_fork_while_another_thread_uses_the_package(hammer):
    with Hammering([hammer]):
        results = fork_repeatedly()
    assert results == [0] * FORKS


def test_fork_while_every_hammer_runs_at_once():
    with Hammering(HAMMERS):
        results = fork_repeatedly()
    assert results == [0] * FORKS


def test_fork_while_another_thread_is_inside_an_llvm_call():
    """llvmlite holds its own lock around every LLVM call, including calls
    made outside Numba's compiler lock (the garbage collector freeing a
    compiled library). A fork waits for it, so the child can compile."""
    from llvmlite.binding import ffi

    inside, leave = threading.Event(), threading.Event()

    def an_llvm_call():
        with ffi.lib._lock:
            inside.set()
            leave.wait(PATIENCE)

    caller = threading.Thread(target=an_llvm_call, daemon=True)
    caller.start()
    assert inside.wait(PATIENCE)
    threading.Timer(0.3, leave.set).start()  # the call ends while the fork waits
    try:
        assert fork_and_check() == 0
    finally:
        leave.set()
        caller.join(PATIENCE)
