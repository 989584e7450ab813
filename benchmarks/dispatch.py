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
from functools import partial

# The on-disk cache figure needs a cache directory of its own.
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="smartjit-bench-"))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from harness import Table, describe_machine, interleaved, paired, save, verdict  # noqa: E402
from numba.core import event  # noqa: E402
from numba.core.typing.typeof import Purpose, typeof  # noqa: E402
from numba.typed import List  # noqa: E402

from smart_jit import Action, jit  # noqa: E402


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


class Opaque:
    """A class Numba cannot type."""


def ident(a):
    return a


def make_closure(offset):
    @jit(use_jit=interpret_always, cache=True)
    def shifted(a):
        return a + offset

    return shifted


def interpreted_extra(value, number, fresh=None):
    """Seconds an interpreted call of ``ident(value)`` costs over the policy
    plus the Python function; *fresh* builds a new value per call instead."""
    f = jit(ident, use_jit=interpret_always)
    f(value)
    if fresh is None:
        base, ours = paired(
            lambda: (interpret_always(value), ident(value)), lambda: f(value), number
        )
    else:

        def plain():
            v = fresh()
            return interpret_always(v), ident(v)

        base, ours = paired(plain, lambda: f(fresh()), number)
    return base, ours


def numba_typing_cost(value, number):
    """Numba's own cost of typing *value* as an argument (what the C
    dispatcher pays on every call for a value it cannot fingerprint)."""
    cost, _ = paired(lambda: typeof(value, Purpose.argument), lambda: None, number)
    return cost


def argument_rows(table):
    """Interpreted calls with the values this library exists for."""
    by_class = {
        "str": "hello",
        "bytes": b"hello",
        "class instance": Opaque(),
        "dict": {"k": 1},
    }
    for name, value in by_class.items():
        base, ours = interpreted_extra(value, 50_000)
        table.extra(f"interpreted, {name}", ours, base, "py+policy", 1.0)
    source = ["a", 1]
    by_value = {
        "set {1, 2}": ({1, 2}, None),
        "tuple ('a', 1), same object": (("a", 1), None),
        "tuple ('a', 1), new each call": (("a", 1), lambda: tuple(source)),
        "unicode array": (np.array(["ab", "c"]), None),
        "record": (np.zeros(1, dtype=[("x", "f8"), ("y", "i4")])[0], None),
        "typed List": (List([1, 2]), None),
    }
    for name, (value, fresh) in by_value.items():
        base, ours = interpreted_extra(value, 20_000, fresh)
        numba_cost = numba_typing_cost(value, 20_000)
        note = f"; Numba types it in {numba_cost * 1e6:.2f} us (the limit: + 1 us)"
        table.extra(f"interpreted, {name}", ours, base, "py+policy", numba_cost * 1e6 + 1.0, note)
    closure = make_closure(2)
    closure(3)
    base, ours = paired(lambda: (interpret_always(3), ident(3) + 2), lambda: closure(3), 20_000)
    table.extra("interpreted closure, cache=True", ours, base, "py+policy", 5.0)
    plain, smart = numba.njit(ident), jit(ident, use_jit=jit_always)
    plain("hello"), smart("hello")
    t_plain, t_smart = paired(lambda: plain("hello"), lambda: smart("hello"), 100_000)
    table.ratio("matched call, str", t_smart, t_plain, "njit", 1.0)
    failing = jit(uncompilable, use_jit=jit_always, on_compile_error=Action.INTERPRETER)
    failing("s")
    base, ours = paired(lambda: (jit_always("s"), uncompilable("s")), lambda: failing("s"), 50_000)
    table.extra("repeat of a failed compile, str", ours, base, "py+policy", 2.0)


def import_cost():
    """Median wall seconds of a fresh ``import numba`` and ``import smart_jit``.

    Both with bytecode cached, as after an install from a wheel (pip compiles
    it then): this machine sets PYTHONDONTWRITEBYTECODE, under which an
    editable install compiles our sources on every import (about 10 ms) while
    Numba's installed bytecode is used.  A private cache prefix keeps the
    bytecode out of the source tree.
    """

    def once(module, env):
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        return float(out.stdout)

    with tempfile.TemporaryDirectory() as prefix:
        env = dict(os.environ, PYTHONPYCACHEPREFIX=prefix)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        once("numba", env)  # write the bytecode of both first
        once("smart_jit", env)
        runs = {name: partial(once, name, env) for name in ("numba", "smart_jit")}
        figures = interleaved(runs)
    return statistics.median(figures["numba"]), statistics.median(figures["smart_jit"])


def main():
    table = Table(["figure", "smart_jit", "limit", "difference", "target"])
    x, y = 3, 4
    arr = np.arange(10.0)

    plain = numba.njit(add)
    smart = jit(add, use_jit=jit_always)
    plain(x, y)
    smart(x, y)
    t_plain, t_smart = paired(lambda: plain(x, y), lambda: smart(x, y), 200_000)
    table.ratio("matched call", t_smart, t_plain, "njit", 1.05)

    interp = jit(add, use_jit=interpret_always)
    base, ours = paired(lambda: (interpret_always(x, y), add(x, y)), lambda: interp(x, y), 100_000)
    table.extra("interpreted, 2 scalars", ours, base, "py+policy", 0.75)

    from smart_jit.policies import adaptive

    learning = jit(add, use_jit=adaptive(compile_cost=1e9))  # never switches
    learning(x, y)
    base, ours = paired(lambda: interp(x, y), lambda: learning(x, y), 100_000)
    table.extra("interpreted, adaptive(), timed", ours, base, "always(INTERPRETER)", 1.5)

    interp_arr = jit(total, use_jit=interpret_always)
    base, ours = paired(
        lambda: (interpret_always(arr), total(arr)), lambda: interp_arr(arr), 50_000
    )
    table.extra("interpreted, 1 array", ours, base, "py+policy", 1.0)

    add_cached(x, y)
    base, ours = paired(
        lambda: (interpret_always(x, y), add(x, y)), lambda: add_cached(x, y), 50_000
    )
    table.extra("interpreted, cache=True", ours, base, "py+policy", 2.5)

    failing = jit(uncompilable, use_jit=jit_always, on_compile_error=Action.INTERPRETER)
    failing(x)
    base, ours = paired(lambda: (jit_always(x), uncompilable(x)), lambda: failing(x), 50_000)
    table.extra("repeat of a failed compile", ours, base, "py+policy", 2.0)

    argument_rows(table)

    with event.install_listener("jit_execution", _Quiet()):
        smart(x, y)
        t_plain, t_smart = paired(lambda: plain(x, y), lambda: smart(x, y), 50_000)
    table.extra("matched, jit_execution listener", t_smart, t_plain, "njit", 3.0)

    t_numba, t_smart = import_cost()
    over = (t_smart / t_numba - 1) * 100
    table.add(
        "import smart_jit",
        f"{t_smart * 1e3:.0f} ms",
        f"numba {t_numba * 1e3:.0f} ms",
        f"{over:+.1f} %",
        "<= +5 %",
        ok=over <= 5.0,
        ours=t_smart,
        base=t_numba,
    )

    print(f"smart_jit dispatch benchmark: {describe_machine()}\n")
    table.print()
    save("dispatch", {"dispatch": table})
    return verdict(table.missed())


if __name__ == "__main__":
    sys.exit(main())
