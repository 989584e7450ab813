"""``install``, ``python -m smart_jit run`` and ``pytest --smart-jit``: any
Numba program, unchanged, gets smart-jitted functions; each case in a fresh
interpreter, where what was imported first matters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import PATIENCE

pytestmark = pytest.mark.slow  # fresh interpreters

# A library nobody here would change: every public spelling of numba.jit,
# with what is not replaced beside it.
LIBRARY = """
import numba
import numba.core.decorators
import numpy as np
from numba import njit, jit, cfunc, vectorize, guvectorize, types
from numba.experimental import jitclass
from numba.extending import overload
from numba.typed import List, Dict


@njit
def spelled_njit(a):
    return a + 1

@jit
def spelled_jit(a):
    return a + 2

@numba.njit(cache=False)
def spelled_numba_njit(a):
    return a + 3

@numba.core.decorators.jit(nopython=True)
def spelled_core_jit(a):
    return a + 4

@njit(["int64(int64)", "float64(float64)"])
def declared(a):
    return a * 2

@jit(forceobj=True)
def object_mode(a):
    return [a][0]

@vectorize(["float64(float64)"])
def plus_one(x):
    return x + 1.0

@guvectorize(["void(float64[:], float64[:])"], "(n)->(n)")
def doubled(x, out):
    for i in range(x.shape[0]):
        out[i] = 2 * x[i]

@cfunc("float64(float64)")
def c_half(x):
    return x / 2

def stub(a):
    pass

@overload(stub)
def _stub_impl(a):
    return lambda a: a * 10

@jitclass([("value", types.float64)])
class Box:
    def __init__(self, value):
        self.value = value
    def twice(self):
        return spelled_njit(self.value) * 2

@njit
def uses_everything(a):
    items = List()
    items.append(a)
    table = Dict.empty(types.int64, types.float64)
    table[1] = a
    box = Box(a)
    vector = plus_one(np.ones(2) * a).sum()
    return vector + items[0] + table[1] + box.twice() + stub(a) + declared(a)
"""

PROGRAM = """
import sys, numpy as np
import smart_jit
from smart_jit import SmartDispatcher
{before}
import library as lib
from numba.core.dispatcher import Dispatcher

smart = [n for n in ("spelled_njit", "spelled_jit", "spelled_numba_njit", "spelled_core_jit",
                     "declared", "uses_everything") if isinstance(getattr(lib, n), SmartDispatcher)]
print("smart", len(smart))
print("object mode stays Numba's", not isinstance(lib.object_mode, SmartDispatcher))
print("declared waits", lib.declared.signatures == [])
out = np.zeros(3)
lib.doubled(np.arange(3.0), out)
print("answer", lib.uses_everything(2.0), lib.spelled_jit(1), lib.c_half.ctypes(3.0),
      out.tolist(), lib.object_mode(5))
