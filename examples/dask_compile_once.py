"""Compile once per cluster: code compiled in the client runs in every Dask
worker without a compile there.

The same kernel is mapped over a LocalCluster twice: once with
SMART_JIT_PICKLE_CODE=0 (what Numba does: every worker compiles it again),
once as smart_jit pickles by default (the compiled code travels with the
function).  Prints the compile CPU each worker spent.
Run: .venv/bin/python examples/dask_compile_once.py
"""

import os
import time

import numpy as np
from dask.distributed import Client, LocalCluster, get_worker
from numba.core import event

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


class CompileCPU(event.Listener):
    """CPU seconds this process spends in Numba compiles (outermost only)."""

    def __init__(self):
        self.depth, self.started, self.seconds = 0, 0.0, 0.0

    def on_start(self, event):
        if self.depth == 0:
            self.started = time.process_time()
        self.depth += 1

    def on_end(self, event):
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.process_time() - self.started


def call_timing_compiles(f, a):
    """In a worker: call *f*; the result, the worker, and its compile CPU."""
    timer = CompileCPU()
    with event.install_listener("numba:compile", timer):
        result = f(a)
    return result, get_worker().address, timer.seconds


def main():
    a = np.arange(1000.0)
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        for label, switch in (("without the code (as Numba)", "0"), ("with the code", "1")):
            os.environ["SMART_JIT_PICKLE_CODE"] = switch
            f = jit(use_jit=lambda a: Action.JIT)(kernel)  # a new function each time
            expected = f(a)  # compiled here, in the client
            tasks = client.map(call_timing_compiles, [f] * 8, [a] * 8, pure=False)
            results = client.gather(tasks)
            assert all(result == expected for result, _, _ in results)
            per_worker = {}
            for _, worker, seconds in results:
                per_worker[worker] = per_worker.get(worker, 0.0) + seconds
            spent = ", ".join(f"{s:.2f} s" for s in per_worker.values())
            print(
                f"pickled {label}: compile CPU in the workers {sum(per_worker.values()):.2f} s "
                f"({spent})"
            )


if __name__ == "__main__":
    main()
