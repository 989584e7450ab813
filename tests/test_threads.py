"""Thread hammer: many threads, every path at once."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
from conftest import Recorder, run_threads
from numba.core import event

from smart_jit import Action, jit

THREADS, CALLS = 16, 20_000


def policy(a, b):
    if isinstance(a, str):
        return Action.RAISE_EXCEPTION
    if isinstance(a, float):
        return Action.INTERPRETER
    return Action.JIT


def combine(a, b):
    return a * 2 + b


VALUES = [
    (3, 4, "jit"),  # compiled before the threads start: fast path
    (2.5, 1.0, "interpreter"),
    (np.int32(3), 2, "jit"),  # first-time compiles, raced by threads
    (np.float32(1.5), np.float32(2.0), "jit"),
    (1j, 2, "jit"),
    ("s", "t", "raise"),
    (np.int8(4), np.int16(5), "jit"),
]


def test_hammer_every_path_from_sixteen_threads():
    f = jit(use_jit=policy)(combine)
    f(3, 4)
    recorder = Recorder()
    expected = Counter()
    errors, wrong = [], []
    barrier = threading.Barrier(THREADS)
    per_thread = CALLS // THREADS

    def work(t):
        barrier.wait()
        local = Counter()
        for i in range(per_thread):
            a, b, path = VALUES[(t + i) % len(VALUES)]
            try:
                if path == "raise":
                    try:
                        f(a, b)
                    except TypeError as exc:
                        if "No matching definition" not in str(exc):
                            wrong.append(exc)
                        local["raise"] += 1
                        continue
                    wrong.append((a, b, "did not raise"))
                    continue
                if f(a, b) != combine(a, b):
                    wrong.append((a, b))
                local[path] += 1
            except Exception as exc:  # reported below
                errors.append(exc)
        with lock:
            expected.update(local)

    lock = threading.Lock()
    with event.install_listener("jit_execution", recorder):
        with event.install_listener("interpreter_execution", recorder):
            run_threads(THREADS, work)

    assert errors == [] and wrong == []
    assert sum(expected.values()) == per_thread * THREADS == CALLS
    assert recorder.starts == recorder.ends
    assert recorder.ends["jit_execution"] == expected["jit"]
    assert recorder.ends["interpreter_execution"] == expected["interpreter"]
    compiled = [tuple(map(str, s)) for s in f.signatures]
    assert len(compiled) == len(set(compiled)) == 5, "one overload per signature"
