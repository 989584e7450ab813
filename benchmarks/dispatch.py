"""Dispatch cost of smart_jit against its physical limits, side by side in one run.

Each figure is the median of REPEATS timeit repeats; every pair is measured
interleaved in the same process so machine noise hits both sides alike.
Exits non-zero when a target is missed.  Run: ``make bench``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import timeit

# The on-disk cache figure needs a cache directory of its own.
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="smartjit-bench-"))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba.core import event  # noqa: E402

from smart_jit import Action, jit  # noqa: E402

REPEATS = 7


def paired(a, b, number):
    """Medians for *a* and *b*, repeats interleaved."""
    ta, tb = [], []
    for _ in range(REPEATS):
        ta.append(timeit.timeit(a, number=number) / number)
        tb.append(timeit.timeit(b, number=number) / number)
    return statistics.median(ta), statistics.median(tb)


def add(a, b):
    return a + b


def total(a):
    return a.sum()


def interpret_always(*args):
    return Action.INTERPRETER


def jit_always(*args):
    return Action.JIT


class _Quiet(event.Listener):
    def on_start(self, event):
        pass

    def on_end(self, event):
        pass


def uncompilable(a):
    return {"a": object(), "b": a}["b"]


@jit(use_jit=interpret_always, cache=True)
def add_cached(a, b):
    return a + b


def import_cost():
    """Median wall seconds of a fresh ``import numba`` and ``import smart_jit``."""

    def once(module):
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    numba_t, smart_t = [], []
    for _ in range(REPEATS):
        numba_t.append(once("numba"))
        smart_t.append(once("smart_jit"))
    return statistics.median(numba_t), statistics.median(smart_t)


def main():
    rows = []  # (figure, ours, limit, shown, target, ok)
    x, y = 3, 4
    arr = np.arange(10.0)

    plain = numba.njit(add)
    smart = jit(add, use_jit=jit_always)
    plain(x, y)
    smart(x, y)
    t_plain, t_smart = paired(lambda: plain(x, y), lambda: smart(x, y), 200_000)
    ratio = t_smart / t_plain
    rows.append(
        (
            "matched call",
            f"{t_smart * 1e9:.0f} ns",
            f"njit {t_plain * 1e9:.0f} ns",
            f"{ratio:.3f}x",
            "<= 1.05x",
            ratio <= 1.05,
        )
    )

    interp = jit(add, use_jit=interpret_always)
    base, ours = paired(lambda: (interpret_always(x, y), add(x, y)), lambda: interp(x, y), 100_000)
    extra = (ours - base) * 1e6
    rows.append(
        (
            "interpreted, 2 scalars",
            f"{ours * 1e6:.2f} us",
            f"py+policy {base * 1e6:.2f} us",
            f"+{extra:.2f} us",
            "<= +0.75 us",
            extra <= 0.75,
        )
    )

    interp_arr = jit(total, use_jit=interpret_always)
    base, ours = paired(
        lambda: (interpret_always(arr), total(arr)), lambda: interp_arr(arr), 50_000
    )
    extra = (ours - base) * 1e6
    rows.append(
        (
            "interpreted, 1 array",
            f"{ours * 1e6:.2f} us",
            f"py+policy {base * 1e6:.2f} us",
            f"+{extra:.2f} us",
            "<= +1 us",
            extra <= 1.0,
        )
    )

    add_cached(x, y)
    base, ours = paired(
        lambda: (interpret_always(x, y), add(x, y)), lambda: add_cached(x, y), 50_000
    )
    extra = (ours - base) * 1e6
    rows.append(
        (
            "interpreted, cache=True",
            f"{ours * 1e6:.2f} us",
            f"py+policy {base * 1e6:.2f} us",
            f"+{extra:.2f} us",
            "<= +2.5 us",
            extra <= 2.5,
        )
    )

    failing = jit(uncompilable, use_jit=jit_always, on_compile_error=Action.INTERPRETER)
    failing(x)
    base, ours = paired(lambda: (jit_always(x), uncompilable(x)), lambda: failing(x), 50_000)
    extra = (ours - base) * 1e6
    rows.append(
        (
            "repeat of a failed compile",
            f"{ours * 1e6:.2f} us",
            f"py+policy {base * 1e6:.2f} us",
            f"+{extra:.2f} us",
            "<= +2 us",
            extra <= 2.0,
        )
    )

    with event.install_listener("jit_execution", _Quiet()):
        smart(x, y)
        t_plain, t_smart = paired(lambda: plain(x, y), lambda: smart(x, y), 50_000)
    extra = (t_smart - t_plain) * 1e6
    rows.append(
        (
            "matched, jit_execution listener",
            f"{t_smart * 1e6:.2f} us",
            f"njit {t_plain * 1e6:.2f} us",
            f"+{extra:.2f} us",
            "<= +3 us",
            extra <= 3.0,
        )
    )

    t_numba, t_smart = import_cost()
    over = (t_smart / t_numba - 1) * 100
    rows.append(
        (
            "import smart_jit",
            f"{t_smart * 1e3:.0f} ms",
            f"numba {t_numba * 1e3:.0f} ms",
            f"{over:+.1f} %",
            "<= +5 %",
            over <= 5.0,
        )
    )

    print(
        f"smart_jit dispatch benchmark: numba {numba.__version__}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores; medians of {REPEATS} repeats\n"
    )
    header = ("figure", "smart_jit", "limit", "difference", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:5], widths, strict=False)]
        mark = "" if row is header else ("ok" if row[5] else "MISSED")
        print("| " + " | ".join(cells) + f" | {mark}")
    missed = [r[0] for r in rows if not r[5]]
    if missed:
        print(f"\nmissed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
