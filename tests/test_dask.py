"""Smart-jitted functions in Dask workers (separate processes)."""

from __future__ import annotations

import distributed  # noqa: E402
import kernels  # noqa: E402
import numpy as np
import pytest

pytestmark = pytest.mark.slow  # starts clusters


def test_local_cluster_workers_take_both_paths():
    partitions = [np.arange(float(n)) for n in (5, 50, 500, 5000, 7, 70)]
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        futures = client.map(kernels.run_total_in_worker, partitions, pure=False)
        results = client.gather(futures)
    for part, (result, _sigs, _interp) in zip(partitions, results, strict=False):
        assert result == sum(float(x) for x in part)
    assert any(interp > 0 for _, _, interp in results), "some partitions interpreted"
    assert any(("array(float64, 1d, C)",) in sigs for _, sigs, _ in results), "some compiled"


def test_closure_through_dask_keeps_its_policy():
    from smart_jit import Action, jit

    offset = 7

    @jit(use_jit=lambda a: Action.JIT if a > 100 else Action.INTERPRETER)
    def shifted(a):
        return a + offset

    def run(a):
        return shifted(a), len(shifted.signatures)

    with (
        distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        small = client.submit(run, 1).result()
        big = client.submit(run, 1000).result()
    assert small == (8, 0)
    assert big == (1007, 1)
