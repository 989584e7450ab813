"""The seed's example: small arrays run in the interpreter, big ones compiled.

Each call prints which way it ran, from smart_jit's execution events.  Then
the same function with ``policies.adaptive()``, which needs no threshold: it
interprets a signature until that has cost what compiling it would, and
compiles at once a call predicted to cost more than the compile by itself.
"""

import warnings

import numpy as np
from numba.core import event

from smart_jit import Action, NumbaInterpreterModeWarning, jit, report
from smart_jit.policies import adaptive


def use_jit_sum_fast(A):
    # use jit compilation when length of A is greater than 100_000
    if len(A) > 100_000:
        return Action.JIT
    return Action.INTERPRETER


@jit(fastmath=True, use_jit=use_jit_sum_fast, warn_on_fallback=True)
def sum_fast(A):
    acc = 0.0
    # with fastmath, the reduction can be vectorized as floating point
    # reassociation is permitted.
    for x in A:
        acc += np.sqrt(x)
    return acc


class ShowExecution(event.Listener):
    def on_start(self, event):
        pass

    def on_end(self, event):
        self.last = event.kind


def main():
    warnings.simplefilter("always", NumbaInterpreterModeWarning)
    A_small = np.arange(1_000, dtype=np.float64)
    A_big = np.arange(1_000_000, dtype=np.float64)
    shown = ShowExecution()
    calls = [("A_small", A_small), ("A_big", A_big), ("A_small", A_small)]
    with event.install_listener("jit_execution", shown):
        with event.install_listener("interpreter_execution", shown):
            for name, A in calls:
                with warnings.catch_warnings(record=True) as caught:
                    result = sum_fast(A)
                how = "interpreted" if shown.last == "interpreter_execution" else "JIT-compiled"
                print(f"sum_fast({name}) = {float(result):<20.6f} {how}")
                for w in caught:
                    print(f"    {w.category.__name__}: {w.message}")
    print(f"sum_fast.signatures = {[tuple(map(str, s)) for s in sum_fast.signatures]}")
    print("The second A_small call ran compiled: an overload for its type existed by then.")
    show_adaptive(A_small)


def show_adaptive(A_small):
    """The seed's kernel under adaptive(): no size to guess."""
    tuned = jit(fastmath=True, use_jit=adaptive())(sum_fast.py_func)
    for _ in range(2_000):  # float64: interpreted until that cost a compile
        tuned(A_small)
    tuned(np.arange(3_000_000, dtype=np.float32))  # one huge call: compiled at once
    print("\nThe same kernel with use_jit=adaptive(), 2,000 calls on A_small, then one")
    print("call on 3,000,000 float32 elements:")
    print(report(tuned))


if __name__ == "__main__":
    main()
