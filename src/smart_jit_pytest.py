"""The pytest plugin of numba-smartjit: ``pytest --smart-jit=STANCE``.

Registered through the ``pytest11`` entry point, so pytest loads it in every
environment where numba-smartjit is installed; it imports nothing of the
package (nor Numba) unless the option is given.  With it, ``install`` runs
before the first conftest or test module is imported, so every function
those decorate with ``numba.jit`` is smart-jitted, under STANCE.
"""

from __future__ import annotations

from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("smart_jit", "numba-smartjit")
    group.addoption(
        "--smart-jit",
        metavar="STANCE",
        default=None,
        help="make numba.jit smart_jit's for the whole run, under STANCE "
        "(default, adaptive, background, interpret, fail_on_compile)",
    )


def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> None:
    stance = getattr(early_config.known_args_namespace, "smart_jit", None)
    if stance is None:
        return
    import pytest

    from smart_jit.install import install
    from smart_jit.stances import STANCES

    if stance not in STANCES:
        raise pytest.UsageError(
            f"--smart-jit: unknown stance {stance!r}: the stances are {', '.join(STANCES)}"
        )
    install(stance)


def pytest_report_header(config: Any) -> str | None:
    stance = config.getoption("smart_jit", None)
    return None if stance is None else f"smart_jit: numba.jit installed, stance {stance}"
