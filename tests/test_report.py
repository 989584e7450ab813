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


def test_the_program_report_shows_the_costliest_functions_then_totals():
    from smart_jit.report import SHOWN
    from smart_jit.table import owners

    many = [jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER) for _ in range(SHOWN + 5)]
    for count, f in enumerate(many):
        for _ in range(count + 1):
            f(1)
    text = report()
    lines = text.splitlines()
    live = len(owners())
    assert lines[0].startswith(f"smart_jit: {live} smart-jitted functions, stance ")
    assert len(lines) == 2 + SHOWN + 2  # head, header, rows, "... and N more", totals
    assert lines[-2] == f"  ... and {live - SHOWN} more, costing less"
    interpreted = sum(fb.calls for f in owners() for fb in f.fallbacks())
    assert f"; {interpreted} calls interpreted" in lines[-1]
