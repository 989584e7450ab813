"""Execution events: one start and one end per execution, of the right kind."""

from __future__ import annotations

import pytest
from conftest import smart_frames_during
from numba.core import event

from smart_jit import INTERPRETER_EXECUTION, JIT_EXECUTION, Action, jit


def int_jit(a):
    return Action.JIT if isinstance(a, int) else Action.INTERPRETER


def python_calls(call):
    return [name for name in smart_frames_during(call) if name == "_compile_for_args"]


def test_kind_names():
    assert JIT_EXECUTION == "jit_execution"
    assert INTERPRETER_EXECUTION == "interpreter_execution"


def test_seed_listener_example(record):
    incr = jit(lambda a: a + 1, use_jit=int_jit)
    with record("jit_execution") as rec:
        incr(4)
    assert rec.kinds() == {"jit_execution": 1}
    with record("jit_execution") as rec:
        incr(1.23)
    assert rec.kinds() == {}
    with record("interpreter_execution") as rec:
        incr(1.23)
    assert rec.kinds() == {"interpreter_execution": 1}


def test_fast_path_calls_fire_while_a_listener_is_installed(record):
    incr = jit(lambda a: a + 1, use_jit=int_jit)
    incr(1)
    with record() as rec:
        for i in range(10):
            assert incr(i) == i + 1
        incr(0.5)
    assert rec.kinds() == {"jit_execution": 10, "interpreter_execution": 1}


def test_fast_path_is_restored_when_the_last_listener_goes(record):
    incr = jit(lambda a: a + 1, use_jit=int_jit)
    incr(1)
    assert python_calls(lambda: incr(2)) == []
    with record("jit_execution"):
        assert python_calls(lambda: incr(2)) == ["_compile_for_args"]
        with record("jit_execution"):
            incr(2)
        assert python_calls(lambda: incr(2)) == ["_compile_for_args"]
    assert python_calls(lambda: incr(2)) == []


def test_interpreter_listener_alone_leaves_the_fast_path_alone(record):
    incr = jit(lambda a: a + 1, use_jit=int_jit)
    incr(1)
    with record("interpreter_execution"):
        assert python_calls(lambda: incr(2)) == []


def test_functions_decorated_and_compiled_during_event_mode(record):
    with record() as rec:
        add = jit(["float64(float64, float64)"], use_jit=lambda a, b: Action.INTERPRETER)(
            lambda a, b: a + b
        )
        assert add(1.0, 2.0) == 3.0
        assert add(1, 2) == 3.0, "conversion, not the policy"
        late = jit(lambda a: a, use_jit=int_jit)
        late(1)
        late(2)
    assert rec.kinds() == {"jit_execution": 4}
    assert python_calls(lambda: late(3)) == []
    assert python_calls(lambda: add(1, 2)) == []


def test_raise_exception_fires_no_execution(record):
    f = jit(lambda a: a, use_jit=lambda a: Action.RAISE_EXCEPTION)
    with record() as rec, pytest.raises(TypeError):
        f(1)
    assert rec.kinds() == {}


def test_a_failing_execution_ends_its_event_with_the_exception():
    @jit(use_jit=lambda a: Action.INTERPRETER)
    def fails(a):
        raise KeyError(a)

    rec = event.RecordingListener()
    with event.install_listener("interpreter_execution", rec), pytest.raises(KeyError):
        fails(1)
    start, end = (e for _, e in rec.buffer)
    assert start.is_start and end.is_end
    assert end._exc_details[0] is KeyError


def test_event_data_names_the_dispatcher_and_arguments():
    f = jit(lambda a, b=2: a + b, use_jit=lambda a, b: Action.INTERPRETER)
    rec = event.RecordingListener()
    with event.install_listener("interpreter_execution", rec):
        f(1)
    _, start = rec.buffer[0]
    assert start.data["dispatcher"] is f
    assert start.data["args"] == (1, 2)


def with_default(a, b=10, *rest):
    return a + b + len(rest)


@pytest.mark.parametrize("action", [Action.JIT, Action.INTERPRETER])
def test_both_kinds_carry_the_users_values(action):
    """Omitted defaults arrive as their values and *args expanded, as the
    policy receives them: never Numba's internal OmittedArg."""
    f = jit(with_default, use_jit=lambda *a: action)
    seen = []

    class Args(event.Listener):
        def on_start(self, e):
            seen.append(e.data["args"])

        def on_end(self, e):
            pass

    f(1)  # compile (or not) first: the events below are of the call itself
    for kind in (JIT_EXECUTION, INTERPRETER_EXECUTION):
        with event.install_listener(kind, Args()):
            assert f(1) == 11
            assert f(1, 2, 3, 4) == 5
    assert seen == [(1, 10), (1, 2, 3, 4)]


def test_a_listener_changes_no_result_and_no_error():
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    f.compile("int64(int64)")
    outcomes = []
    for listening in (False, True):
        with (
            event.install_listener(JIT_EXECUTION, event.RecordingListener())
            if listening
            else (event.install_recorder("numba:compile"))
        ):
            for value in (2**70, 1, 2.5):
                try:
                    outcomes.append((value, f(value)))
                except OverflowError:
                    outcomes.append((value, "OverflowError"))
    half = len(outcomes) // 2
    assert outcomes[:half] == outcomes[half:]
    assert outcomes[:half] == [(2**70, "OverflowError"), (1, 1), (2.5, 2.5)]
