"""How well ``compile_costs`` predicts a compile before it runs.

Twenty kernels of different kinds (scalar code, loops, ufuncs, NumPy library
functions, array methods, a jitted callee, ``parallel=True``), each compiled
in a fresh process after a warm-up compile (so Numba's first-compile costs are
measured apart); the table gives the prediction from bytecode against the
compile time.  Then the weights that fit these kernels best on this machine
and this Numba (least squares on log(predicted / actual)), to compare with the
ones in ``src/smart_jit/compile_costs.py``.

Run: ``make bench`` (or ``python benchmarks/compile_costs.py``).  Reports only:
no target (docs/guide/policies.md, "Choosing a policy").
"""

from __future__ import annotations

import math
import statistics
import sys

from harness import in_fresh_process, save
from kernels import KERNELS, PARALLEL

from smart_jit import compile_costs

MEASURE = """
import json, sys, time
from numba import njit
sys.path.insert(0, {here!r})
import kernels as bench

start = time.perf_counter()
njit(lambda x: x + 1)(1)  # the first compile in the process
first = time.perf_counter() - start
start = time.perf_counter()
njit(lambda x: x - 1)(1)
trivial = time.perf_counter() - start
name = sys.argv[1]
kernel = njit(parallel=name in bench.PARALLEL)(getattr(bench, name))
args = bench.arguments(name)
start = time.perf_counter()
kernel(*args)
print(json.dumps({{"compile": time.perf_counter() - start, "first": first - trivial}}))
"""


def measure(name: str) -> dict[str, float]:
    here = str(__import__("pathlib").Path(__file__).resolve().parent)
    code = MEASURE.format(here=here)
    return in_fresh_process(code, name)  # type: ignore[no-any-return]


def fit(features: list[compile_costs.Features], actual: list[float]) -> list[float]:
    """Weights (base, instruction, library function, method, ufunc, parallel)
    minimising the squared log error, by coordinate search from the shipped ones."""
    weights = [
        compile_costs.BASE, compile_costs.PER_INSTRUCTION, compile_costs.PER_LIBRARY_FUNCTION,
        compile_costs.PER_METHOD, compile_costs.PER_UFUNC, compile_costs.PARALLEL,
    ]  # fmt: skip

    def loss(w: list[float]) -> float:
        return sum(math.log(_predict(w, f) / a) ** 2 for f, a in zip(features, actual, strict=True))

    for _ in range(60):
        for i in range(len(weights)):
            for factor in (0.5, 0.7, 0.85, 0.95, 1.05, 1.2, 1.4, 2.0):
                trial = list(weights)
                trial[i] = max(weights[i] * factor, 1e-4)
                if loss(trial) < loss(weights):
                    weights = trial
    return weights


def _predict(w: list[float], f: compile_costs.Features) -> float:
    counts = (1, f.instructions, f.library_functions, f.methods, f.ufuncs, int(f.parallel))
    return sum(c * x for c, x in zip(counts, w, strict=True))


def main() -> int:
    import numba

    print(
        f"compile time predicted from bytecode against measured, fresh process per kernel; "
        f"Numba {numba.__version__}, Python {sys.version.split()[0]}\n"
    )
    print("| kernel | features | predicted | measured | predicted / measured |")
    print("|---|---|---:|---:|---:|")
    features, actual, firsts = [], [], []
    for kernel in KERNELS:
        found = compile_costs.features(kernel, kernel.__name__ in PARALLEL)
        measured = measure(kernel.__name__)
        features.append(found)
        actual.append(measured["compile"])
        firsts.append(measured["first"])
        predicted = found.predicted()
        print(
            f"| {kernel.__name__} | {found.describe()} | {predicted:.3f} s | "
            f"{measured['compile']:.3f} s | {predicted / measured['compile']:.2f}x |"
        )
    ratios = [f.predicted() / a for f, a in zip(features, actual, strict=True)]
    logs = sorted(math.log(r) for r in ratios)
    print(
        f"\npredicted / measured: geometric mean {math.exp(statistics.fmean(logs)):.2f}x, "
        f"middle half {math.exp(logs[len(logs) // 4]):.2f}x to "
        f"{math.exp(logs[3 * len(logs) // 4]):.2f}x, range {min(ratios):.2f}x to {max(ratios):.2f}x"
    )
    print(
        f"first compile in a process costs {statistics.median(firsts):.3f} s more "
        f"(median; FIRST_IN_PROCESS = {compile_costs.FIRST_IN_PROCESS})"
    )
    best = fit(features, actual)
    names = (
        "BASE",
        "PER_INSTRUCTION",
        "PER_LIBRARY_FUNCTION",
        "PER_METHOD",
        "PER_UFUNC",
        "PARALLEL",
    )
    print(
        "weights that fit best here: "
        + ", ".join(f"{n} {w:.4g}" for n, w in zip(names, best, strict=True))
    )
    save(
        "compile_costs",
        kernels={
            k.__name__: {"predicted": f.predicted(), "measured": a, "first": t}
            for k, f, a, t in zip(KERNELS, features, actual, firsts, strict=True)
        },
        fitted=dict(zip(names, best, strict=True)),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