"""


def run(code, *args, cwd, **env):
    return subprocess.run(
        [sys.executable, *args] if not code else [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=PATIENCE,
        env=dict(os.environ, PYTHONPATH=str(cwd), **env),
    )


@pytest.fixture
def program(tmp_path):
    (tmp_path / "library.py").write_text(LIBRARY)

    def write(before="smart_jit.install()"):
        script = tmp_path / "program.py"
        script.write_text(PROGRAM.format(before=before))
        return script

    return write


# One answer, compiled by plain Numba: every path must give it.
ANSWER = "answer 40.0 3 1.5 [0.0, 2.0, 4.0] 5"


def test_plain_numba_gives_the_answer(program, tmp_path):
    out = run(None, str(program(before="")), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "smart 0"
    assert out.stdout.splitlines()[-1] == ANSWER


def test_install_makes_every_spelling_smart_and_leaves_the_rest_to_numba(program, tmp_path):
    out = run(None, str(program()), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "smart 6",
        "object mode stays Numba's True",
        "declared waits True",
        ANSWER,
    ]


@pytest.mark.parametrize("stance", ["default", "adaptive", "background", "interpret"])
def test_run_gives_the_same_answer_under_every_stance(program, tmp_path, stance):
    out = run(None, "-m", "smart_jit", "run", "--stance", stance, str(program(before="")),
              cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "smart 6"
    assert out.stdout.splitlines()[-1] == ANSWER


def test_run_report_lists_every_function_and_totals_on_stderr(program, tmp_path):
    out = run(None, "-m", "smart_jit", "run", "--stance", "interpret", "--report",
              str(program(before="")), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = out.stderr.splitlines()
    assert report[0] == "smart_jit: 6 smart-jitted functions, stance interpret"
    assert report[-1].startswith("total: ")
    rows = {line.split()[5]: line for line in report[2:-1]}
    assert set(rows) == {f"library.{n}" for n in ("spelled_njit", "spelled_jit",
                         "spelled_numba_njit", "spelled_core_jit", "declared",
                         "uses_everything")}  # fmt: skip
    assert "never interpreted: it calls stub" in rows["library.uses_everything"]
    assert "the stance is interpret" in rows["library.spelled_jit"]


def test_run_eager_compiles_declared_signatures_at_decoration(program, tmp_path):
    out = run(None, "-m", "smart_jit", "run", "--eager", str(program(before="")), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "declared waits False" in out.stdout


def test_functions_jitted_before_install_stay_numbas_and_are_named(tmp_path):
    (tmp_path / "early.py").write_text("import numba\n@numba.njit\ndef f(a):\n    return a\n")
    code = textwrap.dedent(
        """
        import warnings, early, smart_jit
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            before = smart_jit.install()
        print(before, type(early.f).__name__)
        print(caught[0].category.__name__, caught[0].filename == "<string>", caught[0].message)
        """
    )
    out = run(code, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "['early'] CPUDispatcher",
        "NumbaWarning True smart_jit.install: functions in early were jitted before install "
        "and stay Numba's",
    ]


def test_uninstall_gives_numba_jit_back():
    code = textwrap.dedent(
        """
        import numba, numba.core.decorators as d, smart_jit
        originals = numba.jit, numba.njit, d.jit, d.njit
        smart_jit.install()
        smart = numba.njit(lambda a: a)
        smart_jit.uninstall()
        plain = numba.njit(lambda a: a)
        print(type(smart).__name__, type(plain).__name__,
              (numba.jit, numba.njit, d.jit, d.njit) == originals)
        """
    )
    out = run(code, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SmartDispatcher", "CPUDispatcher", "True"]


def test_a_function_with_a_policy_of_its_own_keeps_it_under_install():
    code = textwrap.dedent(
        """
        import smart_jit
        from smart_jit import Action, jit
        smart_jit.install("adaptive")
        f = jit(use_jit=lambda a: Action.JIT)(lambda a: a + 1)
        print(f(1), len(f.signatures))
        """
    )
    out = run(code, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "1"]


def test_run_module_runs_as_python_dash_m_with_its_arguments(tmp_path):
    (tmp_path / "tool.py").write_text(
        "import sys, numba\n"
        "@numba.njit\ndef f(a):\n    return a * 2\n"
        "if __name__ == '__main__':\n"
        "    print(__name__, sys.argv[1:], type(f).__name__, f(21))\n"
        "    sys.exit(4)\n"
    )
    out = run(None, "-m", "smart_jit", "run", "-m", "tool", "--flag", "x", cwd=tmp_path)
    assert out.returncode == 4, out.stderr
    assert out.stdout.split() == ["__main__", "['--flag',", "'x']", "SmartDispatcher", "42"]


TEST_FILE = """
import numba
from smart_jit import SmartDispatcher

@numba.njit
def square(a):
    return a * a

def test_square():
    assert isinstance(square, SmartDispatcher)
    assert square(2**40) == 2**80  # Python's answer: interpreted
    assert [fb.reason for fb in square.fallbacks()] == ["the stance is interpret"]
"""


def test_the_pytest_plugin_installs_before_test_modules_are_imported(tmp_path):
    (tmp_path / "test_lib.py").write_text(TEST_FILE)
    args = ["-m", "pytest", "-p", "no:cacheprovider", "--smart-jit=interpret", "test_lib.py"]
    out = run(None, *args, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    assert "smart_jit: numba.jit installed, stance interpret" in out.stdout


def test_the_pytest_plugin_refuses_an_unknown_stance(tmp_path):
    (tmp_path / "test_lib.py").write_text(TEST_FILE)
    out = run(None, "-m", "pytest", "-q", "--smart-jit=quick", "test_lib.py", cwd=tmp_path)
    assert out.returncode == 4
    assert "--smart-jit: unknown stance 'quick'" in out.stderr


def test_the_pytest_plugin_imports_nothing_without_its_option(tmp_path):
    (tmp_path / "test_none.py").write_text(
        "import sys\ndef test_nothing_imported():\n"
        "    assert 'smart_jit' not in sys.modules and 'numba' not in sys.modules\n"
    )
    out = run(None, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_none.py", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


COVERED = """
import numba

@numba.njit
def clipped(a, low):
    if a < low:
        return low
    return a

print(clipped(1, 3), clipped(5, 3))
"""


def test_coverage_sees_the_lines_of_jitted_functions_under_interpret(tmp_path):
    pytest.importorskip("coverage")  # in the test extra: `make test` installs it
    (tmp_path / "covered.py").write_text(COVERED)
    base = ["-m", "coverage", "run", "--data-file", str(tmp_path / ".cov")]
    for stance in ("default", "interpret"):
        out = run(None, *base, "-m", "smart_jit", "run", "--stance", stance, "covered.py",
                  cwd=tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["3", "5"]
        report = run(None, "-m", "coverage", "report", "-m", "--data-file",
                     str(tmp_path / ".cov"), "--include", "covered.py", cwd=tmp_path)  # fmt: skip
        line = next(line for line in report.stdout.splitlines() if "covered" in line)
        missing = line.split("%")[-1].strip()
        if stance == "default":
            assert missing == "6-8", "compiled: Python never runs the body"
        else:
            assert missing == "", "interpreted: every line ran"
