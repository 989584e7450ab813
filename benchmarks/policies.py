"""Which policy to use: every ready-made policy on workloads of different shapes.

Each workload runs in a fresh process per strategy (wall time from before the
imports to the last call: import, compiles, calls), in interleaved rounds; the
table gives medians and, per workload, each strategy's ratio to the better of
always-JIT and always-interpreter, the choice made in hindsight.  Target (issue
#12): ``adaptive()`` within 2.0x of that on every workload.  The last column,
``adaptive()`` with ``background=True``, is for information: its compiles run
in the compile process while the calls are served (docs/guide/background.md, "Where the compile
runs").

Run: ``make bench`` (or ``python benchmarks/policies.py [rounds]``).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

from harness import in_fresh_process, save

HERE = Path(__file__).resolve().parent
ROUNDS = 3
TARGET = 2.0
STRATEGIES = {
    "always JIT": "always(Action.JIT)",
    "always interpreter": "always(Action.INTERPRETER)",
    "min_size(100_001)": "min_size(100_001)",
    "after_calls(50)": "after_calls(50)",
    "adaptive()": "adaptive()",
    "adaptive(), background": "adaptive()",
}
BACKGROUND = {"adaptive(), background"}

# The kernels every workload may use (benchmarks/kernels.py); {policy} and
# {background} are filled in per strategy.  slow_kernel takes about 1.4 s to
# compile (np.sort, np.std), vector_kernel is NumPy calls only, cannot_compile
# fails to compile.
PRELUDE = """
import time
t0 = time.perf_counter()
import sys
sys.path.insert(0, {here!r})
import kernels
import numpy as np
from smart_jit import Action, jit
from smart_jit.policies import adaptive, after_calls, always, min_size

def smart(**options):
    return jit(use_jit={policy}, background={background},
               on_compile_error=Action.INTERPRETER, **options)

sum_fast = smart(fastmath=True)(kernels.sum_fast)
slow_kernel = smart()(kernels.slow_kernel)
vector_kernel = smart()(kernels.array_methods)
cannot_compile = smart()(kernels.cannot_compile)
collatz = smart()(kernels.collatz)

def arange(n, dtype=np.float64):
    return np.arange(1, n + 1).astype(dtype)
"""

WORKLOADS = {
    "seed sum_fast: 10,000 x 1e3 + 10 x 1e6": """
small, big = arange(1_000), arange(1_000_000)
for _ in range(10_000): sum_fast(small)
for _ in range(10): sum_fast(big)
""",
    "few small calls: 50 x 1e3": """
small = arange(1_000)
for _ in range(50): sum_fast(small)
""",
    "many big calls: 300 x 1e5": """
big = arange(100_000)
for _ in range(300): sum_fast(big)
""",
    "dtype mix: 6 dtypes x 300 x 1e3": """
arrays = [arange(1_000, t) for t in ("f8", "f4", "i8", "i4", "i2", "u1")]
for _ in range(300):
    for a in arrays: sum_fast(a)
""",
    "layouts: 6 dtypes x 2 layouts x 20 x 1e3": """
arrays = [arange(2_000, t) for t in ("f8", "f4", "i8", "i4", "i2", "u1")]
arrays = [a[:1_000] for a in arrays] + [a[::2] for a in arrays]
for _ in range(20):
    for a in arrays: sum_fast(a)
""",
    "failing compile: 3,000 x 1e3": """
small = arange(1_000)
for _ in range(3_000): cannot_compile(small)
""",
    "huge first call: 1 x 3e6 + 100 x 1e3": """
sum_fast(arange(3_000_000))
small = arange(1_000)
for _ in range(100): sum_fast(small)
""",
    "slow compile, small calls: 1,500 x 1e3": """
small = arange(1_000)
for _ in range(1_500): slow_kernel(small)
""",
    "slow compile, big calls: 600 x 1e4": """
big = arange(10_000)
for _ in range(600): slow_kernel(big)
""",
    "scalar loop: 20,000 calls": """
for n in range(1, 20_001): collatz(n)
""",
    "NumPy calls only: 1,000 x 1e5": """
big = arange(100_000)
for _ in range(1_000): vector_kernel(big)
""",
}
SCALAR_ONLY = {"scalar loop: 20,000 calls"}  # min_size cannot size an int

EPILOGUE = """
import json
print(json.dumps({"total": time.perf_counter() - t0}))
"""


def run(workload: str, strategy: str) -> float | None:
    if strategy == "min_size(100_001)" and workload in SCALAR_ONLY:
        return None
    prelude = PRELUDE.format(
        here=str(HERE), policy=STRATEGIES[strategy], background=strategy in BACKGROUND
    )
    code = prelude + WORKLOADS[workload] + EPILOGUE
    return float(in_fresh_process(code, env={"PYTHONWARNINGS": "ignore"})["total"])


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    print(f"{len(WORKLOADS)} workloads x {len(STRATEGIES)} strategies, fresh processes,")
    print(f"medians of {rounds} interleaved rounds; os.getloadavg() at start: {os.getloadavg()}")
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for workload in WORKLOADS:
            for strategy in STRATEGIES:
                seconds = run(workload, strategy)
                if seconds is not None:
                    times.setdefault((workload, strategy), []).append(seconds)
    names = list(STRATEGIES)
    print("\nmedian total seconds (ratio to the better of always JIT / always interpreter)\n")
    print("| workload | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    worst: dict[str, float] = {}
    for workload in WORKLOADS:
        median = {s: statistics.median(t) for (w, s), t in times.items() if w == workload}
        best = min(median["always JIT"], median["always interpreter"])
        cells = []
        for strategy in names:
            if strategy not in median:
                cells.append("n/a")
                continue
            ratio = median[strategy] / best
            worst[strategy] = max(worst.get(strategy, 0.0), ratio)
            cells.append(f"{median[strategy]:.2f} ({ratio:.2f}x)")
        print(f"| {workload} | " + " | ".join(cells) + " |")
    print("| **worst ratio** | " + " | ".join(f"**{worst[s]:.2f}x**" for s in names) + " |")
    save(
        "policies",
        seconds={f"{w} | {s}": t for (w, s), t in times.items()},
        worst_ratio=worst,
        target=TARGET,
    )
    met = worst["adaptive()"] <= TARGET
    print(
        f"\nadaptive() worst ratio {worst['adaptive()']:.2f}x (target <= {TARGET}x): "
        f"{'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
