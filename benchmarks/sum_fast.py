"""The seed's sum_fast as a workload a user would run, and where its policy pays.

1. Workload: 10,000 calls on 1,000-element arrays plus 10 calls on
   1,000,000-element arrays, each strategy in a fresh process, total wall time
   including compilation.
2. Time per call against array size for the interpreter and for compiled
   code, written to .bench/crossover.png (an ignored folder; needs the
   ``bench`` extra).  The documentation's picture, docs/images/crossover.png, is a
   copy of one run's, refreshed by hand.

Run: ``make bench`` (or ``python benchmarks/sum_fast.py``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness import in_fresh_process, median_time, save

HERE = Path(__file__).resolve().parent
SMALL_CALLS, BIG_CALLS = 10_000, 10
SMALL, BIG = 1_000, 1_000_000
STRATEGIES = (
    "always JIT",
    "always interpreter",
    "seed size policy",
    "after_calls(50)",
    "adaptive()",
)

WORKLOAD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from smart_jit import Action, jit
from smart_jit.policies import adaptive, after_calls

strategy = sys.argv[1]
tiered = after_calls(50)
def policy(A):
    if strategy == "after_calls(50)":
        return tiered(A)
    if strategy == "always JIT":
        return Action.JIT
    if strategy == "always interpreter":
        return Action.INTERPRETER
    return Action.JIT if len(A) > 100_000 else Action.INTERPRETER

@jit(fastmath=True, use_jit=adaptive() if strategy == "adaptive()" else policy)
def sum_fast(A):
    acc = 0.0
    for x in A:
        acc += np.sqrt(x)
    return acc

small = np.arange({small}, dtype=np.float64)
big = np.arange({big}, dtype=np.float64)
t1 = time.perf_counter()
for _ in range({small_calls}):
    sum_fast(small)
for _ in range({big_calls}):
    sum_fast(big)
t2 = time.perf_counter()
print(json.dumps({{"total": t2 - t0, "calls": t2 - t1}}))
"""


def run_workload(strategy: str) -> dict[str, float]:
    code = WORKLOAD.format(small=SMALL, big=BIG, small_calls=SMALL_CALLS, big_calls=BIG_CALLS)
    return in_fresh_process(code, strategy)  # type: ignore[no-any-return]


def per_call_by_size(sizes: list[int]) -> tuple[list[float], list[float], float]:
    """Median seconds per call, interpreted and compiled; and the compile time."""
    import numpy as np

    from smart_jit import Action, jit

    def sum_fast(A):
        acc = 0.0
        for x in A:
            acc += np.sqrt(x)
        return acc

    compiled = jit(fastmath=True, use_jit=lambda A: Action.JIT)(sum_fast)
    start = time.perf_counter()
    compiled(np.arange(10.0))
    compile_time = time.perf_counter() - start
    interpreted, native = [], []
    for size in sizes:
        A = np.arange(size, dtype=np.float64)
        repeats = max(3, min(200, 2_000_000 // (size * 1_000) + 3))
        interpreted.append(median_time(lambda A=A: sum_fast(A), repeats if size < 10**5 else 3))
        native.append(median_time(lambda A=A: compiled(A), 50))
    return interpreted, native, compile_time


def break_even_size(sizes, interpreted, compile_time):
    """Where one interpreted call costs as much as one compile (log-log interpolation)."""
    import math

    points = list(zip(sizes, interpreted, strict=True))
    for (s0, t0), (s1, t1) in zip(points, points[1:], strict=False):
        if t0 <= compile_time <= t1:
            frac = (math.log(compile_time) - math.log(t0)) / (math.log(t1) - math.log(t0))
            return math.exp(math.log(s0) + frac * (math.log(s1) - math.log(s0)))
    return None


def plot(sizes, interpreted, native, compile_time, path: Path) -> str:
    try:
        import matplotlib
    except ImportError:
        return "matplotlib not installed (pip install 'numba-smartjit[bench]'): no picture"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(sizes, interpreted, "o-", label="interpreter (Python loop)")
    ax.loglog(sizes, native, "s-", label="compiled (after the compile)")
    ax.axhline(
        compile_time,
        color="grey",
        linestyle=":",
        label=f"one compile ({compile_time * 1e3:.0f} ms)",
    )
    crossing = break_even_size(sizes, interpreted, compile_time)
    if crossing is not None:
        ax.axvline(
            crossing,
            color="red",
            linestyle="--",
            label=f"one interpreted call costs a compile: {crossing:,.0f} elements",
        )
    ax.set_xlabel("array size (elements)")
    ax.set_ylabel("time per call (s)")
    ax.set_title("sum_fast: time per call, interpreter vs compiled")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"wrote {path}"


def main() -> int:
    print(f"workload: {SMALL_CALLS:,} calls on {SMALL:,} elements + {BIG_CALLS} calls on {BIG:,}")
    print("each strategy in a fresh process; wall time including import and compile\n")
    print(f"| {'strategy':<20} | {'total (s)':>9} | {'calls only (s)':>14} |")
    workloads = {}
    for strategy in STRATEGIES:
        result = workloads[strategy] = run_workload(strategy)
        print(f"| {strategy:<20} | {result['total']:9.2f} | {result['calls']:14.2f} |")

    sizes = [10, 100, 1_000, 10_000, 100_000, 1_000_000, 3_000_000]
    interpreted, native, compile_time = per_call_by_size(sizes)
    print(f"\ntime per call by size (median); one compile took {compile_time * 1e3:.0f} ms")
    print(
        f"| {'size':>9} | {'interpreter':>12} | {'compiled':>10} | {'calls to repay compile':>22} |"
    )
    for size, i, n in zip(sizes, interpreted, native, strict=True):
        repay = compile_time / (i - n) if i > n else float("inf")
        print(f"| {size:>9,} | {i * 1e6:9.1f} us | {n * 1e6:7.1f} us | {repay:22,.0f} |")
    faster = all(n < i for i, n in zip(interpreted, native, strict=True))
    print("compiled code is faster per call at every size" if faster else "curves cross")
    crossing = break_even_size(sizes, interpreted, compile_time)
    if crossing is not None:
        print(f"one interpreted call costs as much as a compile at {crossing:,.0f} elements")
    path = save(
        "sum_fast",
        workloads=workloads,
        sizes=sizes,
        interpreted=interpreted,
        compiled=native,
        compile_time=compile_time,
    )
    print(plot(sizes, interpreted, native, compile_time, path.parent / "crossover.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
