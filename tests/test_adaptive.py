"""policies.adaptive(): the ski-rental rule per signature, with the dispatcher's
timing of interpreted calls replaced by a clock the tests control."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from conftest import PATIENCE, recording, run_threads

from smart_jit import Action, jit, report
from smart_jit import interpreted as interpreted_module
from smart_jit.policies import adaptive, by_type


class Clock:
    """Each reading is *step* seconds after the one before: every timed call
    (two readings) takes *step* seconds.  Thread-safe."""

    def __init__(self, step):
        self.step = step
        self.now = 0.0
        self.readings = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.readings += 1
            self.now += self.step
            return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(0.005)
    monkeypatch.setattr(interpreted_module, "perf_counter", fake)
    return fake


def loop_sum(a):
    acc = 0.0
    for x in a:
        acc += x
    return acc


def vectorised(a):
    return a.sum()


def test_interprets_until_the_time_spent_reaches_the_compile_cost(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0175))(lambda a: a + 1)
    for i in range(3):  # 0, 0.005, 0.010 spent, + 0.005 predicted: below 0.0175
        assert f(i) == i + 1
        assert f.signatures == []
    assert f(3) == 4  # 0.015 + 0.005 >= 0.0175: compiled
    assert len(f.signatures) == 1
    [fallback] = f.fallbacks()
    assert fallback.calls == 3
    [learned] = f.use_jit.signatures()
    assert learned.interpreted == pytest.approx(0.015)
    assert learned.switched.call == 4 and learned.asked == 4


def test_each_signature_has_its_own_account(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0175))(lambda a: a * 2)
    for i in range(3):
        f(i)
        f(float(i))
    assert f.signatures == []
    f(1)
    assert [tuple(map(str, s)) for s in f.signatures] == [("int64",)]
    f(1.0)
    assert len(f.signatures) == 2


def test_matched_calls_never_reach_the_policy(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0))(lambda a: a + 1)
    for i in range(5):
        f(i)
    [learned] = f.use_jit.signatures()
    assert learned.asked == 1 and learned.interpreted_calls == 0
    readings = clock.readings
    f(2)
    assert clock.readings == readings  # no timing on a matched call


def test_a_huge_first_call_compiles_at_once_when_the_function_loops():
    policy = adaptive(compile_cost=0.5)
    f = jit(use_jit=policy)(loop_sum)
    big = np.ones(5_000_000)  # 5e6 x 0.2 us predicted: 1 s, more than the compile
    assert f(big) == 5_000_000
    assert len(f.signatures) == 1 and f.fallbacks() == []
    [learned] = policy.signatures()
    assert learned.switched.call == 1 and learned.switched.predicted >= 0.5


def test_a_huge_first_call_of_numpy_calls_only_is_interpreted():
    policy = adaptive(compile_cost=0.5)
    f = jit(use_jit=policy)(vectorised)
    assert f(np.ones(5_000_000)) == 5_000_000  # 5e6 x 2 ns: 0.01 s
    assert f.signatures == []


def test_time_per_element_is_learned_from_earlier_calls(clock):
    policy = adaptive(compile_cost=1.0)
    f = jit(use_jit=policy)(vectorised)
    small = np.ones(100)
    f(small)  # 0.005 s for 100 elements: 50 us per element
    assert f.signatures == []
    f(np.ones(50_000))  # predicted 2.5 s: compiled
    assert len(f.signatures) == 1
    assert policy.signatures()[0].switched.predicted == pytest.approx(2.5)


def test_a_new_signature_uses_the_rate_of_the_others(clock):
    policy = adaptive(compile_cost=1.0)
    f = jit(use_jit=policy)(vectorised)
    f(np.ones(100))  # float64: 50 us per element
    f(np.ones(50_000, dtype=np.int32))  # int32's first call, predicted 2.5 s
    assert [tuple(map(str, s)) for s in f.signatures] == [("array(int32, 1d, C)",)]


def test_without_compile_cost_the_estimate_comes_from_the_record(clock):
    f = jit(use_jit=adaptive())(loop_sum)
    f(np.ones(3))
    [learned] = f.use_jit.signatures()
    assert learned.estimate().basis.startswith("predicted from bytecode")
    for _ in range(10_000):  # each 5 ms: enough to reach any estimate
        f(np.ones(3))
        if f.signatures:
            break
    assert len(f.signatures) == 1
    f(np.ones(3, dtype=np.float32))
    [_, second] = f.use_jit.signatures()
    assert second.estimate().basis.startswith("measured: 1 earlier compile")


def test_an_exception_from_the_function_propagates_and_its_time_counts(clock):
    def fails(a):
        raise KeyError(a)

    f = jit(use_jit=adaptive(compile_cost=10.0))(fails)
    with pytest.raises(KeyError) as caught:
        f(7)
    assert caught.value.args == (7,)
    assert f.use_jit.signatures()[0].interpreted == pytest.approx(0.005)


def test_execution_events_still_fire(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0075))(lambda a: a + 1)
    with recording() as rec:
        f(1)
        f(2)
        f(3)
    assert rec.kinds() == {"interpreter_execution": 1, "jit_execution": 2}


def test_a_failed_compile_is_reported_and_not_retried(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0), on_compile_error=Action.INTERPRETER)(
        lambda a: {"k": object(), "v": a}["v"]
    )
    assert [f(i) for i in range(3)] == [0, 1, 2]
    text = str(report(f))
    assert "compile: failed after" in text
    assert f.use_jit.signatures()[0].compiles()[0].failed


def test_keyword_defaults_and_star_args_are_typed_as_reported(clock):
    def g(a, b=2, *rest):
        return a + b + len(rest)

    f = jit(use_jit=adaptive(compile_cost=10.0))(g)
    assert f(1) == 3 and f(1, 2, 3, 4) == 5
    reported = {tuple(map(str, r.signature)) for r in f.fallbacks()}
    learned = {tuple(map(str, s.argtypes)) for s in f.use_jit.signatures()}
    assert learned == reported and len(learned) == 2


def test_another_policy_is_not_timed(monkeypatch):
    def no_clock():
        raise AssertionError("timed a call of a policy that does not learn")

    monkeypatch.setattr(interpreted_module, "perf_counter", no_clock)
    f = jit(use_jit=lambda a: Action.INTERPRETER)(lambda a: a + 1)
    assert f(1) == 2 and f(2.5) == 3.5


def test_replacing_the_policy_forgets_the_learned_decisions(clock):
    f = jit(use_jit=adaptive(compile_cost=10.0))(lambda a: a + 1)
    f(1)
    f.use_jit = lambda a: Action.JIT
    f(1)
    assert len(f.signatures) == 1


def test_inside_another_policy_each_call_counts_as_predicted():
    inner = adaptive(compile_cost=3 * 2e-6 + 1e-9)
    f = jit(use_jit=by_type(jit=str, otherwise=inner))(lambda a: a)
    for i in range(4):
        f(i)
    assert len(f.signatures) == 1  # the fourth call: 3 x 2 us counted, + 2 us
    assert "3 calls interpreted (6e-06 s, predicted: not timed)" in inner.report()


def test_threads_keep_an_exact_account(clock):
    policy = adaptive(compile_cost=1000.0)  # never switches
    f = jit(use_jit=policy)(lambda a: a + 1)
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for j in range(200):
            assert f(j) == j + 1

    run_threads(8, work)
    [learned] = policy.signatures()
    assert learned.interpreted_calls == learned.asked == 1_600
    assert learned.interpreted == pytest.approx(1_600 * 0.005)
    assert f.fallbacks()[0].calls == 1_600


def test_threads_switch_once(clock):
    policy = adaptive(compile_cost=0.05)
    f = jit(use_jit=policy)(lambda a: a * 3)
    run_threads(8, lambda i: [f(j) for j in range(100)])
    [learned] = policy.signatures()
    assert len(f.signatures) == 1 and learned.switched is not None
    assert learned.interpreted_calls < 100 * 8


def test_pickles_its_options_not_what_it_learned(clock):
    policy = adaptive(compile_cost=2.5)
    f = jit(use_jit=policy)(lambda a: a)
    f(1)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy.compile_cost == 2.5 and copy.signatures() == []
    assert repr(copy) == "adaptive(compile_cost=2.5)"
    assert repr(adaptive()) == "adaptive()"


def test_refuses_a_bad_compile_cost():
    for bad, error in (
        (-1, ValueError),
        ("1", TypeError),
        (True, TypeError),
        (float("nan"), ValueError),
    ):
        with pytest.raises(error, match="compile_cost must be a non-negative number"):
            adaptive(compile_cost=bad)


def test_report_says_per_signature_what_was_spent_and_why_it_switched(clock):
    f = jit(use_jit=adaptive(compile_cost=0.0175))(lambda a: a + 1)
    for i in range(4):
        f(i)
    f(1.5)
    text = str(report(f))
    assert "adaptive(compile_cost=0.0175): per argument types" in text
    assert "\n  int64: 3 calls interpreted (0.015 s); switched to JIT at call 4\n" in text
    assert "why: interpreted time reached the compile estimate (0.015 s interpreted" in text
    assert "estimate: compile_cost given to adaptive()\n    compile: took" in text
    assert "\n  float64: 1 call interpreted (0.005 s); interpreting until 0.0175 s\n" in text


def test_report_when_every_call_ran_compiled():
    f = jit(use_jit=adaptive(compile_cost=0.0))(lambda a: a + 1)
    f(1)
    text = str(report(f))
    assert "<lambda>: every call ran compiled\nadaptive(compile_cost=0): " in text
    assert "that call alone was predicted to cost more than the compile" in text
    assert adaptive().report() == "adaptive(): per argument types\n  no call has asked it yet"


def test_the_readme_way_in_a_fresh_interpreter():
    code = """
import numpy as np
from smart_jit import jit, report
from smart_jit.policies import adaptive

@jit(use_jit=adaptive())
def sum_fast(A):
    acc = 0.0
    for x in A:
        acc += np.sqrt(x)
    return acc

sum_fast(np.arange(3_000_000.0))   # a huge first call: compiled at once
for _ in range(3):
    sum_fast(np.arange(10, dtype=np.float32))  # a few small ones: interpreted
print(report(sum_fast))
"""
    with warnings.catch_warnings():
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=PATIENCE
        )
    assert out.returncode == 0, out.stderr
    assert "array(float64, 1d, C): 0 calls interpreted" in out.stdout
    assert "that call alone was predicted to cost more than the compile" in out.stdout
    assert "array(float32, 1d, C): 3 calls interpreted" in out.stdout
