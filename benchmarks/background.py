"""Background compilation: first-call latency, throughput during a compile,
time until compiled code serves, and a 'service' loop's latency percentiles.

Every figure is measured in a fresh process (Numba's own caches would
otherwise make a second compile of the same code cheaper).  Exits non-zero
when a target is missed.  Run: ``make bench``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

REPEATS = 5

KERNEL = """
import time
import numpy as np
import numba
from smart_jit import Action, jit

def kernel(a):
    acc = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        if x > 0:
            acc += np.sqrt(x) * np.sin(x)
        else:
            acc -= np.cos(x)
    srt = np.sort(a)
    return acc + np.mean(a) + np.std(a) + srt[len(srt) // 2]

a = np.arange(1000.0)
numba.typeof(a)  # Numba's first typeof of an array imports numpy.ma: a one-off, not ours
"""

FIRST_CALL = (
    KERNEL
    + """
import json, sys
mode = sys.argv[1]
if mode == "plain compile":
    f = numba.njit(kernel)
    t = time.perf_counter(); f(a); first = time.perf_counter() - t
    print(json.dumps({"first": first}))
    raise SystemExit
if mode == "interpreter":
    kernel(a)  # warm numpy
    t = time.perf_counter(); kernel(a); first = time.perf_counter() - t
    print(json.dumps({"first": first}))
    raise SystemExit
action = Action.JIT if mode == "JIT" else Action.BACKGROUND_JIT
f = jit(use_jit=lambda a: action)(kernel)
kernel(a)  # warm numpy, so both sides compare the same interpreted work
t0 = time.perf_counter(); f(a); first = time.perf_counter() - t0
calls = 1
while not f.signatures:
    f(a)
    calls += 1
until_compiled = time.perf_counter() - t0
print(json.dumps({"first": first, "until_compiled": until_compiled, "calls": calls}))
"""
)

THROUGHPUT = (
    KERNEL
    + """
import json, threading
f = jit(use_jit=lambda a: Action.INTERPRETER)(kernel)
def rate(seconds):
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        f(a); n += 1
    return n / seconds
idle = rate(0.3)
g = jit(use_jit=lambda a: Action.BACKGROUND_JIT)(kernel)
g(np.arange(5))  # queue a compile of other types
t = time.perf_counter(); n = 0
while not g.signatures:
    f(a); n += 1
busy = n / (time.perf_counter() - t)
print(json.dumps({"idle": idle, "busy": busy}))
"""
)

SERVICE = (
    KERNEL
    + """
import json, sys
mode = sys.argv[1]
dtypes = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]
arrays = [np.arange(1000).astype(d) for d in dtypes]
if mode == "numba.jit":
    f = numba.jit(kernel)
else:
    action = Action.JIT if mode == "Action.JIT" else Action.BACKGROUND_JIT
    f = jit(use_jit=lambda a: action)(kernel)
latencies = []
for i in range(5000):
    x = arrays[i // 500]
    t = time.perf_counter(); f(x); latencies.append(time.perf_counter() - t)
latencies.sort()
total = sum(latencies)
print(json.dumps({"p50": latencies[2500], "p99": latencies[4950], "max": latencies[-1],
                  "total": total}))
"""
)


def run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def median_of(code: str, *args: str, key: str) -> float:
    return statistics.median(run(code, *args)[key] for _ in range(REPEATS))


def main() -> int:
    rows = []
    compile_plain = median_of(FIRST_CALL, "plain compile", key="first")
    interp = median_of(FIRST_CALL, "interpreter", key="first")
    jit_runs = [run(FIRST_CALL, "JIT") for _ in range(REPEATS)]
    bg_runs = [run(FIRST_CALL, "BACKGROUND_JIT") for _ in range(REPEATS)]
    first_jit = statistics.median(r["first"] for r in jit_runs)
    first_bg = statistics.median(r["first"] for r in bg_runs)
    until = statistics.median(r["until_compiled"] for r in bg_runs)
    calls = statistics.median(r["calls"] for r in bg_runs)

    print(
        f"kernel: plain numba.njit first call (compile + run) {compile_plain * 1e3:.0f} ms; "
        f"interpreted call {interp * 1e3:.2f} ms; medians of {REPEATS} fresh processes\n"
    )
    ok_first = first_bg <= 2 * interp
    rows.append(("first call, Action.JIT", f"{first_jit * 1e3:.1f} ms", "", ""))
    rows.append(
        (
            "first call, BACKGROUND_JIT",
            f"{first_bg * 1e3:.2f} ms (+{(first_bg - interp) * 1e6:.0f} us)",
            f"<= 2x interpreter ({2 * interp * 1e3:.2f} ms)",
            "ok" if ok_first else "MISSED",
        )
    )
    ok_until = until <= 1.5 * compile_plain
    rows.append(
        (
            "first call until compiled code serves",
            f"{until * 1e3:.0f} ms ({calls:.0f} interpreted calls meanwhile)",
            f"<= 1.5x plain compile ({1.5 * compile_plain * 1e3:.0f} ms)",
            "ok" if ok_until else "MISSED",
        )
    )
    tp = [run(THROUGHPUT) for _ in range(REPEATS)]
    share = statistics.median(r["busy"] / r["idle"] for r in tp)
    rows.append(
        (
            "interpreted throughput during a background compile",
            f"{share * 100:.0f} % of idle",
            "reported (GIL shared)",
            "",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(
            "| " + " | ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + f" | {r[3]}"
        )

    print("\nservice loop: 5,000 calls, argument dtype changes every 500 calls (10 dtypes)")
    print(f"| {'dispatch':<15} | {'p50':>9} | {'p99':>9} | {'max':>9} | {'sum':>8} |")
    for mode in ("numba.jit", "Action.JIT", "BACKGROUND_JIT"):
        results = [run(SERVICE, mode) for _ in range(3)]
        m = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"| {mode:<15} | {m['p50'] * 1e6:6.1f} us | {m['p99'] * 1e6:6.0f} us | "
            f"{m['max'] * 1e3:6.1f} ms | {m['total']:6.2f} s |"
        )
    return 0 if ok_first and ok_until else 1


if __name__ == "__main__":
    sys.exit(main())
