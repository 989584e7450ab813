"""The supported-versions matrix: ``make test-matrix``.

Each cell runs the whole test suite in its own environment, made by uv from
the package index:

- ``numba(0.59)`` ... ``numba(0.68)``: every Numba minor on Python 3.11;
- ``python-3.10``, ``python-3.12``, ``python-3.13``: the newest Numba on the
  other Pythons.

Interpreters are looked for on PATH and, where pyenv is installed, among
pyenv's versions (its shims answer only for the selected version).  A Python
that is not installed is skipped with a line saying so; nothing is
downloaded but packages.  ``nox -s table`` prints the results as one table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nox

NUMBA_MINORS = [f"0.{minor}" for minor in range(59, 69)]
NUMBA_PYTHON = "3.11"
OTHER_PYTHONS = ["3.10", "3.12", "3.13"]
NEWEST_NUMBA = NUMBA_MINORS[-1]
RESULTS = Path(".nox") / "results"

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["numba", "python", "table"]


def _pyenv_interpreter_dirs() -> list[str]:
    """``bin`` folders of pyenv's installed CPythons, newest patch first."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
    versions = Path(root, "versions")
    if not root or not versions.is_dir():
        return []

    def version_key(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.name.split(".") if p.isdigit())

    found = [v for v in versions.iterdir() if (v / "bin" / "python3").exists()]
    return [str(v / "bin") for v in sorted(found, key=version_key, reverse=True)]


# pyenv's real interpreters before its shims, so "3.10" finds python3.10.
os.environ["PATH"] = os.pathsep.join([*_pyenv_interpreter_dirs(), os.environ.get("PATH", "")])


def _run_suite(session: nox.Session, numba: str, cell: str) -> None:
    session.install(f"numba=={numba}.*", "-e", ".[test]")
    RESULTS.mkdir(parents=True, exist_ok=True)
    junit = RESULTS / f"{cell}.xml"
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
        *session.posargs,
        success_codes=[0, 1],  # 1: some failed; counted below, after the versions
    )  # fmt: skip
    versions = session.run(
        "python",
        "-c",
        "import sys, numba, numpy; "
        "print(sys.version.split()[0], numba.__version__, numpy.__version__)",
        silent=True,
    )
    python, numba_version, numpy_version = str(versions).split()
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    total = int(suite.get("tests", 0)) - int(suite.get("skipped", 0))
    (RESULTS / f"{cell}.json").write_text(
        json.dumps(
            {
                "cell": cell,
                "python": python,
                "numba": numba_version,
                "numpy": numpy_version,
                "passed": total - failed,
                "failed": failed,
            }
        )
    )
    if failed:
        session.error(f"{failed} test(s) failed with Numba {numba_version}, Python {python}")


@nox.session(python=NUMBA_PYTHON)
@nox.parametrize("numba", NUMBA_MINORS, ids=NUMBA_MINORS)
def numba(session: nox.Session, numba: str) -> None:
    """The suite on one Numba minor release."""
    _run_suite(session, numba, f"numba-{numba}")


@nox.session(python=OTHER_PYTHONS)
def python(session: nox.Session) -> None:
    """The suite on another Python, with the newest Numba."""
    _run_suite(session, NEWEST_NUMBA, f"python-{session.python}")


@nox.session(python=False)
def table(session: nox.Session) -> None:
    """One line per cell: Python, Numba, NumPy, passed, failed."""
    cells = [f"numba-{m}" for m in NUMBA_MINORS] + [f"python-{p}" for p in OTHER_PYTHONS]
    rows = [("cell", "Python", "Numba", "NumPy", "passed", "failed")]
    for cell in cells:
        path = RESULTS / f"{cell}.json"
        if not path.exists():
            rows.append((cell, "-", "-", "-", "-", "not run (interpreter missing or skipped)"))
            continue
        r = json.loads(path.read_text())
        rows.append((cell, r["python"], r["numba"], r["numpy"], str(r["passed"]), str(r["failed"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
