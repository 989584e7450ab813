"""Execution events: one start and one end per execution, of the right kind."""

from __future__ import annotations

import pytest
from conftest import PATIENCE, smart_frames_during
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


class Quiet(event.Listener):
    def on_start(self, event):
        pass

    def on_end(self, event):
        pass


def _lines_paused_at(nth, arrived, go, names=None):
    """A tracer that stops this thread before its *nth* line event (within
    functions named in *names*, or any) until *go* is set."""
    seen = [0]

    def local(frame, what, arg):
        if what == "line":
            if seen[0] == nth:
                arrived.set()
                assert go.wait(PATIENCE), "the other thread never let this one go on"
            seen[0] += 1
        return local

    def on_call(frame, what, arg):
        if names is None or frame.f_code.co_name in names:
            return local
        return None

    return on_call


# The weak-reference callbacks that remove a dead dispatcher: ours, and the
# WeakSet's (50bf0cf), so that this schedule reproduces that race too.
CALLBACKS = {"_forget_dead_dispatcher", "_remove"}


@pytest.mark.parametrize("callback_line", range(4))
@pytest.mark.parametrize("switch_line", range(8))
def test_a_dispatcher_dying_in_the_middle_of_the_event_mode_switch(callback_line, switch_line):
    """Forced schedule: thread B stops inside the callback of a dying
    dispatcher (before its *callback_line*-th line), the main thread starts
    the switch and stops before its *switch_line*-th line, B finishes, then
    the switch finishes.  Python 3.10 ran into this ordering by itself."""
    import gc
    import sys
    import threading

    keep = jit(lambda a: a + 1, use_jit=int_jit)
    keep(1)
    victims = [jit(lambda a: a + 2, use_jit=int_jit)]
    victims[0](1)
    in_callback, callback_go = threading.Event(), threading.Event()
    in_switch, switch_go = threading.Event(), threading.Event()

    def die():
        sys.settrace(_lines_paused_at(callback_line, in_callback, callback_go, CALLBACKS))
        try:
            victims.clear()
            gc.collect()
        finally:
            sys.settrace(None)
            in_callback.set()  # (if the callback had fewer lines: it is done)

    b = threading.Thread(target=die)
    b.start()
    assert in_callback.wait(PATIENCE)
    errors = []

    def switch_tracer(frame, what, arg):
        tracer = _lines_paused_at(switch_line, in_switch, switch_go)
        return tracer(frame, what, arg)

    def release_b_when_the_switch_stops():
        if in_switch.wait(PATIENCE):
            callback_go.set()
            b.join(PATIENCE)
            switch_go.set()

    helper = threading.Thread(target=release_b_when_the_switch_stops)
    helper.start()
    sys.settrace(switch_tracer)
    try:
        with event.install_listener("jit_execution", Quiet()):
            sys.settrace(None)
            assert python_calls(lambda: keep(2)) == ["_compile_for_args"]
    except Exception as exc:  # what the race raised
        errors.append(exc)
    finally:
        sys.settrace(None)
        in_switch.set()
        callback_go.set()
        switch_go.set()
        helper.join(PATIENCE)
        b.join(PATIENCE)
    assert errors == []
    assert not b.is_alive()
    assert python_calls(lambda: keep(2)) == [], "the fast path is back"
    assert not event._registered["jit_execution"]


def test_a_listener_whose_switch_fails_is_not_installed_and_changes_nothing():
    from smart_jit import table

    keep = jit(lambda a: a + 1, use_jit=int_jit)
    keep(1)
    broken = jit(lambda a: a + 3, use_jit=int_jit)
    broken(1)

    refill = table.Table.refill
    broken_table = broken._table

    def refill_fails(self):
        if self is broken_table:
            raise MemoryError("no room for the table")
        refill(self)

    listener = Quiet()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(table.Table, "refill", refill_fails)
        with pytest.raises(MemoryError, match="no room"):
            with event.install_listener("jit_execution", listener):
                pass
    assert listener not in event._registered["jit_execution"]
    assert table.in_event_mode() is False
    assert python_calls(lambda: keep(2)) == [], "every other table is as it was"
    with event.install_listener("jit_execution", listener):
        assert python_calls(lambda: keep(2)) == ["_compile_for_args"]
    assert python_calls(lambda: keep(2)) == []
