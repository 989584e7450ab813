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
import ast
import json
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
    # Its import compiles explicit signatures (eager in plain Numba): the
    # import under ``run`` has a target of its own.
    eager_signatures: bool = False


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
    Library(
        "stumpy", "stumpy", "1.14.1", ("tests/test_stump.py", "tests/test_mpdist.py"),
        ("pandas", "polars", "dask[distributed]"),
    ),
    Library(
        "pynndescent", "pynndescent", "0.7.0",
        ("pynndescent/tests/test_rank.py", "pynndescent/tests/test_distances.py"),
        eager_signatures=True,
    ),
]  # fmt: skip
QUICK = ["numba-stats"]
MODES = {
    "numba": [],
    "default": ["-m", "smart_jit", "run", "--stance", "default"],
    "adaptive": ["-m", "smart_jit", "run", "--stance", "adaptive"],
    "interpret": ["-m", "smart_jit", "run", "--stance", "interpret"],
}
# Bytecode compiled at install, as pip does: otherwise every import in every
# mode compiles the sources of SciPy, scikit-learn... again (seconds each).
INSTALL = ["pip", "install", "-q", "--compile-bytecode", "--python"]
TOOLS = ["pytest", "coverage"]  # what runs the tests, in each library's environment
HOME = Path(os.environ.get("SMART_JIT_DOWNSTREAM_DIR", TOP / ".downstream"))


def prepare(lib: Library) -> tuple[Path, Path]:
    """The environment's python and the unpacked source distribution."""
    place = HOME / lib.name
    python = place / "venv" / "bin" / "python"
    source = place / f"{lib.module}-{lib.version}"
    stamp = place / "-".join(["ready", lib.version, *TOOLS, *lib.extras])  # what it holds
    uv = [sys.executable, "-m", "uv"]
    if stamp.exists():  # this tree as it is now
        this_tree = ["--reinstall-package", "numba-smartjit", str(TOP), *TOOLS]
        subprocess.run([*uv, *INSTALL, str(python), *this_tree], check=True)
        return python, source
    shutil.rmtree(place, ignore_errors=True)
    place.mkdir(parents=True)
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(place / "venv")], check=True)
    wanted = [f"{lib.name}=={lib.version}", *TOOLS, str(TOP), *lib.extras]
    subprocess.run([*uv, *INSTALL, str(python), *wanted], check=True)
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
        env = _environment(scratch)
        importer = Path(scratch) / "import_it.py"
        importer.write_text(f"import {lib.module}\n")
        start = time.perf_counter()
        subprocess.run([str(python), *MODES[mode], str(importer)], cwd=source, env=env, check=True)
        import_s = time.perf_counter() - start
        shutil.rmtree(env["NUMBA_CACHE_DIR"], ignore_errors=True)  # empty again
        report = Path(scratch) / "report.xml"
        command = [str(python), *MODES[mode], "-m", "pytest", "-q", "-o", f"cache_dir={scratch}",
                   f"--junitxml={report}", *lib.tests]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=source, env=env, capture_output=True, check=False)
        wall_s = time.perf_counter() - start
        tests = outcomes(report) if report.exists() else {}
    return {"tests": tests, "wall_s": wall_s, "import_s": import_s}


def _environment(scratch: str) -> dict[str, str]:
    """This process's environment, with an empty Numba cache and no stance."""
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(scratch, "cache"))
    env.pop("SMART_JIT_STANCE", None)
    return env


