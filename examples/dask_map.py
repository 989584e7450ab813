"""A smart-jitted function mapped over Dask partitions in worker processes.

Small partitions run in the interpreter, big ones compiled, in each worker;
the policy travels with the function.  Run: .venv/bin/python examples/dask_map.py
"""

import numpy as np
from dask.distributed import Client, LocalCluster

from smart_jit import jit
from smart_jit.policies import min_size


@jit(use_jit=min_size(10_000))
def sum_of_squares(a):
    acc = 0.0
    for x in a:
        acc += x * x
    return acc


def run_partition(a):
    result = sum_of_squares(a)
    compiled = bool(sum_of_squares.signatures)
    return len(a), result, "compiled" if compiled else "interpreted"


def main():
    partitions = [np.arange(float(n)) for n in (100, 50_000, 2_000, 200_000)]
    with LocalCluster(n_workers=2, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            results = client.gather(client.map(run_partition, partitions))
    for (size, result, how), part in zip(results, partitions, strict=True):
        assert result == float(np.dot(part, part))
        print(f"{size:>8,} elements: {result:.6g} ({how} in its worker)")


if __name__ == "__main__":
    main()
