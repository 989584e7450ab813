"""``make test-numba``: Numba's own tests, with plain Numba and with smart_jit.

Runs each module of MODULES twice (``pytest --pyargs numba.tests.<module>``),
once as shipped and once with ``smart_jit_dropin`` putting smart_jit's
``jit``/``njit`` in Numba's place, two runs at a time.  Prints one row per
module (passed/failed each way, and the tests that fail only with smart_jit)
and exits 1 if any test fails only with smart_jit, unless DIFFERENCES lists
it with the reason (each is named in the README).

    python tests/numba_suite/run.py [MODULE ...]
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


def run_module(module: str, smart: bool, workdir: Path) -> tuple[dict[str, str], float]:
    """{test id: "passed" | "failed" | "skipped"} for one run of one module,
    and the seconds it took."""
    start = time.monotonic()
    junit = workdir / f"{module}-{'smart' if smart else 'plain'}.xml"
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


def main(modules: list[str]) -> int:
    import numba

    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        workdir = Path(tmp)
        runs = {
            (module, smart): pool.submit(run_module, module, smart, workdir)
            for module in modules
            for smart in (False, True)
        }
        results = {key: future.result() for key, future in runs.items()}
    print(f"Numba {numba.__version__}: its own tests, plain and with smart_jit in place")
    header = (
        "module", "plain passed", "failed", "smart_jit passed", "failed", "s", "only smart_jit"
    )  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    differences: list[str] = []
    unexplained: list[str] = []
    totals = [0, 0, 0, 0]
    for module in modules:
        (plain, plain_s), (smart, smart_s) = results[module, False], results[module, True]
        only = sorted(t for t, v in smart.items() if v == "failed" and plain.get(t) != "failed")
        row = [count(plain, "passed"), count(plain, "failed")]
        row += [count(smart, "passed"), count(smart, "failed")]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        names = ", ".join(t.rsplit("::", 1)[-1] for t in only) or "-"
        seconds = f"{plain_s:.0f}+{smart_s:.0f}"
        print(f"| {module} | " + " | ".join(map(str, row)) + f" | {seconds} | {names} |")
        for test in only:
            (differences if test in DIFFERENCES else unexplained).append(test)
    print(f"| total ({len(modules)} modules) | " + " | ".join(map(str, totals)) + " | | |")
    for test in differences:
        print(f"by design: {test}: {DIFFERENCES[test]}")
    for test in unexplained:
        print(f"FAILS ONLY WITH smart_jit: {test}")
    print(f"{len(unexplained)} test(s) fail only with smart_jit ({time.monotonic() - start:.0f} s)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or MODULES))
