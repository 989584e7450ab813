"""A pytest plugin that puts ``smart_jit.jit``/``njit`` where Numba's own tests
look for ``numba.jit``/``njit``.

Loaded with ``-p smart_jit_dropin`` by ``run.py``.  ``pytest_configure`` runs
before any test module is collected, so a test module's ``from numba import
jit`` (or ``numba.core.decorators.jit``) finds smart_jit's decorator.  No
``use_jit`` is given: the promise under test is that smart_jit then behaves
exactly like Numba.
"""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    import numba
    import numba.core.decorators as decorators

    import smart_jit

    for module in (numba, decorators):
        module.jit = smart_jit.jit
        module.njit = smart_jit.njit


def pytest_report_header(config: Any) -> str:
    import numba

    return f"smart_jit in place of numba.jit and numba.njit (Numba {numba.__version__})"
