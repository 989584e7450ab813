"""``make test-numba``: Numba's own tests, with smart_jit and with plain Numba.

Runs each module of MODULES with ``smart_jit_dropin`` putting smart_jit's
``jit``/``njit`` in Numba's place (``pytest --pyargs numba.tests.<module>``),
two runs at a time; then, for each module where a test failed, the module as
shipped (plain Numba), to tell a failure of ours from one this machine gives
Numba too.  A test that fails only with smart_jit is run once more (its
module, with smart_jit): Numba's suite has tests that time out now and then
(``test_no_fork_in_compilation`` runs itself under strace in a child process
without the drop-in, with a 60 s limit), so a test that passes the second time
is reported as flaky, not as a difference.  Prints one row per module and exits 1
if any test fails only with smart_jit twice, unless DIFFERENCES lists it with
the reason (each is named in docs/development.md).

    python tests/numba_suite/run.py [--both] [MODULE ...]

``--both`` runs plain Numba on every module too (twice the time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Every module that exercises jit/njit dispatch and what Numba does around a
# call: compilation modes (nopython, object mode, loop lifting, with-lifting),
# explicit signatures and conversions, caching, closures, generators,
# exceptions, pickling, threads, events, recursion and calls between jitted
# functions, and argument types (numbers, complex, tuples, lists, dicts, sets,
# strings, records, enums, optionals, arrays).
MODULES = [
    # dispatch and compilation
    "test_dispatcher", "test_jit_module", "test_compiler_lock", "test_threadsafety",
    "test_event", "test_func_lifetime", "test_obj_lifetime", "test_func_interface",
    "test_nested_calls", "test_recursion", "test_interproc", "test_globals",
    "test_literal_dispatch", "test_typeof", "test_typeinfer", "test_conversion",
    "test_warnings", "test_boundscheck", "test_fastmath", "test_annotations",
    # modes
    "test_object_mode", "test_looplifting", "test_withlifting", "test_objects",
    # caching and pickling
    "test_caching", "test_serialize",
    # language features
    "test_closure", "test_generators", "test_exceptions", "test_errorhandling",
    "test_iteration", "test_optional", "test_flow_control", "test_extending",
    # argument and value types
    "test_complex", "test_numberctor", "test_builtins", "test_operators",
    "test_tuples", "test_lists", "test_dicts", "test_sets", "test_range",
    "test_enums", "test_record_dtype", "test_unicode", "test_sort", "test_nrt",
    "test_array_return", "test_casting",
]  # fmt: skip

# Tests that fail only with smart_jit by design: {test id: reason}.
DIFFERENCES: dict[str, str] = {}


def run_module(
    module: str, smart: bool, workdir: Path, tag: str = ""
) -> tuple[dict[str, str], float]:
    """{test id: "passed" | "failed" | "skipped"} for one run of one module,
    and the seconds it took."""
    start = time.monotonic()
    junit = workdir / f"{module}-{'smart' if smart else 'plain'}{tag}.xml"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    args += ["--pyargs", f"numba.tests.{module}", f"--junitxml={junit}", "-o", "addopts="]
    env = dict(os.environ)
    if smart:
        args += ["-p", "smart_jit_dropin"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - start
    outcomes: dict[str, str] = {}
    if not junit.exists():
        return {f"{module}::<collection>": "failed"}, seconds
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').lstrip('.')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[name] = "failed"
        elif case.find("skipped") is not None:
            outcomes[name] = "skipped"
        else:
            outcomes[name] = "passed"
    return outcomes, seconds


def count(outcomes: dict[str, str], what: str) -> int:
    return sum(1 for v in outcomes.values() if v == what)


def failed_only_with_smart(smart: dict[str, str], plain: dict[str, str]) -> list[str]:
    return sorted(t for t, v in smart.items() if v == "failed" and plain.get(t) != "failed")


def main(modules: list[str], both: bool = False) -> int:
    import numba

    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        workdir = Path(tmp)
        submitted = {m: pool.submit(run_module, m, True, workdir) for m in modules}
        if both:
            plain_runs = {m: pool.submit(run_module, m, False, workdir) for m in modules}
        smart = {m: future.result() for m, future in submitted.items()}
        if not both:  # plain Numba only where smart_jit failed something
            failing = [m for m in modules if count(smart[m][0], "failed")]
            plain_runs = {m: pool.submit(run_module, m, False, workdir) for m in failing}
        plain = {m: future.result() for m, future in plain_runs.items()}
        suspects = {
            m: failed_only_with_smart(smart[m][0], plain[m][0])
            for m in plain
            if failed_only_with_smart(smart[m][0], plain[m][0])
        }
        again_runs = {m: pool.submit(run_module, m, True, workdir, "-again") for m in suspects}
        again = {m: future.result()[0] for m, future in again_runs.items()}
    print(f"Numba {numba.__version__}: its own tests with smart_jit in place, and plain", end="")
    print(" (every module)" if both else " (modules where a test failed)")
    header = (
        "module", "smart_jit passed", "failed", "plain passed", "failed", "s", "only smart_jit"
    )  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    differences: list[str] = []
    unexplained: list[str] = []
    flaky: list[str] = []
    totals = [0, 0, 0, 0]
    for module in modules:
        outcomes, smart_s = smart[module]
        row = [count(outcomes, "passed"), count(outcomes, "failed")]
        cells = list(map(str, row))
        seconds = f"{smart_s:.0f}"
        only: list[str] = []
        if module in plain:
            plain_outcomes, plain_s = plain[module]
            row += [count(plain_outcomes, "passed"), count(plain_outcomes, "failed")]
            cells += map(str, row[2:])
            seconds += f"+{plain_s:.0f}"
            for test in suspects.get(module, []):
                if again[module].get(test) == "failed":
                    only.append(test)
                else:
                    flaky.append(test)
        else:
            row += [0, 0]
            cells += ["-", "-"]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        names = ", ".join(t.rsplit("::", 1)[-1] for t in only) or "-"
        print(f"| {module} | " + " | ".join(cells) + f" | {seconds} | {names} |")
        for test in only:
            (differences if test in DIFFERENCES else unexplained).append(test)
    print(f"| total ({len(modules)} modules) | " + " | ".join(map(str, totals)) + " | | |")
    for test in flaky:
        print(f"flaky: {test} failed only with smart_jit once, then passed with it")
    for test in differences:
        print(f"by design: {test}: {DIFFERENCES[test]}")
    for test in unexplained:
        print(f"FAILS ONLY WITH smart_jit: {test}")
    print(f"{len(unexplained)} test(s) fail only with smart_jit ({time.monotonic() - start:.0f} s)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    run_both = "--both" in arguments
    chosen = [a for a in arguments if a != "--both"]
    sys.exit(main(chosen or MODULES, both=run_both))
