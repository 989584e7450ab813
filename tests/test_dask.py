"""Smart-jitted functions in Dask workers (separate processes)."""

from __future__ import annotations

import distributed  # noqa: E402
import kernels  # noqa: E402
import numba
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


# -- stances in the workers ------------------------------------------------------

BIG = 2**40  # its square wraps in int64: compiled and interpreted answers differ


@pytest.fixture(scope="module")
def one_worker():
    with (
        distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
        client.run(kernels.set_stance_here, "default")


def test_a_stance_switched_in_the_workers_applies_there_only(one_worker):
    from smart_jit.stances import current_name

    assert set(one_worker.run(kernels.set_stance_here, "interpret").values()) == {"interpret"}
    assert current_name() == "default", "the client's process keeps its stance"
    assert one_worker.submit(kernels.square_here, BIG, pure=False).result() == (BIG * BIG, 0)
    one_worker.run(kernels.set_stance_here, "default")
    wrapped = numba.njit(kernels.square.py_func)(BIG)
    assert one_worker.submit(kernels.square_here, BIG, pure=False).result() == (wrapped, 1)


def test_fail_on_compile_in_a_worker_runs_code_that_travelled_and_refuses_a_compile(one_worker):
    from smart_jit import CompileForbidden, jit

    @jit
    def cube(a):
        return a * a * a

    assert cube(BIG) == numba.njit(cube.py_func)(BIG)  # compiled here: travels with cube

    def run(a):
        return cube(a), len(cube.signatures)

    one_worker.run(kernels.set_stance_here, "fail_on_compile")
    try:
        assert one_worker.submit(run, BIG, pure=False).result() == (cube(BIG), 1)
        with pytest.raises(CompileForbidden, match=r"cube would compile for \(\(float64\)\)"):
            one_worker.submit(run, 2.5, pure=False).result()
    finally:
        one_worker.run(kernels.set_stance_here, "default")
    assert one_worker.submit(run, 2.5, pure=False).result() == (15.625, 2)