def jitted_lines(path: Path) -> set[int]:
    """The lines of *path* inside the bodies of functions decorated with a
    jit decorator (``jit``, ``njit``, any spelling, called or not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        names = {ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
        if any(name.rpartition(".")[2] in ("jit", "njit") for name in names):
            assert node.end_lineno is not None
            found.update(range(node.body[0].lineno, node.end_lineno + 1))
    return found


def coverage_of_jitted_code(
    python: Path, source: Path, lib: Library, stance: str
) -> dict[str, int]:
    """Run the tests under coverage.py and ``smart_jit run --stance STANCE``;
    the statements of jitted functions in the library, and how many ran."""
    with tempfile.TemporaryDirectory() as scratch:
        env = _environment(scratch)
        data, report = Path(scratch) / ".coverage", Path(scratch) / "coverage.json"
        command = [str(python), "-m", "coverage", "run", f"--data-file={data}",
                   f"--source={lib.module}", *MODES[stance], "-m", "pytest", "-q",
                   "-p", "no:cacheprovider", *lib.tests]  # fmt: skip
        subprocess.run(command, cwd=source, env=env, capture_output=True, check=False)
        subprocess.run(
            [str(python), "-m", "coverage", "json", f"--data-file={data}", "-o", str(report)],
            cwd=source, env=env, capture_output=True, check=True,
        )  # fmt: skip
        files = json.loads(report.read_text())["files"]
    statements = covered = 0
    for name, measured in files.items():
        inside = jitted_lines(source / name if not os.path.isabs(name) else Path(name))
        executed = set(measured["executed_lines"])
        statements += len(inside & (executed | set(measured["missing_lines"])))
        covered += len(inside & executed)
    return {"statements": statements, "covered": covered}


def _tables() -> tuple[Table, Table]:
    """The table of test outcomes and the table of times."""
    return (
        Table(["library", "mode", "passed", "failed", "only with smart_jit"]),
        Table(["library", "mode", "tests s", "vs plain", "import s", "vs plain", "target"]),
    )


def _ratio(ours: float, plain: float) -> str:
    return f"{ours / plain:.2f}x" if plain > 0 else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", help="names (default: all)")
    parser.add_argument("--quick", action="store_true", help="the CI subset: " + ", ".join(QUICK))
    parser.add_argument(
        "--coverage", action="store_true",
        help="only measure which lines of jitted functions coverage.py sees, per stance",
    )  # fmt: skip
    wanted = parser.parse_args()
    names = QUICK if wanted.quick else wanted.libraries or [lib.name for lib in LIBRARIES]
    chosen = [lib for lib in LIBRARIES if lib.name in names]
    if wanted.coverage:
        return show_coverage(chosen)
    tests_table, speed = _tables()
    for lib in chosen:
        python, source = prepare(lib)
        runs = {mode: run_mode(python, source, lib, mode) for mode in MODES}
        mine = _tables()  # this library's rows, saved on their own: libraries run apart
        results: dict[str, dict[str, object]] = {}
        plain = runs["numba"]
        plain_tests = plain["tests"]
        assert isinstance(plain_tests, dict)
        for mode, result in runs.items():
            tests = result["tests"]
            assert isinstance(tests, dict)
            passed = sum(tests.values())
            only = sorted(t for t, ok in tests.items() if not ok and plain_tests.get(t, False))
            if mode != "numba" and not tests:
                only = ["(no test ran)"]
            label = f"{lib.name} {lib.version}"
            mine[0].add(
                label, mode, str(passed), str(len(tests) - passed),
                "-" if mode == "numba" else str(len(only)),
                # Under plain Numba, the tests must run at all (a missing
                # test dependency fails every file at collection).
                ok=passed > 0 if mode == "numba" else not only,
            )  # fmt: skip
            _speed_row(mine[1], label, lib, mode, result, plain)
            results[mode] = {**result, "only_with_smart_jit": only}
            for test in only:
                print(f"  fails only under {mode}: {lib.name} {test}", file=sys.stderr)
        save(f"downstream-{lib.name}", {"tests": mine[0], "speed": mine[1]}, results=results)
        tests_table.rows += mine[0].rows
        speed.rows += mine[1].rows
    print(f"downstream test suites: {describe_machine()}\n")
    tests_table.print()
    print()
    speed.print()
    # A wall time is a benchmark's figure, not CI's verdict: the quick run
    # (CI) fails on wrong answers only.
    return verdict(tests_table.missed() + ([] if wanted.quick else speed.missed()))


# The targets: a library's tests under ``adaptive`` in at most half the
# time plain Numba takes; an eager-signature library's import under ``run``
# in at most 15 % of plain Numba's (its signatures wait for their first use).
ADAPTIVE_TESTS_LIMIT = 0.5
LAZY_IMPORT_LIMIT = 0.15


def _speed_row(
    speed: Table,
    label: str,
    lib: Library,
    mode: str,
    result: dict[str, object],
    plain: dict[str, object],
) -> None:
    wall, plain_wall = float(result["wall_s"]), float(plain["wall_s"])  # type: ignore[arg-type]
    imp, plain_imp = float(result["import_s"]), float(plain["import_s"])  # type: ignore[arg-type]
    target, ok = "", None
    if mode == "adaptive":
        target, ok = f"tests <= {ADAPTIVE_TESTS_LIMIT}x", wall <= ADAPTIVE_TESTS_LIMIT * plain_wall
    elif mode == "default" and lib.eager_signatures:
        target, ok = f"import <= {LAZY_IMPORT_LIMIT}x", imp <= LAZY_IMPORT_LIMIT * plain_imp
    plain_mode = mode == "numba"
    speed.add(
        label, mode, f"{wall:.1f}", "-" if plain_mode else _ratio(wall, plain_wall),
        f"{imp:.2f}", "-" if plain_mode else _ratio(imp, plain_imp), target,
        ok=ok, tests_s=wall, import_s=imp,
    )  # fmt: skip


def show_coverage(chosen: list[Library]) -> int:
    """What coverage.py reports of the libraries' jitted functions under the
    default stance (compiled: unseen) and ``interpret`` (run in Python)."""
    table = Table(["library", "stance", "statements in jitted functions", "covered", "share"])
    for lib in chosen:
        python, source = prepare(lib)
        for stance in ("default", "interpret"):
            seen = coverage_of_jitted_code(python, source, lib, stance)
            share = seen["covered"] / seen["statements"] if seen["statements"] else 0.0
            table.add(
                f"{lib.name} {lib.version}", stance, str(seen["statements"]),
                str(seen["covered"]), f"{share:.0%}", **{k: float(v) for k, v in seen.items()},
            )  # fmt: skip
    print(f"coverage of jitted functions: {describe_machine()}\n")
    table.print()
    save("downstream_coverage", {"coverage": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
