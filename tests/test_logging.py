"""Every decision as a standard ``logging`` record: the first decision per
function and signature (DEBUG), each compile and each ``adaptive()`` switch
(INFO), a failed compile the interpreter serves (WARNING); nothing configured
by the library, ``SMART_JIT_LOG`` and ``run --log-level`` for a whole program."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import PATIENCE

from smart_jit import Action, compile_process, jit, log, policies
from smart_jit.interpreted import REASON_BACKGROUND, REASON_POLICY


def records_of(caplog, logger):
    return [r for r in caplog.records if r.name == logger]


@pytest.fixture
def debug(caplog):
    caplog.set_level(logging.DEBUG, logger="smart_jit")
    return caplog


def python(*args, **env):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=dict(os.environ, **env),
    )


def test_the_library_configures_nothing_and_prints_nothing_unasked():
    # A failed compile served by the interpreter is a WARNING record: with no
    # handler of the program's, Python's last-resort handler would print it,
    # which the library's NullHandler prevents.
    out = python(
        "-c",
        textwrap.dedent(
            """
        import logging
        from smart_jit import Action, jit
        f = jit(lambda a: a.nope, use_jit=lambda a: Action.JIT, on_compile_error=Action.INTERPRETER)
        try:
            f(1)
        except AttributeError:
            pass
        smart = logging.getLogger("smart_jit")
        assert [type(h).__name__ for h in smart.handlers] == ["NullHandler"], smart.handlers
        assert smart.level == logging.NOTSET and smart.propagate
        assert not logging.getLogger().handlers
        print("ok")
        """
        ),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n" and out.stderr == ""


def test_the_first_decision_per_signature_and_reason_is_one_debug_record(debug):
    f = jit(lambda a: -a, use_jit=lambda a: Action.INTERPRETER)
    for _ in range(5):
        f(1)
    for _ in range(3):
        f(1.5)
    decided = records_of(debug, "smart_jit.decisions")
    assert [(r.signature, r.action, r.reason) for r in decided] == [
        ("(int64)", "INTERPRETER", REASON_POLICY),
        ("(float64)", "INTERPRETER", REASON_POLICY),
    ]
    first = decided[0]
    assert first.levelno == logging.DEBUG
    assert first.function == log.name_of(f) and first.function.endswith("<locals>.<lambda>")
    assert first.seconds is None and first.where is None
    assert first.getMessage() == f"{log.name_of(f)}(int64): INTERPRETER: {REASON_POLICY}"


def test_a_compile_is_one_info_record_with_its_seconds_and_where(debug):
    def add_one(a):
        return a + 1

    f = jit(add_one, use_jit=lambda a: Action.JIT)
    f(1)
    decided = records_of(debug, "smart_jit.decisions")
    assert [(r.signature, r.action, r.reason) for r in decided] == [
        ("(int64)", "JIT", "use_jit returned Action.JIT")
    ]
    (compiled,) = records_of(debug, "smart_jit.compiles")
    assert compiled.levelno == logging.INFO
    assert compiled.function.endswith("add_one") and compiled.signature == "(int64)"
    assert compiled.where == log.FOREGROUND and not compiled.failed and not compiled.nested
    assert compiled.seconds > 0
    assert compiled.getMessage() == (
        f"compiled {compiled.function}(int64) in {compiled.seconds:.3f} s (foreground)"
    )


def test_matched_calls_and_later_interpreted_calls_log_nothing(debug):
    f = jit(lambda a: a, use_jit=lambda a: Action.JIT if a > 0 else Action.INTERPRETER)
    f(1)
    f(-1)
    before = len(debug.records)
    for i in range(200):
        f(i + 1)  # matched: Numba's C dispatcher alone
        f(-i - 2)  # interpreted, a decision logged already
    assert len(debug.records) == before


def test_logging_off_costs_one_check_per_signature_and_reason(monkeypatch):
    # The record is made inside log.decided, which is reached once per
    # signature and reason: on the branch that makes the call counter.
    assert not logging.getLogger("smart_jit.decisions").isEnabledFor(logging.DEBUG)
    reached = []
    monkeypatch.setattr(log, "decided", lambda *args: reached.append(args[1:]))
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    for _ in range(100):
        f(1)
        f(2.5)
    assert [(str(t[0][0]), t[1]) for t in reached] == [
        ("int64", "INTERPRETER"),
        ("float64", "INTERPRETER"),
    ]


def test_a_failed_compile_served_by_the_interpreter_is_a_warning(debug):
    f = jit(lambda a: a.nope, use_jit=lambda a: Action.JIT, on_compile_error=Action.INTERPRETER)
    with pytest.raises(AttributeError):
        f(1)  # interpreted: Python's error
    (failed,) = [r for r in records_of(debug, "smart_jit.compiles") if r.levelno == logging.INFO]
    assert failed.failed and failed.getMessage().startswith(
        f"compiling {log.name_of(f)}(int64) failed after"
    )
    (warning,) = [r for r in debug.records if r.levelno == logging.WARNING]
    assert warning.name == "smart_jit.compiles"
    assert warning.signature == "(int64)" and warning.action == "INTERPRETER"
    assert warning.reason.startswith("compile failed: TypingError")
    assert (
        warning.getMessage() == f"{log.name_of(f)}(int64) runs in the interpreter: {warning.reason}"
    )
    interpreted = [r for r in records_of(debug, "smart_jit.decisions") if r.action == "INTERPRETER"]
    assert [r.reason for r in interpreted] == [warning.reason]


def test_a_refused_call_is_logged_once(debug):
    f = jit("int64(int64)", use_jit=lambda a: Action.RAISE_EXCEPTION)(lambda a: a)
    for _ in range(3):
        with pytest.raises(TypeError):
            f("text")
    decided = records_of(debug, "smart_jit.decisions")
    assert [(r.signature, r.action, r.reason) for r in decided] == [
        ("(unicode_type)", "RAISE_EXCEPTION", "use_jit returned Action.RAISE_EXCEPTION")
    ]


def test_without_a_policy_the_decision_says_so(debug):
    f = jit(lambda a: a * 2)
    f(2)
    (decided,) = records_of(debug, "smart_jit.decisions")
    assert (decided.action, decided.reason) == ("JIT", "no use_jit: compile, as numba.jit does")


def test_a_background_compile_says_where_it_ran(debug, compile_mode):
    def halve(a):
        return a / 2

    f = jit(halve, use_jit=lambda a: Action.BACKGROUND_JIT)
    assert f(3) == 1.5
    assert f.wait_compiled(PATIENCE)
    decided = records_of(debug, "smart_jit.decisions")
    assert [(r.action, r.reason) for r in decided] == [("BACKGROUND_JIT", REASON_BACKGROUND)]
    compiled = [r for r in records_of(debug, "smart_jit.compiles") if not r.failed]
    where = log.COMPILE_PROCESS if compile_mode == "process" else log.THREAD
    assert [(r.signature, r.where) for r in compiled] == [("(int64)", where)]


def test_a_failed_background_compile_is_a_warning(debug):
    f = jit(lambda a: a.nope, use_jit=lambda a: Action.BACKGROUND_JIT)
    with pytest.raises(AttributeError):
        f(1)
    assert f.wait_compiled(PATIENCE)
    (warning,) = [r for r in debug.records if r.levelno == logging.WARNING]
    assert warning.signature == "(int64)" and warning.reason.startswith("compile failed: ")


def test_an_adaptive_switch_is_one_info_record_with_its_numbers(debug):
    def total(a):
        s = 0.0
        for x in a:
            s += x
        return s

    policy = policies.adaptive(compile_cost=0.002)
    f = jit(total, use_jit=policy)
    a = np.ones(50)
    while not f.signatures:
        f(a)
    (switch,) = records_of(debug, "smart_jit.adaptive")
    (account,) = policy.signatures()
    numbers = account.switched
    assert switch.levelno == logging.INFO and switch.action == "JIT"
    assert switch.signature == "(array(float64, 1d, C))"
    assert (switch.call, switch.interpreted, switch.predicted) == (
        numbers.call,
        numbers.interpreted,
        numbers.predicted,
    )
    assert switch.estimate == 0.002 and switch.basis == "compile_cost given to adaptive()"
    assert switch.interpreted + switch.predicted >= switch.estimate
    assert f"switched to JIT at call {numbers.call}:" in switch.getMessage()


def test_records_carry_their_fields_to_a_json_handler():
    import json

    lines = []

    class JSONHandler(logging.Handler):
        def emit(self, record):
            fields = ("function", "signature", "action", "reason", "seconds", "where")
            lines.append(json.dumps({k: getattr(record, k) for k in fields}))

    handler = JSONHandler(logging.DEBUG)
    smart = logging.getLogger("smart_jit")
    smart.addHandler(handler)
    smart.setLevel(logging.DEBUG)
    try:
        f = jit(lambda a: a, use_jit=lambda a: Action.JIT)
        f(1)
    finally:
        smart.removeHandler(handler)
        smart.setLevel(logging.NOTSET)
    parsed = [json.loads(line) for line in lines]
    assert [p["action"] for p in parsed] == ["JIT", "JIT"]
    assert parsed[1]["where"] == "foreground" and parsed[1]["seconds"] > 0


SCRIPT = """
from smart_jit import Action, jit

