"""Why a call was interpreted: report()."""

from __future__ import annotations

from smart_jit import Action, jit, report


def test_report_table():
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    assert report(f).endswith("every call ran compiled")
    f(1)
    f(2)
    f(1.5)
    lines = report(f).splitlines()
    assert lines[1].split() == ["calls", "argument", "types", "why", "interpreted"]
    assert lines[2].split()[:2] == ["2", "int64"]
    assert lines[3].split()[:2] == ["1", "float64"]
    assert lines[2].endswith("use_jit returned Action.INTERPRETER")
