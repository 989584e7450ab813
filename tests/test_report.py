"""Why a call was interpreted: report() and python -m smart_jit report."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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


def test_command_line_report_runs_a_script(tmp_path):
    script = tmp_path / "work.py"
    script.write_text(
        textwrap.dedent(
            """
        from smart_jit import Action, jit
        @jit(use_jit=lambda a: Action.INTERPRETER if a < 0 else Action.JIT)
        def f(a):
            return a
        if __name__ == "__main__":
            f(-1); f(-2.0); f(3)
        """
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "smart_jit", "report", f"{script}:f"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "f: calls that ran in the interpreter" in out
    assert "int64" in out and "float64" in out


def test_command_line_usage_error():
    out = subprocess.run(
        [sys.executable, "-m", "smart_jit", "nonsense"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "usage:" in out.stderr