@jit(use_jit=lambda a: Action.INTERPRETER if a < 0 else Action.JIT)
def f(a):
    return a + 1

f(-1)
f(2)
"""


def test_smart_jit_log_turns_it_on_for_a_program(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    out = python(str(script), SMART_JIT_LOG="debug")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == f"smart_jit.decisions DEBUG: f(int64): INTERPRETER: {REASON_POLICY}"
    assert lines[1] == "smart_jit.decisions DEBUG: f(int64): JIT: use_jit returned Action.JIT"
    assert lines[2].startswith("smart_jit.compiles INFO: compiled f(int64) in ")
    assert len(lines) == 3


def test_smart_jit_log_with_a_wrong_level_is_one_error_naming_it():
    out = python("-c", "import smart_jit", SMART_JIT_LOG="loud")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last == (
        "ValueError: SMART_JIT_LOG: unknown log level 'loud': "
        "the levels are DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


def test_run_log_level_logs_each_compile_once_also_from_the_compile_process(tmp_path):
    # The compile server inherits the environment but not SMART_JIT_LOG: its
    # compiles are logged by the program, once, as "compile process".
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import numba

            @numba.njit
            def g(a):
                return a * 3

            g(2)
            assert g.wait_compiled()
            """
        )
    )
    env = {compile_process.MODE_VARIABLE: "process"}
    cmd = ["-m", "smart_jit", "run", "--stance", "background", "--log-level", "INFO", str(script)]
    out = python(*cmd, **env)
    assert out.returncode == 0, out.stderr
    compiled = [line for line in out.stderr.splitlines() if "compiled g(int64)" in line]
    assert len(compiled) == 1, out.stderr
    assert compiled[0].endswith("(compile process)")


def test_run_log_level_with_a_wrong_level_is_one_line_and_status_2(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    out = python("-m", "smart_jit", "run", "--log-level=loud", str(script))
    assert out.returncode == 2
    assert out.stderr == (
        "python -m smart_jit: error: --log-level: unknown log level 'loud': "
        "the levels are DEBUG, INFO, WARNING, ERROR, CRITICAL\n"
    )
