"""``python -m smart_jit report``: runs a script exactly as ``python script.py``
would, then reports; every command-line mistake is one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import PATIENCE

APP = """
import argparse
import sys

import helper
from smart_jit import Action, jit


@jit(use_jit=lambda a: Action.INTERPRETER if a < 0 else Action.JIT)
def f(a):
    return a + helper.OFFSET


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1)
    count = parser.parse_args().count
    for i in range(count):
        f(-1 - i)
    f(-2.5)
    f(3)
    print("ran as", __name__, "with", sys.argv[1:], file=sys.stderr)
    return EXIT


if __name__ == "__main__":
    sys.exit(main())
"""


@pytest.fixture
def app(tmp_path):
    """A script with a sibling module, ending in ``sys.exit(main())``."""

    def write(exit_status=0):
        (tmp_path / "helper.py").write_text("OFFSET = 100\n")
        script = tmp_path / "app.py"
        script.write_text(APP.replace("EXIT", repr(exit_status)))
        return script

    return write


def smart_jit_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "smart_jit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=PATIENCE,
    )


def test_script_runs_as_python_would_and_still_reports(app, tmp_path):
    script = app()
    out = smart_jit_cli("report", f"{script}:f", "--", "--count", "4", cwd=tmp_path.parent)
    assert out.returncode == 0, out.stderr
    assert "ran as __main__ with ['--count', '4']" in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "f: calls that ran in the interpreter"
    assert lines[2].split()[:2] == ["4", "int64"]
    assert lines[3].split()[:2] == ["1", "float64"]


def test_script_exit_status_is_kept_after_the_report(app):
    out = smart_jit_cli("report", f"{app(exit_status=3)}:f")
    assert out.returncode == 3
    assert out.stdout.startswith("f: calls that ran in the interpreter")


def test_run_runs_a_script_as_python_would_and_keeps_its_exit_status(app, tmp_path):
    script = app(exit_status=5)
    out = smart_jit_cli("run", "--report", script, "--count", "2", cwd=tmp_path.parent)
    assert out.returncode == 5, out.stderr
    assert "ran as __main__ with ['--count', '2']" in out.stderr
    report = out.stderr.splitlines()[-4:]
    assert report[0] == "smart_jit: 1 smart-jitted function, stance default"
    assert report[2].split()[3] == "3" and report[2].split()[5] == "f"
    assert report[3].startswith("total: ") and "3 calls interpreted" in report[3]


def test_a_failing_script_prints_its_traceback_then_the_report(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(
        textwrap.dedent(
            """
            from smart_jit import Action, jit
            f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
            f(1)
            raise RuntimeError("boom")
            """
        )
    )
    out = smart_jit_cli("report", f"{script}:f")
    assert out.returncode == 1
    assert "RuntimeError: boom" in out.stderr
    assert "int64" in out.stdout


def test_module_target_is_imported(tmp_path):
    (tmp_path / "kernels_mod.py").write_text(
        "from smart_jit import Action, jit\n"
        "f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)\n"
        "f(1.5)\n"
    )
    out = smart_jit_cli("report", "kernels_mod:f", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "float64" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "missing.py:f"], "cannot open script 'missing.py'"),
        (["report", "APP:g"], "has no function 'g'"),
        (["report", "APP:main"], "is not smart-jitted"),
        (["report", "APP"], "is not SCRIPT.py:FUNCTION or MODULE:FUNCTION"),
        (["report", "APP:"], "is not SCRIPT.py:FUNCTION or MODULE:FUNCTION"),
        (["report", "no_such_module_xyz:f"], "no module named 'no_such_module_xyz'"),
        (["report"], "report takes one TARGET:FUNCTION"),
        (["report", "APP:f", "extra"], "report takes one TARGET:FUNCTION"),
        (["nonsense"], "the commands are `run` and `report`"),
        ([], "the commands are `run` and `report`"),
        (["run"], "run needs a SCRIPT.py or -m MODULE"),
        (["run", "-m"], "run needs a SCRIPT.py or -m MODULE"),
        (["run", "--stance", "fast", "APP"], "unknown stance 'fast': the stances are default,"),
        (["run", "--frobnicate", "APP"], "unknown option '--frobnicate'"),
        (["run", "-m", "no_such_module_xyz"], "no module named 'no_such_module_xyz'"),
        (["run", "missing.py"], "cannot open script 'missing.py'"),
        (["report", "json:loads", "--", "x"], "arguments after -- are for a script"),
    ],
)
def test_each_user_error_is_one_line_and_status_2(app, args, message):
    script = str(app())
    out = smart_jit_cli(*(arg.replace("APP", script) for arg in args))
    assert out.returncode == 2
    error_lines = [line for line in out.stderr.splitlines() if not line.startswith("ran as")]
    assert len(error_lines) == 1, out.stderr
    assert error_lines[0].startswith("python -m smart_jit: error: ")
    assert message in error_lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_usage_on_stdout_and_status_0(flag):
    out = smart_jit_cli(flag)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("usage: python -m smart_jit run [--stance NAME]")
    assert "python -m smart_jit report SCRIPT.py:FUNCTION" in out.stdout
