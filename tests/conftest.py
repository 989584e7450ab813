"""Helpers shared by the tests: event recording, policies that remember their
calls, and probes for compiles and for Python frames of ours."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import Counter

import pytest
from hypothesis import settings
from numba.core import event

# Property tests draw the same examples on every run, so that CI is
# deterministic; `pytest --hypothesis-profile=explore` draws fresh ones.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile("deterministic")

KINDS = ("jit_execution", "interpreter_execution")

# adaptive() reads and writes profiles across runs (profiles.py): the suite
# would decide differently the second time it runs, and test processes
# would write beside the tests.  Off here and in every process a test
# starts; tests/test_profiles.py turns it on where it tests it.
os.environ["SMART_JIT_PROFILE"] = "0"

# How long a test waits for what must happen (a compile to finish, a child
# to answer, a server to exit): a bound no load is expected to reach (the
# suite has run 6x slower on a busy machine), so that a wait that runs out
# means it never happens, not that the machine was busy.  A test that
# checks something has *not* happened yet uses a short wait of its own.
PATIENCE = 900.0


class Recorder(event.Listener):
    """Counts start and end events per kind; safe to share between threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.starts: Counter[str] = Counter()
        self.ends: Counter[str] = Counter()

    def on_start(self, event):
        with self.lock:
            self.starts[event.kind] += 1

    def on_end(self, event):
        with self.lock:
            self.ends[event.kind] += 1

    def kinds(self):
        """The one kind per execution, checking starts and ends pair up."""
        assert self.starts == self.ends
        return dict(self.ends)


@contextlib.contextmanager
def recording(*kinds):
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        for kind in kinds or KINDS:
            stack.enter_context(event.install_listener(kind, recorder))
        yield recorder


@pytest.fixture
def record():
    return recording


class Policy:
    """A use_jit callback that answers *action* and records what it was given."""

    def __init__(self, action):
        self.action = action
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        return self.action


def compiles_during(call):
    """How many compiles Numba started while *call* ran."""
    rec = event.RecordingListener()
    with event.install_listener("numba:compile", rec):
        call()
    return sum(1 for _, e in rec.buffer if e.is_start)


def smart_frames_during(call):
    """Names of smart_jit's Python functions entered while *call* runs."""
    entered = []

    def profile(frame, what, arg):
        if what == "call" and "smart_jit" in frame.f_code.co_filename:
            entered.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entered


def uses_python_objects(a):
    """A function Numba cannot compile in nopython mode."""
    return {"k": object(), "v": a}["v"]


def run_threads(count, work):
    """Run ``work(i)`` on *count* threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.fixture(params=["c_table", "python_path"])
def call_path(request):
    """Matched calls served by Numba's C table, or each through the miss path
    in Python (as while ``jit_execution`` has listeners): both give the same
    answers."""
    from smart_jit import table

    if request.param == "c_table":
        yield request.param
        return
    table.route_through_python("the call_path fixture", True)
    try:
        yield request.param
    finally:
        table.route_through_python("the call_path fixture", False)


@pytest.fixture(params=["process", "thread"])
def compile_mode(request, monkeypatch):
    """Background compiles in the compile process, or on the worker thread."""
    from smart_jit import compile_process

    monkeypatch.setenv(compile_process.MODE_VARIABLE, request.param)
    return request.param
