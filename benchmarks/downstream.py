"""Real libraries' own test suites, unchanged, under plain Numba and under
``python -m smart_jit run`` in the default, adaptive and interpret stances.

Each library is installed by name at a pinned version into a uv environment
of its own (``.downstream/<name>/venv``), with this source tree; its tests
come from its source distribution.  Every mode starts from an empty Numba
cache.  A table prints, per library and mode: tests passed and failed, the
wall time of the test run and of ``import <library>``.  Exit status 1 when a
test fails with smart_jit that passes under plain Numba.

Run: ``make test-downstream`` (the subsets below), ``python
benchmarks/downstream.py --quick`` (one library, for CI), or name libraries.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from harness import TOP, Table, describe_machine, save, verdict


@dataclass(frozen=True)
class Library:
    name: str  # on the package index
    module: str
    version: str
    tests: tuple[str, ...]  # paths inside its source distribution
    extras: tuple[str, ...] = ()  # what its tests need besides it


LIBRARIES = [
    Library(
        "numba-stats", "numba_stats", "1.14.0",
        ("tests/test_norm.py", "tests/test_expon.py", "tests/test_t.py",
         "tests/test_truncnorm.py", "tests/test_poisson.py"),
        ("scipy",),
    ),
    Library(
        "quantecon", "quantecon", "0.11.4",
        ("quantecon/game_theory/tests/test_lemke_howson.py",
         "quantecon/game_theory/tests/test_vertex_enumeration.py",
         "quantecon/optimize/tests/test_lcp_lemke.py",
         "quantecon/markov/tests/test_gth_solve.py"),
    ),
    Library("stumpy", "stumpy", "1.14.1", ("tests/test_stump.py", "tests/test_mpdist.py")),
    Library(
        "pynndescent", "pynndescent", "0.7.0",
        ("pynndescent/tests/test_rank.py", "pynndescent/tests/test_distances.py"),
    ),
]  # fmt: skip
QUICK = ["numba-stats"]
MODES = {
    "numba": [],
    "default": ["-m", "smart_jit", "run", "--stance", "default"],
    "adaptive": ["-m", "smart_jit", "run", "--stance", "adaptive"],
    "interpret": ["-m", "smart_jit", "run", "--stance", "interpret"],
}
HOME = Path(os.environ.get("SMART_JIT_DOWNSTREAM_DIR", TOP / ".downstream"))


def prepare(lib: Library) -> tuple[Path, Path]:
    """The environment's python and the unpacked source distribution."""
    place = HOME / lib.name
    python = place / "venv" / "bin" / "python"
    source = place / f"{lib.module}-{lib.version}"
    stamp = place / f"ready-{lib.version}"
    uv = [sys.executable, "-m", "uv"]
    if stamp.exists():  # this tree as it is now
        this_tree = ["--reinstall-package", "numba-smartjit", str(TOP)]
        install = [*uv, "pip", "install", "-q", "--python", str(python)]
        subprocess.run([*install, *this_tree], check=True)
        return python, source
    shutil.rmtree(place, ignore_errors=True)
    place.mkdir(parents=True)
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(place / "venv")], check=True)
    wanted = [f"{lib.name}=={lib.version}", "pytest", str(TOP), *lib.extras]
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), *wanted], check=True)
    with tempfile.TemporaryDirectory() as folder:
        fetched = _sdist(lib, Path(folder))
        with tarfile.open(fetched) as archive:
            archive.extractall(place, filter="data")
        unpacked = next(p for p in place.iterdir() if p.is_dir() and p.name != "venv")
        unpacked.rename(source)
    stamp.touch()
    return python, source


def _sdist(lib: Library, folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         f"{lib.name}=={lib.version}", "-d", str(folder)],
        check=True,
    )  # fmt: skip
    return next(folder.glob("*.tar.gz"))


def outcomes(report: Path) -> dict[str, bool]:
    """test id -> passed, from a JUnit XML report."""
    found = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "skipped" in kinds:
            continue
        found[name] = not kinds & {"failure", "error"}
    return found


def run_mode(python: Path, source: Path, lib: Library, mode: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(scratch, "cache"))
        env.pop("SMART_JIT_STANCE", None)
        importer = Path(scratch) / "import_it.py"
        importer.write_text(f"import {lib.module}\n")
        start = time.perf_counter()
        subprocess.run([str(python), *MODES[mode], str(importer)], cwd=source, env=env, check=True)
        import_s = time.perf_counter() - start
        shutil.rmtree(os.path.join(scratch, "cache"), ignore_errors=True)  # empty again
        report = Path(scratch) / "report.xml"
        command = [str(python), *MODES[mode], "-m", "pytest", "-q", "-o", f"cache_dir={scratch}",
                   f"--junitxml={report}", *lib.tests]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=source, env=env, capture_output=True, check=False)
        wall_s = time.perf_counter() - start
        tests = outcomes(report) if report.exists() else {}
    return {"tests": tests, "wall_s": wall_s, "import_s": import_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", help="names (default: all)")
    parser.add_argument("--quick", action="store_true", help="the CI subset: " + ", ".join(QUICK))
    wanted = parser.parse_args()
    names = QUICK if wanted.quick else wanted.libraries or [lib.name for lib in LIBRARIES]
    chosen = [lib for lib in LIBRARIES if lib.name in names]
    table = Table(["library", "mode", "passed", "failed", "only with smart_jit", "tests s",
                   "import s"])  # fmt: skip
    results: dict[str, dict[str, object]] = {}
    for lib in chosen:
        python, source = prepare(lib)
        runs = {mode: run_mode(python, source, lib, mode) for mode in MODES}
        plain = runs["numba"]["tests"]
        for mode, result in runs.items():
            tests = result["tests"]
            assert isinstance(tests, dict)
            passed = sum(tests.values())
            only = sorted(t for t, ok in tests.items() if not ok and plain.get(t, False))
            if mode != "numba" and not tests:
                only = ["(no test ran)"]
            table.add(
                f"{lib.name} {lib.version}", mode, str(passed), str(len(tests) - passed),
                str(len(only)), f"{result['wall_s']:.1f}", f"{result['import_s']:.2f}",
                ok=None if mode == "numba" else not only,
            )  # fmt: skip
            results[f"{lib.name}/{mode}"] = {**result, "only_with_smart_jit": only}
            for test in only:
                print(f"  fails only under {mode}: {lib.name} {test}", file=sys.stderr)
    print(f"downstream test suites: {describe_machine()}\n")
    table.print()
    save("downstream", {"downstream": table}, results=results)
    return verdict(table.missed())


if __name__ == "__main__":
    sys.exit(main())
